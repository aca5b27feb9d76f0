"""Transactions that hold on SQLite and PostgreSQL alike.

SQLite: every connection runs in WAL mode with a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so the write lock is taken before
anything is read.  A deferred transaction that reads first and writes later
fails at once with "database is locked" instead of waiting, which is why the
driver's own transaction handling is switched off and we emit BEGIN ourselves.

PostgreSQL: the default READ COMMITTED level plus conditional UPDATEs and row
locks in the services.
"""
from __future__ import annotations

import logging
import time
from contextlib import ExitStack, contextmanager
from typing import Iterator

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from ..extensions import db
from .files import sqlite_file
from .sqlite_turnstile import turnstile
from .timing import phase

IMMEDIATE_OPTION = "unionevents_immediate"

log = logging.getLogger(__name__)


def is_sqlite(engine: Engine | None = None) -> bool:
    engine = engine or db.engine
    return engine.dialect.name == "sqlite"


def install_idle_ping(engine: Engine, idle_seconds: float) -> None:
    """Check a server connection (PostgreSQL) on checkout only when it has lain idle in the pool for
    ``idle_seconds``: a server restart or an idle timeout then costs no request a failure, while
    under load, when connections go straight back out, no round trip is spent on pinging (the
    pool's ``pre_ping`` pings on every checkout).  A dead connection raises DisconnectionError,
    so the pool throws it away and checks out a fresh one."""
    if engine.dialect.name == "sqlite" or getattr(engine, "_unionevents_idle_ping", False):
        return
    engine._unionevents_idle_ping = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # new, or just back from another request
        try:
            engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()  # psycopg opened a transaction for the ping
        except Exception as error:
            raise DisconnectionError(f"connection lost while idle: {error}") from error


def configure_engine(engine: Engine, busy_timeout_ms: int, synchronous: str) -> None:
    """Install the SQLite connection pragmas and BEGIN handling on ``engine``."""
    if engine.dialect.name != "sqlite":
        return
    if getattr(engine, "_unionevents_configured", False):
        return
    engine._unionevents_configured = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised implicitly
        # Hand transaction control to SQLAlchemy (we emit BEGIN below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A mark a transaction that never ended through the session (closed unfinished) may have
        # left behind belongs to nothing now.
        connection.info.pop(WRITE_LOCK_SINCE, None)
        if connection.get_execution_options().get(IMMEDIATE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.info[WRITE_LOCK_SINCE] = time.perf_counter()
        else:
            connection.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "after_cursor_execute")
    def _on_first_write(connection, _cursor, statement, _parameters, _context, _executemany):
        # A deferred transaction takes the write lock at its first write (after any wait for it).
        if WRITE_LOCK_SINCE not in connection.info and statement.lstrip()[:7].upper().startswith(WRITE_VERBS):
            connection.info[WRITE_LOCK_SINCE] = time.perf_counter()


# --- How long the SQLite write lock is held ------------------------------------------------------
# Every other writer waits that long, so the longest hold is what a busy moment costs (R5 reports it
# from the request log).  Measured from BEGIN IMMEDIATE (or a deferred transaction's first write)
# to the end of its COMMIT or ROLLBACK: the ORM session's after_commit / after_rollback events come
# after the driver's, so the commit's fsync is included.

WRITE_LOCK_SINCE = "unionevents_write_lock_since"
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_CONNECTION_INFO = "unionevents_sqlite_connection_info"


@event.listens_for(Session, "after_begin")
def _remember_sqlite_connection(session, _transaction, connection):
    if connection.dialect.name == "sqlite":
        session.info[_CONNECTION_INFO] = connection.info


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _write_lock_released(session):
    info = session.info.get(_CONNECTION_INFO)
    since = info.pop(WRITE_LOCK_SINCE, None) if info is not None else None
    if since is not None:
        note_write_lock_hold(time.perf_counter() - since)


