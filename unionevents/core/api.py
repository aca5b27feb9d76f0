"""The JSON API v1 (flask-smorest): token authentication and blueprint registration.

Each domain keeps its endpoints in its own ``api.py``; this module wires them up.
"""
from __future__ import annotations

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l

from ..extensions import api, csrf, login_manager
from .errors import DomainError

BEARER = "Bearer "


def current_api_user():
    """The user of the request's bearer token, or None."""
    if "api_user" not in g:
        from ..accounts.services import user_for_token

        header = request.headers.get("Authorization", "")
        g.api_user = user_for_token(header[len(BEARER):].strip()) if header.startswith(BEARER) else None
    return g.api_user


def require_api_user():
    user = current_api_user()
    if user is None:
        raise ApiUnauthorized()
    return user


class ApiUnauthorized(DomainError):
    http_status = 401
    code = "unauthorized"
    default_message = _l("A valid API token is required (Authorization: Bearer <token>).")


def _api_user_from_bearer_token_only() -> None:
    """On /api/ paths the user comes from the bearer token, never from a session or remember cookie.

    The API is exempt from CSRF, so it must not act on cookies a browser sends by itself.
    Setting Flask-Login's request user here makes ``@login_required`` / ``@role_required``
    (and ``current_user``) mean "the token's owner" for API views.
    """
    if request.path.startswith("/api/"):
        login_manager._update_request_context_with_user(current_api_user())


def init_api(app: Flask) -> None:
    app.before_request(_api_user_from_bearer_token_only)
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    })
    api.init_app(app)
    from ..accounts.api import blp as accounts_blp
    from ..activities.api import blp as activities_blp
    from ..registrations.api import blp as registrations_blp
    from ..reports.api import blp as reports_blp

    for blp in (accounts_blp, activities_blp, registrations_blp, reports_blp):
        csrf.exempt(blp)  # bearer tokens only; no cookies are read by the API
        api.register_blueprint(blp)
