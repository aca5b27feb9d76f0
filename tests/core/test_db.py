"""Connection handling: a PostgreSQL connection is pinged only after lying idle in the pool."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from unionevents.core.db import install_idle_ping


def _engine(database_url: str, idle_seconds: float | None):
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    if idle_seconds is not None:
        install_idle_ping(engine, idle_seconds)
    return engine


def _count_pings(engine, monkeypatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection):
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return pings


def _age_pooled_connections(engine, seconds: float) -> None:
    """Pretend every connection now in the pool has lain there ``seconds`` longer."""
    for record in list(engine.pool._pool.queue):
        if "idle_since" in record.info:  # set only where the idle ping is installed
            record.info["idle_since"] -= seconds


def test_connections_going_straight_back_out_are_not_pinged(database_url, monkeypatch):
    engine = _engine(database_url, idle_seconds=10)
    pings = _count_pings(engine, monkeypatch)
    try:
        for _ in range(5):
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT 1")) == 1
        assert pings == []
        _age_pooled_connections(engine, 60)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
        # SQLite has no server to lose the connection: it is never pinged.
        assert len(pings) == (0 if engine.dialect.name == "sqlite" else 1)
    finally:
        engine.dispose()


def _kill_pooled_backend(database_url: str, engine) -> None:
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    _age_pooled_connections(engine, 60)


@pytest.mark.parametrize("pinged", [True, False], ids=["idle-ping", "negative-control"])
def test_a_connection_the_server_closed_while_idle_is_replaced(database_url, pinged):
    if not database_url.startswith("postgresql"):
        pytest.skip("needs a database server that can drop a connection")
    engine = _engine(database_url, idle_seconds=10 if pinged else None)
    try:
        _kill_pooled_backend(database_url, engine)
        if pinged:
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT 1")) == 1
        else:  # without the ping the first request after the restart fails
            with pytest.raises(OperationalError), engine.connect() as conn:
                conn.scalar(text("SELECT 1"))
    finally:
        engine.dispose()
