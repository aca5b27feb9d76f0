"""The JSON API v1 (flask-smorest): token authentication and blueprint registration.

Each domain keeps its endpoints in its own ``api.py``; this module wires them up.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l

from ..extensions import api, csrf
from .errors import DomainError
from .permissions import ACCESS_ATTR

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


def token_required(view: Callable) -> Callable:
    """Access rule "token": the request must carry a valid bearer token (401 otherwise).
    (The same decorator as on the ``api`` branch; to be reconciled at merge.)"""

    @wraps(view)
    def wrapped(*args, **kwargs):
        require_api_user()
        return view(*args, **kwargs)

    setattr(wrapped, ACCESS_ATTR, "token")
    return wrapped


class ApiUnauthorized(DomainError):
    http_status = 401
    code = "unauthorized"
    default_message = _l("A valid API token is required (Authorization: Bearer <token>).")


def init_api(app: Flask) -> None:
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    })
    api.init_app(app)
    from ..accounts.api import blp as accounts_blp
    from ..activities.api import blp as activities_blp
    from ..registrations.api import blp as registrations_blp
    from ..registrations.checkin_api import blp as checkin_blp

    for blp in (accounts_blp, activities_blp, registrations_blp, checkin_blp):
        csrf.exempt(blp)  # bearer tokens only; no cookies are read by the API
        api.register_blueprint(blp)
