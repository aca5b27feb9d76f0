"""Domain errors with translated messages, and the handlers that turn them into pages or JSON."""
from __future__ import annotations

import logging

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule said no. ``message`` is shown to the user as it is (lazily translated)."""

    http_status = 400
    code = "domain_error"

    def __init__(self, message=None, *, field: str | None = None, **details):
        self.message = message if message is not None else self.default_message
        self.field = field
        self.details = details
        super().__init__(str(self.message))

    default_message = _l("This action is not possible.")


class ValidationFailed(DomainError):
    http_status = 422
    code = "validation_failed"
    default_message = _l("Some of the information given is not valid.")

    def __init__(self, errors: dict[str, list[str]] | None = None, message=None):
        super().__init__(message)
        self.errors = errors or {}


class NotAllowed(DomainError):
    http_status = 403
    code = "forbidden"
    default_message = _l("You do not have permission to do this.")


class NotFound(DomainError):
    http_status = 404
    code = "not_found"
    default_message = _l("The page or item you asked for does not exist.")


class Conflict(DomainError):
    http_status = 409
    code = "conflict"
    default_message = _l("This conflicts with the current state.")


def wants_json() -> bool:
    return request.path.startswith("/api/")


HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please log in first."),
    403: _l("You do not have permission to see this page."),
    404: _l("The page you asked for does not exist."),
    405: _l("This action is not allowed here."),
    413: _l("The upload is too large."),
    422: _l("Some of the information given is not valid."),
    429: _l("Too many attempts. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. Please try again later."),
}


def json_error(status: int, message, **extra):
    body = {"status": status, "message": str(message)}
    body.update(extra)
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        if wants_json():
            extra = {"code": error.code}
            if isinstance(error, ValidationFailed):
                extra["errors"] = error.errors
            if error.details:
                extra.update({k: v for k, v in error.details.items() if isinstance(v, (int, str, bool))})
            response, status = json_error(error.http_status, error.message, **extra)
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response, status
        if error.http_status in (403, 404):
            return render_template("errors/error.html", status=error.http_status,
                                   message=error.message), error.http_status
        flash(str(error.message), "error")
        return redirect(_local_referrer() or url_for("main.home"))

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        status = error.code or 500
        message = HTTP_MESSAGES.get(status, error.description)
        if status == 422 and wants_json():
            # webargs/flask-smorest validation: one message list per field.
            messages = getattr(error, "data", {}).get("messages", {})
            errors = {}
            for location_errors in messages.values():
                if isinstance(location_errors, dict):
                    errors.update(location_errors)
            return json_error(422, message, code="validation_failed", errors=errors)
        if wants_json():
            response, code = json_error(status, message)
            if status == 405 and error.valid_methods:
                response.headers["Allow"] = ", ".join(error.valid_methods)
            return response, code
        response = render_template("errors/error.html", status=status, message=message)
        return response, status

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        message = HTTP_MESSAGES[500]
        if wants_json():
            return json_error(500, message)
        return render_template("errors/error.html", status=500, message=message), 500


def _local_referrer() -> str | None:
    """The referring page as a local path when it is on this site, else None."""
    from urllib.parse import urlsplit

    from .security import is_safe_redirect

    parts = urlsplit(request.referrer or "")
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return target if is_safe_redirect(target) else None
