"""Redis down is not silent: one ERROR line (URL without its password), and /healthz answers 503."""
from __future__ import annotations

import logging
import socket

import pytest

from unionevents import create_app
from unionevents.core.redis_health import redacted
from unionevents.extensions import db

from .conftest import REDIS_URL


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def app_with_redis(database_url):
    apps = []

    def _build(redis_url):
        application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                                  "REDIS_URL": redis_url, "REDIS_CHECK_TIMEOUT": 0.5})
        apps.append(application)
        return application

    yield _build
    for application in apps:
        with application.app_context():
            db.engine.dispose()


def _redis_errors(caplog):
    return [r for r in caplog.records if r.name == "unionevents.redis" and r.levelno >= logging.ERROR]


def test_redis_down_is_logged_once_and_reported_by_healthz(app_with_redis, caplog):
    caplog.set_level(logging.INFO, logger="unionevents")
    url = f"redis://:s3cret-pass@127.0.0.1:{_closed_port()}/0"
    application = app_with_redis(url)
    errors = _redis_errors(caplog)
    assert len(errors) == 1  # at start-up, before any request
    message = errors[0].getMessage()
    assert url.replace("s3cret-pass", "***") in message and "s3cret-pass" not in message
    assert "per-process memory" in message

    client = application.test_client()
    for _ in range(3):
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "error", "database": "ok", "redis": "down"}
    assert len(_redis_errors(caplog)) == 1  # once, however often the load balancer asks
    assert "s3cret-pass" not in caplog.text


def test_healthz_says_redis_ok_when_it_answers(app_with_redis):
    response = app_with_redis(REDIS_URL).test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_without_redis_configured_checks_only_the_database(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


def test_redacted_keeps_everything_but_the_password():
    assert redacted("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redacted("rediss://user:pw@h/1") == "rediss://user:***@h/1"
    assert redacted("redis://h:6379/0") == "redis://h:6379/0"
