"""One log stream an operator can parse: the limiter and alembic log through the app's JSON formatter."""
from __future__ import annotations

import json
import logging
import os

import pytest

from unionevents import create_app
from unionevents.core.logging import LIBRARY_LOGGERS, JsonFormatter
from unionevents.core.settings import LEGACY_NAMES, PREFIX


@pytest.fixture
def saved_loggers(monkeypatch):
    for key in list(os.environ):
        if key in LEGACY_NAMES or key.startswith(PREFIX):
            monkeypatch.delenv(key, raising=False)
    names = ["unionevents", *LIBRARY_LOGGERS]
    saved = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate, logging.getLogger(n).level)
             for n in names}
    for name in names:  # as in a fresh process
        logging.getLogger(name).handlers[:] = [h for h in logging.getLogger(name).handlers
                                               if isinstance(h, logging.NullHandler)]
    yield
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.propagate, logger.level = handlers, propagate, level


def test_limiter_and_alembic_log_json_lines(saved_loggers, tmp_path, capsys):
    create_app("development", instance_path=tmp_path)
    for name in LIBRARY_LOGGERS:
        handlers = [h for h in logging.getLogger(name).handlers if isinstance(h.formatter, JsonFormatter)]
        assert len(handlers) == 1, name
    create_app("development", instance_path=tmp_path)  # a second app adds no second handler
    assert len(logging.getLogger("flask-limiter").handlers) <= 2  # its own NullHandler and ours
    logging.getLogger("flask-limiter").warning("Rate limit storage unreachable - falling back to memory")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade a -> b")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert {(line["logger"], line["level"]) for line in lines} >= {
        ("flask-limiter", "WARNING"), ("alembic.runtime.migration", "INFO")}


def test_gunicorn_logconfig_uses_the_same_formatter():
    from unionevents.core.logging import GUNICORN_LOGCONFIG

    assert GUNICORN_LOGCONFIG["formatters"]["json"]["()"] == "unionevents.core.logging.JsonFormatter"
    assert GUNICORN_LOGCONFIG["loggers"]["gunicorn.error"]["handlers"] == ["json"]
    assert GUNICORN_LOGCONFIG["loggers"]["gunicorn.access"]["handlers"] == []  # query strings stay out
