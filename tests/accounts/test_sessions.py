"""Login, logout, remember-me and the session version; change password; safe `next` redirects."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from unionevents.accounts import services
from unionevents.accounts.models import Role, User
from unionevents.extensions import db


def error_text(response) -> str:
    match = re.search(r'id="password-error"[^>]*>([^<]*)<', response.get_data(as_text=True))
    return match.group(1).strip() if match else ""


def is_logged_in(client) -> bool:
    return client.get("/account/profile").status_code == 200


def test_login_and_logout(client, worker, form_login):
    response = form_login(client, "139 1234 5678")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert is_logged_in(client)
    assert client.post("/account/logout").status_code == 302
    assert not is_logged_in(client)


def test_wrong_password_and_unknown_mobile_get_the_same_answer(client, worker, form_login):
    wrong_password = form_login(client, worker.mobile, "wrong-pass1")
    unknown_mobile = form_login(client, "13700000000", "wrong-pass1")
    assert wrong_password.status_code == unknown_mobile.status_code == 422
    assert error_text(wrong_password) == error_text(unknown_mobile) != ""
    assert not is_logged_in(client)


def test_an_account_without_password_or_deactivated_cannot_log_in(client, make, form_login):
    make.user(mobile="13900000011", password=None)
    inactive = make.user(mobile="13900000012")
    inactive.activated = False
    db.session.commit()
    assert form_login(client, "13900000011", "").status_code == 422
    assert form_login(client, "13900000012").status_code == 422
    assert not is_logged_in(client)


OPEN_REDIRECTS = [
    "//evil.com", "//evil.com/", "///evil.com", "////evil.com", "https://evil.com", "http://evil.com/x",
    "/\\evil.com", "\\\\evil.com", "/\\/evil.com", "javascript:alert(1)", "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "http:evil.com", "https:/evil.com", " //evil.com",
    "\t//evil.com", "/%09/evil.com", "//localhost@evil.com", "https://evil.com@localhost",
    "http://localhost.evil.com/", "evil.com", "%2F%2Fevil.com", "/\r\nLocation: http://evil.com",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_next_never_leads_off_site(client, worker, form_login, target):
    response = form_login(client, worker.mobile, next=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), location
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil" not in parts.netloc


def test_next_to_a_local_page_is_followed(client, worker, form_login):
    response = form_login(client, worker.mobile, next="/account/password?x=1")
    assert response.headers["Location"] == "/account/password?x=1"


def test_login_required_pages_send_anonymous_visitors_to_login_with_next(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/account/password"' in page


def _cookies(client) -> dict[str, str]:
    return {name: client.get_cookie(name).value for name in ("session", "remember_token")
            if client.get_cookie(name) is not None}


def _client_with(app, cookies: dict[str, str]):
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def test_logout_ends_old_session_and_remember_me_cookies(app, client, worker, form_login):
    form_login(client, worker.mobile, remember=True)
    stolen = _cookies(client)
    assert set(stolen) == {"session", "remember_token"}
    assert is_logged_in(_client_with(app, stolen))  # the copies work while logged in
    assert is_logged_in(_client_with(app, {"remember_token": stolen["remember_token"]}))

    client.post("/account/logout")
    assert not is_logged_in(client)
    assert not is_logged_in(_client_with(app, stolen))
    assert not is_logged_in(_client_with(app, {"session": stolen["session"]}))
    assert not is_logged_in(_client_with(app, {"remember_token": stolen["remember_token"]}))


def test_an_organisers_logout_tells_the_browser_to_clear_the_sites_stored_data(
        app, client, make, tree, form_login):
    """The door page keeps names on the phone (localStorage, a service worker): logging out drops them.
    Only the logout answer says so — any other answer would wipe an organiser's offline list mid-shift."""
    organiser = make.user("赵组织", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    login_response = form_login(client, organiser.mobile)
    assert "Clear-Site-Data" not in login_response.headers
    for url in ("/", "/account/profile", "/account/login", "/activities/"):
        assert "Clear-Site-Data" not in client.get(url).headers, url

    response = client.post("/account/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert response.headers["Clear-Site-Data"] == '"storage"'
    assert not is_logged_in(client)
    # Logged out already: the login page answers, nothing is cleared (and nothing was logged out).
    again = client.post("/account/logout")
    assert again.status_code == 302 and "Clear-Site-Data" not in again.headers


def test_a_workers_logout_clears_nothing_and_their_pages_load_no_logout_script(client, worker, form_login):
    """Workers never use the door page, so nothing of theirs is stored; and a worker logging out on a
    phone where an organiser's expired session left check-ins waiting must not wipe them."""
    form_login(client, worker.mobile)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "logout-guard" not in page and "data-logout-guard" not in page
    response = client.post("/account/logout")
    assert response.status_code == 302 and "Clear-Site-Data" not in response.headers
    assert not is_logged_in(client)


def test_a_refused_logout_clears_nothing(app, client, make, tree, form_login):
    """A logout without a valid CSRF token (refused by CSRFProtect before the view) logs nobody out, so it
    must not clear the phone either.  (An organiser: a worker's logout never clears anything.)"""
    organiser = make.user("赵组织", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    form_login(client, organiser.mobile)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/account/logout", data={"csrf_token": "forged"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400 and "Clear-Site-Data" not in response.headers
    assert is_logged_in(client)


def test_change_password_logs_out_other_devices_but_not_this_one(app, client, worker, form_login):
    form_login(client, worker.mobile)
    phone = app.test_client()
    form_login(phone, worker.mobile, remember=True)
    response = client.post("/account/password", data={
        "current_password": "secret123", "new_password": "newpass99", "new_password_again": "newpass99"})
    assert response.status_code == 302
    assert is_logged_in(client)
    assert not is_logged_in(phone)
    assert services.authenticate(worker.mobile, "newpass99") is not None
    assert services.authenticate(worker.mobile, "secret123") is None


@pytest.mark.parametrize("data, field", [
    ({"current_password": "wrong-pass1", "new_password": "newpass99", "new_password_again": "newpass99"},
     "current_password"),
    ({"current_password": "secret123", "new_password": "short1", "new_password_again": "short1"},
     "new_password"),
    ({"current_password": "secret123", "new_password": "newpass99", "new_password_again": "newpass98"},
     "new_password_again"),
])
def test_change_password_refusals(client, worker, login, data, field):
    login(worker)
    response = client.post("/account/password", data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert services.authenticate(worker.mobile, "secret123") is not None


def test_login_starts_a_fresh_session(client, worker, form_login):
    with client.session_transaction() as session:
        session["planted"] = "by-attacker"
    form_login(client, worker.mobile)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_profile_edit(client, worker, tree, login):
    login(worker)
    union = tree["玉泉营商场工会"]
    response = client.post("/account/profile", data={
        "name": "王师傅", "union_id": str(union.id), "occupation": "courier", "district": "丰台区",
        "member_card_no": "A123"})
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, worker.id)
    assert (user.name, user.union_id, user.occupation.value, user.district, user.member_card_no) == \
        ("王师傅", union.id, "courier", "丰台区", "A123")
    page = client.get("/account/profile").get_data(as_text=True)
    assert "王师傅" in page and "139****5678" in page and "13912345678" not in page


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"), ({"name": "名" * 41}, "name"), ({"union_id": "999999"}, "union_id"),
    ({"occupation": "astronaut"}, "occupation"),
])
def test_profile_edit_refusals(client, worker, login, row_counts, changes, field):
    login(worker)
    data = {"name": "王师傅", "union_id": "", "occupation": "courier"}
    data.update(changes)
    before = row_counts()
    response = client.post("/account/profile", data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert row_counts() == before
    db.session.expire_all()
    assert db.session.get(User, worker.id).name == "王骑手"
