"""The SQLite database holds everyone's personal data: the file (and its -wal/-shm companions) is
0600 however it is created, and an older 0644 file is tightened when the app opens it (issue 14,
defect 14).  Contest uploads: tests/contests/test_file_modes.py."""
from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from unionevents import create_app
from unionevents.extensions import db


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def development_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _open(url: str):
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    return application


def test_a_new_sqlite_database_is_owner_only(tmp_path, development_umask):
    path = tmp_path / "unionevents.db"
    application = _open(f"sqlite:///{path}")
    with application.app_context():
        db.create_all()
        db.session.execute(text("SELECT count(*) FROM user"))
        assert path.exists()
        for name in (path, f"{path}-wal", f"{path}-shm"):
            if os.path.exists(name):
                assert mode(name) == 0o600, name
        assert os.path.exists(f"{path}-wal")  # WAL mode: the companion files exist and were checked
        db.session.remove()
        db.engine.dispose()


def test_an_older_world_readable_database_is_tightened_when_opened(tmp_path, development_umask):
    path = tmp_path / "old.db"
    import sqlite3

    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    os.chmod(path, 0o644)
    application = _open(f"sqlite:///{path}")
    with application.app_context():
        db.session.execute(text("SELECT 1"))
        assert mode(path) == 0o600
        db.session.remove()
        db.engine.dispose()


def test_the_migrations_that_create_the_database_make_it_owner_only(tmp_path, development_umask):
    from flask_migrate import upgrade

    path = tmp_path / "migrated.db"
    application = _open(f"sqlite:///{path}")
    with application.app_context():
        upgrade()
        assert mode(path) == 0o600
        db.session.remove()
        db.engine.dispose()
