"""Helpers for JSON API tests: bearer headers and error-body checks."""
from __future__ import annotations

from unionevents.accounts.services import issue_token


def bearer(user_or_token) -> dict[str, str]:
    """Authorization headers for a user (a fresh token is issued) or a raw token."""
    token = user_or_token if isinstance(user_or_token, str) else issue_token(user_or_token, "test")
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The reply is a JSON error of ``status`` (and ``code``) with a message for people."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"].strip()
    if code is not None:
        assert body.get("code") == code, body
    return body
