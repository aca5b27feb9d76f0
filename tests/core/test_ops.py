"""Operations: structured request logs with a request id, errors with traceback, /healthz."""
from __future__ import annotations

import io
import json
import logging
import time

import pytest
from flask import g
from sqlalchemy import func, select

from unionevents import create_app
from unionevents.core.audit import AuditLog, log_action
from unionevents.core.db import is_sqlite
from unionevents.core.errors import reset_outage_log
from unionevents.core.logging import make_handler
from unionevents.core.permissions import public
from unionevents.extensions import db

from ..api_support import bearer


def _access_records(caplog):
    return [r for r in caplog.records if r.name == "unionevents.request"]


def test_every_request_is_logged_with_method_path_status_and_id(client, caplog):
    caplog.set_level(logging.INFO, logger="unionevents")
    response = client.get("/healthz?secret=13812345678")
    (record,) = _access_records(caplog)
    assert (record.method, record.path, record.status) == ("GET", "/healthz", 200)
    assert record.request_id == response.headers["X-Request-ID"] and len(record.request_id) == 32
    assert isinstance(record.duration_ms, float)
    assert "13812345678" not in json.dumps(record.__dict__, default=str)  # no query strings in logs


def test_a_proxy_request_id_is_kept_and_a_strange_one_replaced(client, caplog):
    caplog.set_level(logging.INFO, logger="unionevents")
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-abc.123"}).headers["X-Request-ID"] \
        == "nginx-abc.123"
    odd = client.get("/healthz", headers={"X-Request-ID": "<script>" + "x" * 80}).headers["X-Request-ID"]
    assert odd != "<script>" and len(odd) == 32


def test_log_lines_are_json_with_the_request_id(client):
    stream = io.StringIO()
    handler = make_handler(stream)
    logger = logging.getLogger("unionevents")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        response = client.post("/account/login", data={"mobile": "13812345678", "password": "x"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "unionevents.request"]
    assert access == [{**access[0], "method": "POST", "path": "/account/login", "status": response.status_code,
                       "request_id": response.headers["X-Request-ID"], "level": "INFO"}]
    assert "13812345678" not in stream.getvalue()


@pytest.fixture
def broken_app(database_url):
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                              "PROPAGATE_EXCEPTIONS": False})

    @public
    def boom():
        raise RuntimeError("kaboom")

    application.add_url_rule("/boom", "boom", boom)
    yield application
    with application.app_context():
        db.engine.dispose()


