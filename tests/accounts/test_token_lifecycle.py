"""API tokens end: a password change and an account deletion revoke them, they expire, and the
account page lists each (created, expires, last used) with a revoke button."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from unionevents.accounts import services
from unionevents.accounts.models import ApiToken
from unionevents.core import db as core_db
from unionevents.core.timeutil import now
from unionevents.extensions import db

from ..factories import PASSWORD


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(app):
    """A client without cookies: the API knows only the bearer token."""
    return app.test_client()


def api_token(api, mobile: str, password: str = PASSWORD) -> str:
    response = api.post("/api/v1/tokens", json={"mobile": mobile, "password": password})
    assert response.status_code == 201, response.json
    return response.json["token"]


def the_token(user) -> ApiToken:
    db.session.expire_all()
    return db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))


def test_a_password_change_revokes_the_users_tokens(client, api, worker, make, login):
    raw = api_token(api, worker.mobile)
    other = api_token(api, make.user("别人", mobile="13700000001").mobile)
    assert api.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    login(worker)
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "newpass456",
                                                      "new_password_again": "newpass456"})
    assert response.status_code == 302
    refused = api.get("/api/v1/me", headers=bearer(raw))
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert api.get("/api/v1/me", headers=bearer(other)).status_code == 200  # nobody else's
    assert api_token(api, worker.mobile, "newpass456")  # the new password gets a new token


def test_a_wrong_current_password_revokes_nothing(client, api, worker, login):
    raw = api_token(api, worker.mobile)
    login(worker)
    response = client.post("/account/password", data={"current_password": "wrong-pass1",
                                                      "new_password": "newpass456", "new_password_again": "newpass456"})
    assert response.status_code == 422 and "当前密码不正确" in response.get_data(as_text=True)
    assert api.get("/api/v1/me", headers=bearer(raw)).status_code == 200


def test_deleting_the_account_revokes_its_tokens(client, api, worker, login):
    raw = api_token(api, worker.mobile)
    login(worker)
    response = client.post("/account/delete", data={"password": PASSWORD, "understood": "y"})
    assert response.status_code == 302
    assert api.get("/api/v1/me", headers=bearer(raw)).status_code == 401
    assert db.session.scalar(select(ApiToken)) is None


def test_tokens_expire_after_the_configured_lifetime(app, api, worker, frozen_time):
    start = now()
    frozen_time(start)
    raw = api_token(api, worker.mobile)
    token = the_token(worker)
    assert token.expires_at == start + timedelta(days=90)  # API_TOKEN_LIFETIME_DAYS, default 90
    frozen_time(start + timedelta(days=89, hours=23))
    assert api.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    frozen_time(start + timedelta(days=90, seconds=1))
    expired = api.get("/api/v1/me", headers=bearer(raw))
    assert expired.status_code == 401 and expired.json["code"] == "unauthorized"


def test_the_lifetime_is_configurable(app, api, worker, frozen_time, monkeypatch):
    monkeypatch.setitem(app.config, "API_TOKEN_LIFETIME_DAYS", 7)
    start = now()
    frozen_time(start)
    raw = api_token(api, worker.mobile)
    frozen_time(start + timedelta(days=7, seconds=1))
    assert api.get("/api/v1/me", headers=bearer(raw)).status_code == 401


def test_last_use_is_recorded_at_most_once_an_hour(api, worker, frozen_time):
    start = now().replace(microsecond=0)
    frozen_time(start)
    raw = api_token(api, worker.mobile)
    assert the_token(worker).last_used_at == start  # logging in is a use
    frozen_time(start + timedelta(minutes=50))
    assert api.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    assert the_token(worker).last_used_at == start  # no write on every request
    frozen_time(start + timedelta(hours=3))
    assert api.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    assert the_token(worker).last_used_at == start + timedelta(hours=3)


def test_a_sign_up_stamps_the_token_in_its_own_write_transaction(api, worker, make, frozen_time):
    """The last-use stamp rides along with the sign-up's write: one COMMIT, not a second write
    transaction (on SQLite a second turn at the write lock for every rider in a rush)."""
    from sqlalchemy import event

    activity = make.activity(capacity=5)
    db.session.commit()
    start = now().replace(microsecond=0)
    frozen_time(start)
    raw = api_token(api, worker.mobile)
    frozen_time(start + timedelta(hours=3))
    seen: list[str] = []

    def statement(_conn, _cursor, sql, *_args):
        write = re.match(r'\s*(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)', sql, re.IGNORECASE)
        if write:
            seen.append(f"{write.group(1).split()[0].upper()} {write.group(2)}")

    def committed(_conn):
        seen.append("COMMIT")

    engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", committed)
    try:
        response = api.post(f"/api/v1/activities/{activity.id}/registrations", json={}, headers=bearer(raw))
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", committed)
    assert response.status_code == 201, response.json
    insert = seen.index("INSERT registration")
    stamp = seen.index("UPDATE api_token")
    assert insert < stamp and "COMMIT" not in seen[insert:stamp], seen
    assert seen.count("UPDATE api_token") == 1
    assert the_token(worker).last_used_at == start + timedelta(hours=3)


def test_a_busy_database_does_not_fail_a_request_over_the_last_use_stamp(api, worker, frozen_time,
                                                                           monkeypatch):
    """The stamp is bookkeeping: 'database is locked' while writing it leaves the request answered."""
    from contextlib import contextmanager

    from sqlalchemy.exc import OperationalError

    start = now().replace(microsecond=0)
    frozen_time(start)
    raw = api_token(api, worker.mobile)

    @contextmanager
    def locked():
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        yield  # pragma: no cover

    monkeypatch.setattr(core_db, "write_transaction", locked)
    frozen_time(start + timedelta(hours=3))
    response = api.get("/api/v1/me", headers=bearer(raw))
    assert response.status_code == 200 and response.json["name"] == worker.name
    monkeypatch.undo()
    assert the_token(worker).last_used_at == start  # not stamped this time; the next use tries again


def test_the_account_page_lists_each_token_and_revokes_one(client, api, worker, login, frozen_time):
    start = now().replace(microsecond=0)
    frozen_time(start)
    phone = api_token(api, worker.mobile)
    login(worker)
    client.post("/account/tokens", data={"label": "打卡小程序"})
    page = client.get("/account/profile").get_data(as_text=True)
    assert "打卡小程序" in page and "api" in page
    assert page.count('class="token-row"') == 2
    assert "创建于" in page and "有效期至" in page and "最近使用" in page
    assert "确定要撤销这个令牌吗" in page  # the confirmation says what happens, in Chinese

    token = db.session.scalar(select(ApiToken).where(ApiToken.label == "api"))
    response = client.post(f"/account/tokens/{token.id}/revoke", follow_redirects=True)
    assert response.status_code == 200 and "令牌已撤销" in response.get_data(as_text=True)
    assert api.get("/api/v1/me", headers=bearer(phone)).status_code == 401
    assert client.get("/account/profile").get_data(as_text=True).count('class="token-row"') == 1


def test_expired_tokens_are_not_listed_as_usable(client, api, worker, login, frozen_time):
    start = now()
    frozen_time(start)
    api_token(api, worker.mobile)
    frozen_time(start + timedelta(days=91))
    login(worker)
    page = client.get("/account/profile").get_data(as_text=True)
    assert 'class="token-row"' not in page and "您还没有 API 令牌" in page


def test_revoking_needs_a_post_and_someone_elses_token_is_404(client, worker, make, login):
    other = make.user("别人", mobile="13700000001")
    services.issue_token(other, "x")
    token = db.session.scalar(select(ApiToken))
    login(worker)
    assert client.get(f"/account/tokens/{token.id}/revoke").status_code == 405
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert client.post("/account/tokens/99999999999999999999/revoke").status_code == 404


def test_the_token_list_in_english(english, client, api, worker, login):
    api_token(api, worker.mobile)
    login(worker)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "Created " in page and "Valid until " in page and "Last used " in page
    assert "Revoke this token? Apps using it stop working and must log in again." in page
