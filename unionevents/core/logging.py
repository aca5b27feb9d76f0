"""Structured request logs with a request id; errors carry their traceback."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request

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


def configure_request_logging(app: Flask) -> None:
    if not app.testing and not logging.getLogger("unionevents").handlers:
        handler = make_handler()
        root = logging.getLogger("unionevents")
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        # A proxy's id is kept (to follow one request through nginx and the app) if it is plain.
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex

    @app.after_request
    def _log_request(response):
        started = g.get("request_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started else None
        response.headers["X-Request-ID"] = g.get("request_id", "")
        # Paths only, never query strings: they may hold search terms with personal data.
        access_log.info(
            "request", extra={
                "request_id": g.get("request_id"), "method": request.method, "path": request.path,
                "status": response.status_code, "duration_ms": duration,
                # SQLite only: the longest the request held the database's write lock.
                **({"write_lock_ms": g.write_lock_ms} if "write_lock_ms" in g else {}),
            },
        )
        return response
