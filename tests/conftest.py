"""Shared fixtures: one database per xdist worker, emptied after every test.

SQLite by default (a file, so threaded tests share it); PostgreSQL when
TEST_DATABASE_URL is set, with a database per worker, dropped when the session
ends.  Tables are emptied rather than rolled back because concurrency tests
commit from many threads.
"""
from __future__ import annotations

import hashlib
import os
import sys
import warnings
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from unionevents import create_app
from unionevents.core import timeutil
from unionevents.extensions import db

from .factories import Factories


#: The PostgreSQL databases this process created: name → (server URL, oid), dropped when the session ends.
_created: dict[str, tuple[str, int]] = {}
_OID = text("SELECT oid FROM pg_database WHERE datname = :name")


def worker_database_url(worker_id: str, tmp_dir: Path, suffix: str = "") -> str:
    """A fresh database for this xdist worker (PostgreSQL: CREATE DATABASE; SQLite: a new file)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_dir / f'test_{worker_id}{suffix}.db'}"
    url = make_url(base)
    # Checkouts on one machine must not share databases: name them after the checkout too.
    checkout = hashlib.sha1(str(Path(__file__).resolve().parent.parent).encode()).hexdigest()[:6]
    name = f"{url.database}_{checkout}_{worker_id}{suffix}".lower()
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        _created[name] = (base, conn.scalar(_OID, {"name": name}))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_created_databases() -> None:
    """Drop the databases ``worker_database_url`` created in this process, so runs do not pile them up on
    the server.  Only the very database created here (same oid: a later run of this checkout may have
    made its own under the name since), WITH (FORCE) for any connection still open to it (an engine
    not disposed, an interrupted run).  A database that cannot be dropped is left with a warning: the
    next run of this checkout drops it before creating it anyway."""
    for server in {server for server, _oid in _created.values()}:
        names = {name: oid for name, (where, oid) in _created.items() if where == server}
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name, oid in names.items():
                    try:
                        if conn.scalar(_OID, {"name": name}) == oid:
                            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                    except SQLAlchemyError as error:
                        _warn(f"test database {name} was not dropped: {error}")
                    del _created[name]
        except SQLAlchemyError as error:
            _warn(f"test databases {', '.join(names)} were not dropped: {error}")
        finally:
            admin.dispose()


def _warn(message: str) -> None:
    try:
        warnings.warn(message, stacklevel=2)
    except Warning:  # warnings made errors (-W error): still only a message, never a failed run
        print(f"warning: {message}", file=sys.stderr)


def pytest_sessionfinish(session) -> None:
    # After every fixture's teardown (the apps have disposed their engines); in each xdist worker.
    drop_created_databases()


@pytest.fixture(scope="session")
def database_url(worker_id, tmp_path_factory) -> str:
    return worker_database_url(worker_id, tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    # Contest photos go to a temporary folder, never into instance/ (tests/contests uses one per test).
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
              "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))}
    # Tests need no durability: not waiting for the disk on every commit saves much of the run's
    # time (visibility and locking are unchanged).  The production setting (synchronous=FULL) is
    # checked on an app of its own in tests/core/test_backup.py, and the crash benchmark uses it.
    if database_url.startswith("postgresql"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": "-c synchronous_commit=off"}}
    else:
        config["SQLITE_SYNCHRONOUS"] = "NORMAL"
    application = create_app(config)
    with application.app_context():
        db.create_all()
    yield application
    with application.app_context():
        db.engine.dispose()


def _empty_all_tables() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    if db.engine.dialect.name == "postgresql":
        # TRUNCATE costs per table, and a test touches few of ~40 tables: find the non-empty ones
        # in one round trip and truncate only those (CASCADE covers anything referencing them).
        probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in tables)
        used = [row[0] for row in db.session.execute(text(probe))]
        if used:
            quoted = ", ".join(f'"{name}"' for name in used)
            db.session.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    else:
        db.session.execute(text("PRAGMA defer_foreign_keys = ON"))  # the tree references itself
        for name in reversed(tables):
            db.session.execute(text(f'DELETE FROM "{name}"'))
    db.session.commit()


@pytest.fixture(autouse=True)
def _app_context(app):
    """Every test runs in an app context and leaves an empty database behind."""
    with app.app_context():
        yield
        db.session.rollback()
        timeutil.freeze(None)
        _empty_all_tables()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app) -> Factories:
    """Factories that build data through the services: ``make.user()``, ``make.activity()`` ..."""
    return Factories()


@pytest.fixture
def login(client):
    """``login(user)`` makes ``client`` act as ``user`` (sets the Flask-Login session directly)."""

    def _login(user, the_client=None):
        target = the_client or client
        with target.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return target

    return _login


@pytest.fixture
def frozen_time():
    """``frozen_time(dt)`` pins ``timeutil.now()`` (naive UTC) for the rest of the test."""
    return timeutil.freeze


@pytest.fixture
def english(app, client):
    """Run the test in English: the ``client`` sends the language cookie and services called
    directly see a request in English.  For tests that assert the wording of a message
    (the zh catalog is checked separately by tests/test_translations.py)."""
    client.set_cookie("lang", "en")
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        yield


def pytest_collection_modifyitems(config, items) -> None:
    """``--dist loadgroup`` (the Makefile's) keeps each ``xdist_group`` in one worker, so the live tier
    starts each real server once.  pytest-xdist 3.8 marks the group by appending ``@group`` to
    ``item._nodeid``, which pytest 9 no longer reads (a node's id is ``item._id``): without this every
    worker would start every server.  Does nothing once xdist's own suffix shows in the node id."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args})
        if groups and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")
