"""Domain errors with translated messages, and the handlers that turn them into pages or JSON."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule said no. ``message`` is shown to the user as it is (lazily translated)."""

    http_status = 400
    code = "domain_error"
    #: seconds a client should wait before trying again (a Retry-After header), for a passing refusal
    retry_after: int | None = None

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
            extra: dict[str, object] = {"code": error.code}
            if isinstance(error, ValidationFailed):
                extra["errors"] = error.errors
            if error.details:
                extra.update({k: v for k, v in error.details.items() if isinstance(v, (int, str, bool))})
            response, status = json_error(error.http_status, error.message, **extra)
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            if error.retry_after:
                response.headers["Retry-After"] = str(error.retry_after)
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
            valid_methods = getattr(error, "valid_methods", None)  # set on MethodNotAllowed
            if status == 405 and valid_methods:
                response.headers["Allow"] = ", ".join(valid_methods)
            return response, code
        response = render_template("errors/error.html", status=status, message=message)
        return response, status

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        if is_database_outage(error):
            return database_unavailable_response(error)
        log.exception("Unhandled error on %s %s", request.method, request.path)
        message = HTTP_MESSAGES[500]
        if wants_json():
            return json_error(500, message)
        return render_template("errors/error.html", status=500, message=message), 500


# --------------------------------------------------------------------------- database outage
# When the database cannot be reached every request fails the same way: the user gets a 503 with
# Retry-After (a Chinese page, or the API's JSON error), and the log gets one line a minute saying how
# many requests were turned away since the last one, not a traceback per request.

OUTAGE_MESSAGE = _l("The service is temporarily unavailable. Please try again later.")
OUTAGE_LOG_INTERVAL = 60.0  # seconds between two log lines about the same outage (per process)

#: SQLite errors that mean the file cannot be used at all ("database is locked" is contention, not this).
_SQLITE_OUTAGE = ("unable to open database file", "disk i/o error", "cannot operate on a closed database")
#: PostgreSQL SQLSTATEs for a server that is going away or refuses new work (class 08 is "connection").
_PG_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "53000"})

_outage_lock = threading.Lock()
_outage_logged_at: float | None = None
_outage_suppressed = 0


def _outage_clock() -> float:
    return time.monotonic()


def reset_outage_log() -> None:
    """Forget the last outage line (tests)."""
    global _outage_logged_at, _outage_suppressed
    with _outage_lock:
        _outage_logged_at, _outage_suppressed = None, 0


def is_database_outage(error: BaseException) -> bool:
    """True when ``error`` says the database cannot be reached, not that one statement failed.

    Outage: no connection could be made or it was lost (PostgreSQL refused, reset, shut down, too
    many clients; a SQLite file that cannot be opened or read), a connection the pool found dead,
    or no connection free within the pool's timeout.  Not an outage: "database is locked"
    (SQLite contention), deadlocks, lock and statement timeouts, constraint errors, missing tables.
    """
    if isinstance(error, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True
    if not isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if error.connection_invalidated:  # the dialect itself recognised a lost connection
        return True
    original = error.orig
    if type(original).__module__.split(".")[0] == "sqlite3":
        return isinstance(error, sa_exc.OperationalError) and any(
            marker in str(original).lower() for marker in _SQLITE_OUTAGE)
    state = getattr(original, "sqlstate", None)
    if state is None:
        # psycopg: an error with no server SQLSTATE came from the client side — the connection
        # could not be made, or broke ("connection failed", "the connection is closed").
        return type(original).__module__.split(".")[0] == "psycopg"
    return state.startswith("08") or state in _PG_OUTAGE_STATES


def note_database_outage(error: BaseException) -> None:
    """Log the outage at most once per OUTAGE_LOG_INTERVAL seconds in this process."""
    global _outage_logged_at, _outage_suppressed
    with _outage_lock:
        moment = _outage_clock()
        if _outage_logged_at is not None and moment - _outage_logged_at < OUTAGE_LOG_INTERVAL:
            _outage_suppressed += 1
            return
        suppressed, _outage_suppressed, _outage_logged_at = _outage_suppressed, 0, moment
    log.error("Database unavailable, answering 503 (%d more requests since the last line): %s",
              suppressed, _first_line(error), exc_info=error)


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return f"{type(original).__name__}: {text.splitlines()[0] if text else ''}"


def retry_after_seconds() -> int:
    return int(current_app.config.get("DB_OUTAGE_RETRY_AFTER", 30))


def database_unavailable_response(error: BaseException):
    """503 + Retry-After: the API's JSON error, or a page that needs nothing from the database."""
    note_database_outage(error)
    _forget_request_user()
    if wants_json():
        response, status = json_error(503, OUTAGE_MESSAGE, code="database_unavailable")
    else:
        response = current_app.make_response(
            (render_template("errors/unavailable.html", message=OUTAGE_MESSAGE), 503))
        status = 503
    response.headers["Retry-After"] = str(retry_after_seconds())
    response.headers["Cache-Control"] = "no-store"
    return response, status


def _forget_request_user() -> None:
    """The page is drawn for an anonymous visitor: loading the user again would hit the database."""
    try:
        from ..extensions import db

        db.session.rollback()
    except Exception:  # the session may not even have a connection; nothing to undo then
        pass
    manager = getattr(current_app, "login_manager", None)
    if manager is not None:
        g._login_user = manager.anonymous_user()


def _local_referrer() -> str | None:
    """The referring page as a local path when it is on this site, else None."""
    from urllib.parse import urlsplit

    from .security import is_safe_redirect

    parts = urlsplit(request.referrer or "")
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return target if is_safe_redirect(target) else None
