"""The JSON API v1 (flask-smorest): token authentication, error documentation, the base of request
schemas (``ApiSchema``: 422 messages in the request's language) and the blueprint registration helper.

Each domain keeps its endpoints in its own ``api.py``; the app factory registers them with
``register_api_blueprints``, and the accounts domain hands over the token lookup with
``set_token_user_loader`` at start-up (core imports no domain).
Every API view carries one access decorator: ``core.permissions.public`` or
``token_required`` below (bearer token of an active account).
"""
from __future__ import annotations

from datetime import timezone
from functools import wraps
from typing import Callable

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema

from ..extensions import api, csrf, login_manager
from . import api_fields as fields
from .errors import DomainError
from .permissions import ACCESS_ATTR
from .timing import phase

BEARER = "Bearer "

#: OpenAPI security requirements: token needed / token optional (anonymous allowed) / none.
TOKEN_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
OPTIONAL_TOKEN_SECURITY: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]
NO_SECURITY: list = []


class ApiUnauthorized(DomainError):
    http_status = 401
    code = "unauthorized"
    default_message = _l("A valid API token is required (Authorization: Bearer <token>).")


#: ``token -> user or None`` (unknown, revoked, expired or inactive): the accounts domain sets it.
_token_user_loader: Callable[[str], object] | None = None


def set_token_user_loader(loader: Callable[[str], object]) -> None:
    """Start-up: how a bearer token becomes its user."""
    global _token_user_loader
    _token_user_loader = loader


def _authorization_header() -> str | None:
    return request.headers.get("Authorization")


def current_api_user():
    """The user of the request's bearer token, or None (no header, unknown, revoked or inactive)."""
    if "api_user" not in g:
        if _token_user_loader is None:
            raise RuntimeError("core.api: no token user loader set (create_app sets the accounts one)")
        header = _authorization_header() or ""
        g.api_user = _token_user_loader(header[len(BEARER):].strip()) if header.startswith(BEARER) else None
    return g.api_user


def require_api_user():
    user = current_api_user()
    if user is None:
        raise ApiUnauthorized()
    return user


def optional_api_user():
    """The token's user when a token is sent, None when none is; a bad token is still refused (401).

    A client whose token was revoked learns it at once instead of silently seeing the anonymous view.
    """
    if _authorization_header() is None:
        return None
    return require_api_user()


def token_required(view: Callable) -> Callable:
    """Access rule "token": the request must carry a valid bearer token (401 otherwise)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        require_api_user()
        return view(*args, **kwargs)

    setattr(wrapped, ACCESS_ATTR, "token")
    return wrapped


# --- Error documentation ---------------------------------------------------------------------------

class ApiErrorSchema(Schema):
    """Every error reply: ``message`` is written for people (Chinese by default)."""

    status = fields.Integer(required=True, metadata={"description": "The HTTP status again."})
    message = fields.String(required=True, metadata={"description": "A translated message to show."})
    code = fields.String(metadata={"description": "A stable machine-readable code, e.g. `full`."})
    errors = fields.Dict(
        keys=fields.String(), values=fields.Raw(),
        metadata={"description": "422 only: messages per field (`slot_id`, `consent`, `answers`, `q<id>` ...)."},
    )
    registration_id = fields.Integer(
        metadata={"description": "409 `already_registered` only: the existing registration."})


ERROR_DESCRIPTIONS = {
    400: "The request could not be parsed (e.g. invalid JSON).",
    401: "No token, or the token is unknown, revoked or belongs to an inactive account.",
    403: "The account may not do this (e.g. not eligible).",
    404: "No such object, or it is not yours.",
    409: "Conflicts with the current state.",
    422: "Invalid input; `errors` holds messages per field.",
    429: "Too many attempts.",
}


def api_errors(blp, *statuses: int, **descriptions: str) -> Callable:
    """Document the JSON error replies of an endpoint: ``@api_errors(blp, 401, 404, 409, c409="...")``."""

    def decorator(func):
        for status in statuses:
            description = descriptions.get(f"c{status}") or ERROR_DESCRIPTIONS.get(status)
            func = blp.alt_response(status, schema=ApiErrorSchema, description=description)(func)
        return func

    return decorator


# --- Request schemas ---------------------------------------------------------------------------------

def _as_text(messages):
    """Error messages with every lazy string turned into text (in the current request's language)."""
    if isinstance(messages, dict):
        return {key: _as_text(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [_as_text(message) for message in messages]
    return messages if isinstance(messages, (str, bytes)) else str(messages)


class ApiSchema(Schema):
    """The base of every request schema (``@blp.arguments``): a 422 speaks the request's language.

    Its fields come from ``core.api_fields`` and its validators from ``core.api_validate``;
    ``tests/core/test_api_errors.py`` checks that every request schema keeps to this.  The
    schema-level messages (a field the schema does not know; a body that is not an object) are
    translated here, with marshmallow's ``error_messages``.
    """

    error_messages = {"unknown": _l("Unknown field."), "type": _l("Invalid input type.")}

    def handle_error(self, error, data, *, many, **kwargs):
        # marshmallow stores the schema-level messages as they are (lazy): make them text now,
        # while the request is read, so webargs and the error handler see plain strings.
        error.messages = _as_text(error.messages)


class UtcDateTime(fields.DateTime):
    """Naive UTC from the database, written with an explicit offset (``2026-11-27T01:30:00+00:00``).

    On input an offset is honoured and a time without one is read as Beijing time; stored as naive
    UTC.  A time that cannot be shifted to UTC (year 1 with a positive offset, year 9999 with a
    negative one) is invalid input, not a 500.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        from .timeutil import local_to_utc

        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            if parsed.tzinfo is None:
                return local_to_utc(parsed)
            return parsed.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class PaginationSchema(Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


def _api_user_from_bearer_token_only() -> None:
    """On /api/ paths the user comes from the bearer token, never from a session or remember cookie.

    The API is exempt from CSRF, so it must not act on cookies a browser sends by itself.
    Setting Flask-Login's request user here makes ``@login_required`` / ``@role_required``
    (and ``current_user``) mean "the token's owner" for API views.
    """
    if request.path.startswith("/api/"):
        with phase("auth"):
            user = current_api_user()
        login_manager._update_request_context_with_user(user)


def init_api(app: Flask) -> None:
    app.before_request(_api_user_from_bearer_token_only)
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": TOKEN_SECURITY,
    })
    # Validation (422) and the default error response are documented with our error body.
    api.ERROR_SCHEMA = ApiErrorSchema
    api.init_app(app)
    # No per-request reset of g.api_user is needed here: create_app's first hook empties ``g``.


def register_api_blueprints(*blueprints) -> None:
    """Add the domains' API blueprints (after ``init_api``): under /api/, exempt from CSRF."""
    for blp in blueprints:
        csrf.exempt(blp)  # bearer tokens only; no cookies are read by the API
        api.register_blueprint(blp)