def note_write_lock_hold(seconds: float) -> None:
    """Keep the request's longest hold for its log line; warn about a long one wherever it happens."""
    held_ms = round(seconds * 1000, 1)
    if has_request_context():
        g.write_lock_ms = max(g.get("write_lock_ms", 0.0), held_ms)
    if has_app_context() and held_ms >= current_app.config.get("SQLITE_WRITE_LOCK_WARN_MS", 1000):
        log.warning("SQLite write lock held for %.1f ms", held_ms,
                    extra={"path": request.path if has_request_context() else None})


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run the block as one write transaction and commit it, or roll back on error.

    SQLite: any read transaction the request already opened (for example Flask-Login's
    user lookup) is ended first, so the block starts with ``BEGIN IMMEDIATE`` and waits
    for the write lock instead of failing.  PostgreSQL: the block goes on in the
    request's transaction, so whatever the session holds is committed (or rolled back)
    with it.  Objects loaded before stay usable: they are refreshed on next access.
    """
    session = db.session()  # the real Session: scoped_session does not proxy in_transaction()
    with ExitStack() as turn:
        if is_sqlite():
            if session.in_transaction():
                session.commit()  # end the read snapshot; nothing pending to lose in a read
            with phase("lock_wait"):  # BEGIN IMMEDIATE waits here for the one write lock
                _take_turn(turn)
                session.connection(execution_options={IMMEDIATE_OPTION: True})
        # PostgreSQL: READ COMMITTED reads afresh at every statement, so the writes go on in the
        # transaction the request's reads opened: a BEGIN and a COMMIT (two round trips) fewer.
        try:
            with phase("write"):  # PostgreSQL: includes waiting for row locks (the activity's counter)
                yield
                pending = _deferred_writes()
                for statement, params in pending.values():
                    session.execute(statement, params)
            with phase("commit"):
                session.commit()
            pending.clear()
        except BaseException:
            session.rollback()
            raise


def _take_turn(turn: ExitStack) -> None:
    """Queue at the database file's turnstile (core/sqlite_turnstile.py), held until the commit."""
    if not current_app.config.get("SQLITE_WRITER_TURNSTILE", True):
        return
    path = sqlite_file(db.engine)
    if path is not None:
        turn.enter_context(turnstile(path).turn(current_app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000))


# --- Bookkeeping writes that ride along -------------------------------------------------------------
# A stamp such as an API token's last use is worth a row write but not a write transaction of its
# own: on SQLite that is a second BEGIN IMMEDIATE and fsync per request, and in a sign-up rush a
# second turn at the one write lock.  So it is queued for the request's own write transaction and
# only written alone, at the end of the request, when the request wrote nothing.

_DEFERRED = "unionevents_deferred_writes"


def _deferred_writes() -> dict:
    return g.setdefault(_DEFERRED, {}) if has_request_context() else {}


def defer_write(key: str, statement, params: dict | None = None) -> None:
    """Write ``statement`` with ``params`` (an idempotent, best-effort UPDATE) with the request's next
    write transaction, or at the end of the request if it makes none; queued once per ``key``.
    Outside a request it is written at once."""
    if has_request_context():
        _deferred_writes()[key] = (statement, params)
        return
    with write_transaction():
        db.session.execute(statement, params)


def _write_what_was_deferred(_error=None) -> None:
    pending = g.pop(_DEFERRED, None)
    if not pending:
        return
    try:
        with write_transaction():
            for statement, params in pending.values():
                db.session.execute(statement, params)
    except Exception:
        # Bookkeeping: a busy database ("database is locked" in a rush) or a lost connection must
        # not fail a request that has already been answered; the next request tries again.
        log.info("deferred bookkeeping writes not made: %s", ", ".join(pending), exc_info=True)


def install_deferred_writes(app) -> None:
    app.teardown_request(_write_what_was_deferred)


# Local to the transaction (set_config's third argument), both in one round trip.
_REPORT_SETTINGS = text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
                        "set_config('max_parallel_workers_per_gather', '0', true)")


def plan_each_run() -> None:
    """PostgreSQL: plan the rest of this transaction's statements for the values they are given.

    psycopg prepares a statement after its fifth run, and PostgreSQL may then switch it to one generic
    plan, blind to the dates and unions bound; the officers' report pages took ~240 ms more each that
    way (docs/performance.md, "Prepared statements and generic plans").  Report requests call this
    first; the sign-up path keeps its generic plans (re-planning it cost ~10 % of the rush).

    Nor do they start parallel workers: on a server answering many requests at once those only compete
    for the same cores, and even alone starting them cost more than they saved (the city's reach over
    twelve months, four kinds: 155 -> 135 ms; its span sums: 10 -> 6 ms)."""
    if not is_sqlite():
        db.session.execute(_REPORT_SETTINGS)


def testing_flag(name: str, default=None):
    """Read a test-only switch; they are refused outside testing in create_app."""
    app = current_app
    if not app.testing:
        return default
    return app.config.get(name, default)


#: The largest id (and any integer a query compares with an id column) the database holds: ids are
#: 32-bit on PostgreSQL; a bigger number from a form, a query string or a JSON body must be refused
#: as bad input, never reach the driver (an overflow there is a 500).
MAX_ID = 2**31 - 1
