"""A database outage answers 503 with Retry-After, a Chinese page or the API's JSON, and is logged
once a minute, not once per request (issue 14, defect 11).

"Outage" means the app cannot reach its database: PostgreSQL refuses or drops the connection, the
SQLite file cannot be opened.  A busy SQLite ("database is locked"), a deadlock or a statement
timeout is not an outage: those stay ordinary errors (500), logged every time.
"""
from __future__ import annotations

import logging
import sqlite3

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from unionevents import create_app
from unionevents.core import errors
from unionevents.core.permissions import public

UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:1/test"  # port 1: nothing listens there
OUTAGE_TEXT = "服务暂时不可用"


@pytest.fixture(autouse=True)
def _fresh_throttle(monkeypatch):
    """Each test starts as if no outage had been logged yet, with a clock it can move."""
    clock = {"now": 1000.0}
    monkeypatch.setattr(errors, "_outage_clock", lambda: clock["now"])
    errors.reset_outage_log()
    yield clock
    errors.reset_outage_log()


def _app(url: str):
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})

    @application.route("/test-only/locked")
    @public
    def locked():
        raise sa_exc.OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))

    return application


@pytest.fixture(params=["postgresql", "sqlite"])
def down_app(request, tmp_path):
    """An app whose database cannot be reached: PostgreSQL on a closed port, or a SQLite file in a
    folder that does not exist (sqlite3: "unable to open database file")."""
    url = UNREACHABLE_PG if request.param == "postgresql" else f"sqlite:///{tmp_path / 'missing' / 'x.db'}"
    application = _app(url)
    yield application
    with application.app_context():
        from unionevents.extensions import db

        db.engine.dispose()


def test_pages_answer_503_with_retry_after_and_a_chinese_page(down_app):
    client = down_app.test_client()
    for path in ["/", "/activities/"]:
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 503, path
        assert int(response.headers["Retry-After"]) > 0
        assert response.mimetype == "text/html"
        assert OUTAGE_TEXT in html and "请稍后再试" in html
        assert 'name="viewport"' in html  # the phone layout
        assert "Traceback" not in html and "OperationalError" not in html


def test_a_logged_in_worker_gets_the_outage_page_not_a_500(down_app):
    client = down_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1:0"
        session["_fresh"] = True
    response = client.get("/account/profile")
    assert response.status_code == 503 and OUTAGE_TEXT in response.get_data(as_text=True)
    form = client.post("/activities/1/signup", data={})
    assert form.status_code in (503, 400)  # CSRF is checked before the database is touched


def test_the_api_answers_json_503_in_its_error_shape(down_app):
    client = down_app.test_client()
    response = client.get("/api/v1/activities")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["status"] == 503 and body["code"] == "database_unavailable"
    assert OUTAGE_TEXT in body["message"] or "请稍后再试" in body["message"]
    token = client.post("/api/v1/tokens", json={"mobile": "13800000000", "password": "x" * 10})
    assert token.status_code == 503 and token.get_json()["code"] == "database_unavailable"


def test_healthz_says_503(down_app):
    response = down_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_logged_once_a_minute_not_per_request(down_app, caplog, _fresh_throttle):
    client = down_app.test_client()
    with caplog.at_level(logging.INFO, logger="unionevents"):
        for _ in range(15):
            assert client.get("/").status_code == 503
            assert client.get("/api/v1/activities").status_code == 503
            assert client.get("/healthz").status_code == 503
    outage = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(outage) == 1, [r.getMessage() for r in outage]
    assert "database" in outage[0].getMessage().lower()

    caplog.clear()
    _fresh_throttle["now"] += 61
    with caplog.at_level(logging.INFO, logger="unionevents"):
        for _ in range(5):
            client.get("/")
    outage = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(outage) == 1
    assert "44" in outage[0].getMessage()  # how many requests were answered 503 since the last line


def test_database_is_locked_is_not_an_outage(caplog):
    application = _app("sqlite://")
    with caplog.at_level(logging.ERROR, logger="unionevents"):
        for _ in range(2):
            response = application.test_client().get("/test-only/locked")
            assert response.status_code == 500 and "Retry-After" not in response.headers
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 2  # every time


def _wrapped(cls, orig):
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize("error, outage", [
    (_wrapped(sa_exc.OperationalError, sqlite3.OperationalError("unable to open database file")), True),
    (_wrapped(sa_exc.OperationalError, sqlite3.OperationalError("disk I/O error")), True),
    (_wrapped(sa_exc.OperationalError, sqlite3.OperationalError("database is locked")), False),
    (_wrapped(sa_exc.OperationalError, sqlite3.OperationalError("no such table: user")), False),
    (_wrapped(sa_exc.InterfaceError, sqlite3.InterfaceError("Error binding parameter 1")), False),
    (_wrapped(sa_exc.OperationalError, psycopg.OperationalError("connection failed: refused")), True),
    (_wrapped(sa_exc.InterfaceError, psycopg.InterfaceError("the connection is closed")), True),
    (_wrapped(sa_exc.OperationalError, psycopg.errors.AdminShutdown("terminating connection")), True),
    (_wrapped(sa_exc.OperationalError, psycopg.errors.CannotConnectNow("the database system is starting up")),
     True),
    (_wrapped(sa_exc.OperationalError, psycopg.errors.TooManyConnections("too many clients")), True),
    (_wrapped(sa_exc.OperationalError, psycopg.errors.DeadlockDetected("deadlock detected")), False),
    (_wrapped(sa_exc.OperationalError, psycopg.errors.QueryCanceled("statement timeout")), False),
    (_wrapped(sa_exc.OperationalError, psycopg.errors.LockNotAvailable("could not obtain lock")), False),
    (_wrapped(sa_exc.IntegrityError, psycopg.errors.UniqueViolation("duplicate key")), False),
    (sa_exc.DisconnectionError("connection lost while idle"), True),
    (RuntimeError("unable to open database file"), False),
])
def test_what_counts_as_an_outage(error, outage):
    assert errors.is_database_outage(error) is outage