def test_errors_are_logged_with_traceback_and_request_id(broken_app):
    stream = io.StringIO()
    handler = make_handler(stream)
    logger = logging.getLogger("unionevents")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        response = broken_app.test_client().get("/boom", headers={"X-Request-ID": "req-42"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert response.status_code == 500
    assert "kaboom" not in response.get_data(as_text=True)  # the page says sorry, not the traceback
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert error["request_id"] == "req-42"
    assert "Traceback" in error["traceback"] and "RuntimeError: kaboom" in error["traceback"]
    (access,) = [line for line in lines if line["logger"] == "unionevents.request"]
    assert access["status"] == 500 and access["request_id"] == "req-42"


def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


UNREACHABLE = {
    "sqlite": "sqlite:////nonexistent-dir/for/sure/unionevents.db",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
}


@pytest.mark.parametrize("engine", sorted(UNREACHABLE))
def test_healthz_answers_503_when_the_database_is_unreachable(engine, caplog):
    down = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": UNREACHABLE[engine]})
    reset_outage_log()  # an outage is logged once a minute per process (tests/core/test_outage.py)
    caplog.set_level(logging.INFO, logger="unionevents")
    response = down.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unavailable"}
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)
    with down.app_context():
        db.engine.dispose()


# --- How long a request held SQLite's write lock (R5 reads it from these lines) -------------------

def _signup_pausing_in_its_transaction(app, client, make, monkeypatch, seconds: float) -> None:
    make.tree()
    worker = make.user("王师傅", union="玉泉营商场工会")
    activity_id = make.activity(capacity=5).id
    monkeypatch.setitem(app.config, "TESTING_RACE_DELAY", seconds)  # slept inside the sign-up's transaction
    response = client.post(f"/api/v1/activities/{activity_id}/registrations", json={}, headers=bearer(worker))
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_sign_up_logs_how_long_it_held_the_sqlite_write_lock(app, client, make, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="unionevents")
    _signup_pausing_in_its_transaction(app, client, make, monkeypatch, 0.05)
    client.get("/healthz")
    signup, healthz = _access_records(caplog)
    if not is_sqlite():
        assert not hasattr(signup, "write_lock_ms")  # PostgreSQL has no database-wide write lock
        return
    # From BEGIN IMMEDIATE to the end of the COMMIT: the 50 ms pause inside it, and not the whole request.
    assert 50 <= signup.write_lock_ms < signup.duration_ms
    assert not hasattr(healthz, "write_lock_ms")  # a read takes no write lock


def test_a_deferred_write_is_timed_from_its_first_write_to_its_commit(app):
    if not is_sqlite():
        pytest.skip("SQLite's write lock")
    with app.test_request_context("/"):
        db.session.scalar(select(func.count(AuditLog.id)))  # a read first: no lock yet
        time.sleep(0.05)
        started = time.monotonic()
        log_action(None, "test.write")  # the lock is taken here ...
        time.sleep(0.02)
        db.session.commit()  # ... and released here
        held_at_most_ms = (time.monotonic() - started) * 1000
        # Timed from the write, not from the read 50 ms before it (measured, so a slow machine passes).
        assert 20 <= g.write_lock_ms <= held_at_most_ms + 1


def test_a_transaction_closed_without_commit_leaves_no_hold_to_the_next(app):
    if not is_sqlite():
        pytest.skip("SQLite's write lock")
    with app.test_request_context("/"):
        log_action(None, "test.abandoned")
        db.session.close()  # rolled back by the pool, not through the session's events
    time.sleep(0.05)
    with app.test_request_context("/"):
        db.session.scalar(select(func.count(AuditLog.id)))
        db.session.commit()
        assert "write_lock_ms" not in g  # the abandoned write's mark was not carried over


def test_a_long_hold_is_logged_as_a_warning(app, client, make, caplog, monkeypatch):
    monkeypatch.setitem(app.config, "SQLITE_WRITE_LOCK_WARN_MS", 30)
    caplog.set_level(logging.INFO, logger="unionevents")
    _signup_pausing_in_its_transaction(app, client, make, monkeypatch, 0.04)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "write lock" in r.getMessage()]
    if not is_sqlite():
        assert warnings == []
        return
    # Only the paused sign-up is sure to hold the lock that long; on a loaded machine the setup's own
    # writes (made outside any request) may pass 30 ms too, so they are not counted here.
    (warning,) = [w for w in warnings if (getattr(w, "path", None) or "").startswith("/api/v1/")]
    assert warning.path.startswith("/api/v1/activities/")


# --- Where a request's time went (the rush's per-phase timings read these) ------------------------

def _timing(header: str) -> dict[str, float]:
    return {name: float(dur.split("=", 1)[1]) for name, dur in
            (part.strip().split(";", 1) for part in header.split(","))}


def test_a_sign_up_says_where_its_time_went_when_server_timing_is_on(app, client, make, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="unionevents")
    monkeypatch.setitem(app.config, "SERVER_TIMING", True)
    make.tree()
    worker = make.user("王师傅", union="玉泉营商场工会")
    activity_id = make.activity(capacity=5).id
    monkeypatch.setitem(app.config, "TESTING_RACE_DELAY", 0.05)  # slept inside the sign-up's transaction
    response = client.post(f"/api/v1/activities/{activity_id}/registrations", json={}, headers=bearer(worker))
    assert response.status_code == 201
    timing = _timing(response.headers["Server-Timing"])
    assert {"auth", "write", "commit", "app"} <= set(timing)
    assert ("lock_wait" in timing) == is_sqlite()  # only SQLite has one write lock to wait for
    assert timing["write"] >= 50  # the pause inside the transaction is counted as writing
    assert timing["app"] >= timing["auth"] + timing["write"] + timing["commit"]
    (signup,) = _access_records(caplog)
    assert signup.phases_ms["write"] == timing["write"]


def test_server_timing_is_off_by_default_and_a_read_has_no_write_phases(client, caplog):
    caplog.set_level(logging.INFO, logger="unionevents")
    response = client.get("/healthz")
    assert "Server-Timing" not in response.headers
    (healthz,) = _access_records(caplog)
    assert not hasattr(healthz, "phases_ms")
