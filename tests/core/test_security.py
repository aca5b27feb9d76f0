"""CSRF on every HTML form post, and the security headers on every page."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from unionevents import create_app
from unionevents.accounts.models import Role
from unionevents.extensions import db

API_PREFIX = "/api/"


def row_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


@pytest.fixture
def csrf_app(database_url):
    """The test app with CSRF switched on, on the same database."""
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                              "WTF_CSRF_ENABLED": True})
    yield application
    with application.app_context():
        db.engine.dispose()


def post_routes(app):
    """(endpoint, url) for every rule accepting POST, URL parameters filled with ids that exist."""
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "POST" not in rule.methods:
                continue
            yield rule.endpoint, url_for(rule.endpoint, **{arg: 1 for arg in rule.arguments})


def plausible_form(endpoint: str, admin, worker) -> dict:
    """Data that WOULD change something if the CSRF check were missing."""
    return {
        "accounts.signup": {"mobile": "13911112222", "name": "新人", "password": "abc12345",
                            "password_again": "abc12345", "union_id": "", "occupation": "rider",
                            "accept_privacy": "y"},
        "accounts.login": {"mobile": worker.mobile, "password": "secret123"},
        "accounts.profile": {"name": "改过的名字", "union_id": "", "occupation": "rider"},
        "accounts.change_password": {"current_password": "secret123", "new_password": "newpass123",
                                     "new_password_again": "newpass123"},
        "accounts.create_token": {"label": "phone"},
        "admin.grant": {"mobile": worker.mobile, "role": "organiser", "node_id": str(admin.union_id)},
        "main.set_language": {"locale": "en"},
    }.get(endpoint, {})


def test_every_html_post_route_needs_a_csrf_token(csrf_app, make):
    tree = make.tree()
    admin = make.user("管理员", union=tree["北京市总工会"], role=Role.ADMIN, scope=tree["北京市总工会"])
    worker = make.user("职工", union=tree["玉泉营商场工会"])
    routes = [(e, u) for e, u in post_routes(csrf_app) if not u.startswith(API_PREFIX)]
    assert len(routes) >= 8, routes
    checked = []
    for endpoint, url in routes:
        for token in (None, "forged-token"):
            client = csrf_app.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = admin.get_id()
                session["_fresh"] = True
            data = dict(plausible_form(endpoint, admin, worker))
            if token:
                data["csrf_token"] = token
            before = row_counts()
            with csrf_app.app_context():
                response = client.post(url, data=data)
            db.session.expire_all()
            assert response.status_code == 400, \
                f"{endpoint} {url} answered {response.status_code} without CSRF"
            assert row_counts() == before, f"{endpoint} changed the database without a CSRF token"
            checked.append(endpoint)
    db.session.refresh(worker)
    assert worker.name == "职工" and not worker.grants


def test_the_json_api_is_exempt_and_uses_bearer_tokens(csrf_app, make):
    make.user(mobile="13900000001")
    client = csrf_app.test_client()
    with csrf_app.app_context():
        response = client.post("/api/v1/tokens", json={"mobile": "13900000001", "password": "secret123"})
    assert response.status_code == 201
    api_posts = [u for _e, u in post_routes(csrf_app) if u.startswith(API_PREFIX)]
    assert api_posts  # the list the exemption covers is not empty


def test_a_form_with_its_token_still_works(csrf_app, make):
    """The check is not simply refusing everything."""
    make.user(mobile="13900000001")
    client = csrf_app.test_client()
    with csrf_app.app_context():
        page = client.get("/account/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/account/login", data={"mobile": "13900000001", "password": "secret123",
                                                       "csrf_token": token})
    assert response.status_code == 302


HTML_PAGES = ["/", "/account/login", "/account/signup", "/account/privacy", "/no-such-page"]


@pytest.mark.parametrize("path", HTML_PAGES)
def test_html_responses_carry_the_security_headers(client, path):
    response = client.get(path)
    assert response.mimetype == "text/html"
    assert_security_headers(response)


def test_personal_pages_carry_the_security_headers(client, make, login):
    worker = make.user()
    login(worker)
    for path in ("/account/profile", "/account/password"):
        response = client.get(path)
        assert response.status_code == 200
        assert_security_headers(response)


def assert_security_headers(response):
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in (
        "same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert "no-store" in response.headers.get("Cache-Control", "")
    page = response.get_data(as_text=True)
    # The CSP forbids inline code; a page that relied on it would silently break.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script> block"
    assert not re.search(r"\sstyle=|<style", page), "inline style"
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"
    assert "//cdn" not in page and "https://" not in page.split("</head>")[0], "assets from elsewhere"


def test_session_cookie_flags(client, make):
    make.user(mobile="13900000001")
    response = client.post("/account/login", data={"mobile": "13900000001", "password": "secret123",
                                                   "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    remember_cookie = next(c for c in cookies if c.startswith("remember_token="))
    for cookie in (session_cookie, remember_cookie):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
