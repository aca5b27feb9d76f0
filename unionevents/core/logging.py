"""Structured request logs with a request id; errors carry their traceback."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, current_app, g, has_request_context, request

from .timing import request_phases, server_timing

access_log = logging.getLogger("unionevents.request")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status", "duration_ms", "write_lock_ms", "user_id"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["traceback"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    """Stamp every record logged during a request (errors too) with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            record.request_id = g.get("request_id")
        return True


def make_handler(stream=None) -> logging.Handler:
    """A handler writing one JSON object per line, each carrying the request id."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


#: Libraries whose log lines go through the same JSON formatter as the app's, at this level (one stream
#: an operator can parse).  gunicorn's own loggers are set up by deploy/gunicorn.conf.py (``LOGCONFIG``).
LIBRARY_LOGGERS = {"flask-limiter": logging.WARNING, "alembic": logging.INFO}


def log_as_json(name: str, level: int) -> None:
    """Give logger ``name`` the app's JSON handler (once) instead of whatever it had."""
    logger = logging.getLogger(name)
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    logger.handlers[:] = [h for h in logger.handlers if isinstance(h, logging.NullHandler)]
    logger.addHandler(make_handler())
    logger.setLevel(level)
    logger.propagate = False


#: ``logconfig_dict`` for gunicorn (deploy/gunicorn.conf.py): its error log as JSON lines on stderr, its
#: access log off (it would log query strings; the app logs every request itself).
GUNICORN_LOGCONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "unionevents.core.logging.JsonFormatter"}},
    "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["json"], "propagate": False},  # level: gunicorn's --log-level
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
    "root": {"level": "WARNING", "handlers": ["json"]},
}


def configure_request_logging(app: Flask) -> None:
    if not app.testing and not logging.getLogger("unionevents").handlers:
        log_as_json("unionevents", logging.INFO)
    if not app.testing:
        for name, level in LIBRARY_LOGGERS.items():
            log_as_json(name, level)

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        # A proxy's id is kept (to follow one request through nginx and the app) if it is plain.
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex

    @app.after_request
    def _log_request(response):
        started = g.get("request_started")
        response.headers["X-Request-ID"] = g.get("request_id", "")
        phases = request_phases()
        if current_app.config.get("SERVER_TIMING"):
            response.headers["Server-Timing"] = server_timing(phases, _elapsed_ms(started))
        # Paths only, never query strings: they may hold search terms with personal data.
        fields = {
            "request_id": g.get("request_id"), "method": request.method, "path": request.path,
            "status": response.status_code,
            # SQLite only: the longest the request held the database's write lock.
            **({"write_lock_ms": g.write_lock_ms} if "write_lock_ms" in g else {}),
            # Where the time went (auth, lock_wait, write, commit): see core/timing.py.
            **({"phases_ms": phases} if phases else {}),
        }
        if response.is_streamed:
            # The body is produced after this hook (a CSV export, a file): log when it has been sent,
            # so a body that fails after the headers is an error line, not a 200.
            response.response = _LoggedBody(response.response, fields, started)
        else:
            access_log.info("request", extra={**fields, "duration_ms": _elapsed_ms(started)})
        return response


def _elapsed_ms(started: float | None) -> float | None:
    return round((time.perf_counter() - started) * 1000, 1) if started else None


class _LoggedBody:
    """``body`` passed through; the request's log line is written once it has ended: at INFO with the
    status the client got, or at ERROR with status 500 and the traceback when the body failed half-way
    (the client received the headers and a cut-off body).  A client that hung up early: 499."""

    def __init__(self, body, fields: dict, started: float | None):
        self.body, self.fields, self.started = body, fields, started
        self.state = "not started"

    def __iter__(self):
        self.state = "sending"
        try:
            yield from self.body
        except Exception:
            self.state = "logged"
            access_log.error("request failed after its headers were sent",
                             extra={**self.fields, "status": 500, "duration_ms": _elapsed_ms(self.started)},
                             exc_info=True)
            raise
        self._log(self.fields["status"])

    def _log(self, status: int) -> None:
        self.state = "logged"
        access_log.info("request", extra={**self.fields, "status": status,
                                          "duration_ms": _elapsed_ms(self.started)})

    def close(self) -> None:
        try:
            if self.state != "logged":  # closed early (499), or never iterated (a HEAD request)
                self._log(499 if self.state == "sending" else self.fields["status"])
        finally:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
