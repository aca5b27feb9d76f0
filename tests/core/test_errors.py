"""Error pages: Chinese by default, no tracebacks, JSON under /api/."""
from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, gettext

from unionevents import create_app
from unionevents.core.errors import HTTP_MESSAGES, Conflict
from unionevents.core.permissions import public
from unionevents.extensions import db


def zh(message) -> str:
    """``message`` as the zh_Hans catalog renders it."""
    with force_locale("zh_Hans"):
        return str(message) if not isinstance(message, str) else gettext(message)


def has_cjk(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def zh_catalog_has(message) -> bool:
    return has_cjk(zh(message))


@pytest.fixture
def failing_app(database_url):
    """A fresh app with test-only routes that fail (never registered on the shared app)."""
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})

    @application.route("/test-only/boom")
    @public
    def boom():
        raise RuntimeError("deliberate failure 7f3a")

    @application.route("/api/v1/test-only/boom")
    @public
    def api_boom():
        raise RuntimeError("deliberate failure 7f3a")

    @application.route("/test-only/conflict", methods=["POST"])
    @public
    def conflict():
        raise Conflict("already done 51c2")

    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("referrer, location", [
    ("http://localhost/activities/3?tab=1", "/activities/3?tab=1"),
    ("http://evil.example/page", "/"),
    ("http:evil.example", "/"),
    (None, "/"),
])
def test_a_domain_error_on_a_form_flashes_and_goes_back_only_to_a_local_page(failing_app, referrer, location):
    client = failing_app.test_client()
    headers = {"Referer": referrer} if referrer else {}
    with failing_app.app_context():
        response = client.post("/test-only/conflict", headers=headers)
        assert response.status_code == 302 and response.headers["Location"] == location
        assert "already done 51c2" in client.get("/").get_data(as_text=True)


def test_404_page_is_rendered_in_chinese(client):
    response = client.get("/no-such-page", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page
    assert zh(HTTP_MESSAGES[404]) in page


def test_500_page_is_rendered_in_chinese_without_a_traceback(failing_app):
    client = failing_app.test_client()
    with failing_app.app_context():
        response = client.get("/test-only/boom")
        page = response.get_data(as_text=True)
        assert response.status_code == 500
        assert '<html lang="zh-Hans">' in page
        assert zh(HTTP_MESSAGES[500]) in page
    assert "7f3a" not in page and "Traceback" not in page


def test_500_under_the_api_is_json(failing_app):
    client = failing_app.test_client()
    with failing_app.app_context():
        response = client.get("/api/v1/test-only/boom")
    assert response.status_code == 500
    assert response.json["status"] == 500
    assert "7f3a" not in response.get_data(as_text=True)


def test_403_page(client, make, login):
    login(make.user())
    response = client.get("/admin/users")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page
    assert zh(HTTP_MESSAGES[403]) in page


def test_api_404_and_405_are_json(client):
    response = client.get("/api/v1/activities/999999")
    assert response.status_code == 404 and response.json["status"] == 404
    response = client.delete("/api/v1/activities")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


def test_api_bad_input_is_a_422_with_field_messages(client):
    response = client.post("/api/v1/tokens", json={"mobile": ""})
    assert response.status_code == 422
    assert set(response.json["errors"]) >= {"mobile", "password"}


@pytest.mark.parametrize("status", [403, 404, 500])
def test_error_messages_are_translated_to_chinese(app, status):
    """The catalog side of "Chinese error pages" (the zh catalog is filled at merge)."""
    if not zh_catalog_has(HTTP_MESSAGES[status]):
        pytest.skip("zh catalog does not translate this message yet")
    assert has_cjk(zh(HTTP_MESSAGES[status]))
