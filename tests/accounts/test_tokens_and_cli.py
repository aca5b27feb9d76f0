"""API tokens (profile page, CLI, POST /api/v1/tokens) and the `flask users` commands."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from unionevents.accounts import services
from unionevents.accounts.models import ApiToken, Role, User
from unionevents.core.permissions import has_role
from unionevents.extensions import db


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_is_stored_hashed(raw: str) -> None:
    """The raw token appears nowhere in the token table, only its digest does."""
    rows = db.session.execute(text("SELECT * FROM api_token")).all()
    assert rows
    assert all(raw not in " ".join(str(value) for value in row) for row in rows)


def test_token_from_the_profile_page_works_and_can_be_revoked(client, worker, login):
    login(worker)
    response = client.post("/account/tokens", data={"label": "我的手机"})
    assert response.status_code == 200
    raw = re.search(r'id="token-value">([^<]+)<', response.get_data(as_text=True)).group(1)
    token_is_stored_hashed(raw)

    api = client.application.test_client()  # no cookies: the API knows only the token
    me = api.get("/api/v1/me", headers=bearer(raw))
    assert me.status_code == 200 and me.json["id"] == worker.id and me.json["mobile"] == "139****5678"

    page = client.get("/account/profile").get_data(as_text=True)
    assert "我的手机" in page
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == worker.id))
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    assert api.get("/api/v1/me", headers=bearer(raw)).status_code == 401
    assert "我的手机" not in client.get("/account/profile").get_data(as_text=True)


def test_a_worker_cannot_revoke_someone_elses_token(client, worker, make, login):
    other = make.user("别人")
    raw = services.issue_token(other, "x")
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == other.id))
    login(worker)
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert client.application.test_client().get("/api/v1/me", headers=bearer(raw)).status_code == 200


def test_too_long_token_label_is_refused(client, worker, login):
    login(worker)
    response = client.post("/account/tokens", data={"label": "x" * 61})
    assert response.status_code == 302
    assert db.session.scalar(select(ApiToken)) is None


def test_the_api_ignores_session_cookies(client, worker, login):
    """The API is CSRF-exempt, so a browser's cookies must not authenticate it."""
    login(worker)
    assert client.get("/account/profile").status_code == 200
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "bearer", ""])
def test_bad_authorization_headers_get_401(client, header):
    assert client.get("/api/v1/me", headers={"Authorization": header}).status_code == 401


def test_post_tokens_with_good_credentials(client, worker):
    response = client.post("/api/v1/tokens", json={"mobile": "139-1234-5678", "password": "secret123"})
    assert response.status_code == 201
    raw = response.json["token"]
    token_is_stored_hashed(raw)
    assert client.get("/api/v1/me", headers=bearer(raw)).json["name"] == "王骑手"


def test_post_tokens_answers_the_same_for_unknown_mobile_and_wrong_password(client, worker):
    wrong = client.post("/api/v1/tokens", json={"mobile": worker.mobile, "password": "nope12345"})
    unknown = client.post("/api/v1/tokens", json={"mobile": "13700000000", "password": "nope12345"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert db.session.scalar(select(ApiToken)) is None


@pytest.mark.parametrize("body", [{}, {"mobile": "13912345678"}, {"password": "x"},
                                  {"mobile": 5, "password": []},
                                  {"mobile": "1" * 40, "password": "x"}])
def test_post_tokens_with_bad_input_is_422(client, body):
    response = client.post("/api/v1/tokens", json=body)
    assert response.status_code == 422 and response.json["errors"]


def test_post_tokens_with_a_non_json_body_is_not_a_500(client):
    response = client.post("/api/v1/tokens", data="mobile=1",
                           content_type="application/x-www-form-urlencoded")
    assert 400 <= response.status_code < 500


# ---------------------------------------------------------------- CLI

@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_cli_create_grant_token(cli, client, tree):
    result = cli("users", "create", "--mobile", "13811112222", "--name", "赵组织", "--password", "abc12345",
                 "--union", "丰台区玉泉营街道总工会")
    assert result.exit_code == 0, result.output
    assert "138****2222" in result.output and "13811112222" not in result.output
    user = db.session.scalar(select(User).where(User.mobile == "13811112222"))
    assert user.union.name == "丰台区玉泉营街道总工会"

    result = cli("users", "grant", "13811112222", "organiser", "--node", "丰台区玉泉营街道总工会")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert has_role(user, Role.ORGANISER, node=tree["玉泉营商场工会"])
    assert not has_role(user, Role.ORGANISER, node=tree["朝阳区奥运村街道总工会"])

    result = cli("users", "token", "13811112222")
    assert result.exit_code == 0, result.output
    raw = result.output.strip()
    token_is_stored_hashed(raw)
    assert client.get("/api/v1/me", headers=bearer(raw)).json["roles"] == ["organiser"]


def test_cli_create_without_password_makes_an_inactive_account(cli):
    assert cli("users", "create", "--mobile", "13811113333", "--name", "待激活").exit_code == 0
    user = db.session.scalar(select(User).where(User.mobile == "13811113333"))
    assert user.password_hash is None and not user.is_active


@pytest.mark.parametrize("args, message", [
    (["users", "create", "--mobile", "12811112222", "--name", "x", "--password", "abc12345"], "mobile"),
    (["users", "create", "--mobile", "13811112222", "--name", "x", "--password", "short"], "password"),
    (["users", "create", "--mobile", "13811112222", "--name", "x", "--union", "不存在的工会"], "unknown union"),
    (["users", "grant", "13800000000", "organiser", "--node", "北京市总工会"], "no user"),
    (["users", "grant", "13912345678", "organiser", "--node", "不存在的工会"], "unknown union node"),
    (["users", "grant", "13912345678", "judge"], "activity_id"),
    (["users", "token", "13800000000"], "no user"),
])
def test_cli_refusals_exit_non_zero_and_change_nothing(cli, worker, row_counts, args, message):
    before = row_counts()
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert row_counts() == before


def test_cli_duplicate_mobile(cli, worker):
    result = cli("users", "create", "--mobile", worker.mobile, "--name", "重复", "--password", "abc12345")
    assert result.exit_code == 1
