"""Structured request logs with a request id; errors carry their traceback."""
from __future__ import annotations

import json
import logging
import time
import uuid

from flask import Flask, g, request

access_log = logging.getLogger("unionevents.request")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status", "duration_ms", "user_id"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["traceback"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_request_logging(app: Flask) -> None:
    if not app.testing and not logging.getLogger("unionevents").handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger("unionevents")
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isascii() else uuid.uuid4().hex

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
            },
        )
        return response
