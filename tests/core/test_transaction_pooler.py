"""UNIONEVENTS_DB_TRANSACTION_POOLER: behind PgBouncer in transaction mode psycopg prepares nothing
(pitfalls: PgBouncer 1.18 cannot follow prepared statements across server connections).  The app
through a real PgBouncer is tested in tests/deploy/test_stack.py."""
from __future__ import annotations

import logging
import os

import pytest
from sqlalchemy import text

from unionevents import create_app
from unionevents.core.settings import LEGACY_NAMES, PREFIX, SettingError
from unionevents.extensions import db

PG_URL = "postgresql+psycopg://unionevents@127.0.0.1:1/unionevents"


@pytest.fixture
def env(monkeypatch):
    for key in list(os.environ):
        if key in LEGACY_NAMES or key.startswith(PREFIX):
            monkeypatch.delenv(key, raising=False)
    logger = logging.getLogger("unionevents")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield monkeypatch
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def _connect_args(app) -> dict:
    return app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]


def test_the_setting_turns_prepared_statements_off(env, tmp_path):
    env.setenv("DATABASE_URL", PG_URL)
    env.setenv("UNIONEVENTS_DB_TRANSACTION_POOLER", "1")
    app = create_app("development", instance_path=tmp_path)
    assert app.config["DB_TRANSACTION_POOLER"] is True
    assert "prepare_threshold" in _connect_args(app) and _connect_args(app)["prepare_threshold"] is None
    assert _connect_args(app)["connect_timeout"] == 5  # the other connect arguments stay


def test_without_it_psycopg_keeps_its_default(env, tmp_path):
    env.setenv("DATABASE_URL", PG_URL)
    app = create_app("development", instance_path=tmp_path)
    assert app.config["DB_TRANSACTION_POOLER"] is False
    assert "prepare_threshold" not in _connect_args(app)


def test_a_bad_value_stops_the_start(env, tmp_path):
    env.setenv("UNIONEVENTS_DB_TRANSACTION_POOLER", "pgbouncer")
    with pytest.raises(SettingError, match="UNIONEVENTS_DB_TRANSACTION_POOLER"):
        create_app(instance_path=tmp_path)


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_connections_made_with_it_never_prepare(env, tmp_path):
    """The driver connection itself says prepare_threshold None, and a statement run many times on it
    leaves nothing prepared on the server."""
    env.setenv("DATABASE_URL", os.environ["TEST_DATABASE_URL"])
    env.setenv("UNIONEVENTS_DB_TRANSACTION_POOLER", "1")
    app = create_app("development", instance_path=tmp_path)
    with app.app_context():
        try:
            with db.engine.connect() as conn:
                assert conn.connection.driver_connection.prepare_threshold is None
                for _ in range(10):
                    conn.execute(text("SELECT 1 + :n"), {"n": 1})
                assert conn.scalar(text("SELECT count(*) FROM pg_prepared_statements")) == 0
        finally:
            db.engine.dispose()
