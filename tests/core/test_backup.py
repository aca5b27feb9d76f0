"""Data safety: SQLite pragmas, `flask backup` / `flask restore` round trips, backups during sign-ups (R8)."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine, select, text

from unionevents import create_app
from unionevents.accounts.services import create_user
from unionevents.core import backup as backup_module
from unionevents.extensions import db
from unionevents.registrations import services as registrations
from unionevents.registrations.models import Registration

from ..conftest import worker_database_url


def _is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def test_sqlite_connections_use_wal_busy_timeout_and_full_sync(tmp_path):
    # An app of its own with the shipped settings: the shared test app relaxes synchronous.
    own = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'pragmas.db'}"})
    with own.app_context():
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == own.config["SQLITE_BUSY_TIMEOUT_MS"]
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()


def test_pg_tools_match_the_server(app):
    if _is_sqlite():
        pytest.skip("PostgreSQL tools")
    import re
    import subprocess

    server = db.session.scalar(text("SHOW server_version")).split(".")[0]
    for tool in ("pg_dump", "pg_restore"):
        version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
        assert re.search(r"\) (\d+)", version).group(1) >= server, (tool, version, server)


@pytest.fixture
def scratch(worker_id, tmp_path):
    """``scratch()``: an app on a second, empty database of the same engine (the restore target)."""
    made = []

    def _scratch():
        url = worker_database_url(worker_id, tmp_path, f"_restore{len(made)}")
        scratch_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
        made.append(scratch_app)
        return scratch_app

    yield _scratch
    for scratch_app in made:
        with scratch_app.app_context():
            db.engine.dispose()


def _snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, read through a fresh engine."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {table.name: sorted((tuple(map(repr, row)) for row in connection.execute(select(table))))
                    for table in db.metadata.sorted_tables}
    finally:
        engine.dispose()


def _seed(make, n=5):
    activity = make.activity("花卉养护课", capacity=10)
    for i in range(n):
        registrations.register(make.user(f"工人{i}"), activity.id)
    return activity


def test_backup_and_restore_round_trip(app, make, scratch, tmp_path):
    _seed(make)
    original = _snapshot(app.config["SQLALCHEMY_DATABASE_URI"])
    assert original["registration"] and original["user"]
    path = tmp_path / "copy.backup"
    result = app.test_cli_runner().invoke(args=["backup", "--output", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0 and (path.stat().st_mode & 0o077) == 0  # owner-only: personal data
    if _is_sqlite():
        assert backup_module.integrity_check(path) == "ok"

    # The target already holds other data: a restore replaces it, it does not merge.
    target = scratch()
    with target.app_context():
        db.create_all()
        create_user("13700000099", "别的数据")
        db.session.commit()
        result = target.test_cli_runner().invoke(args=["restore", str(path), "--yes"])
        assert result.exit_code == 0, result.output
    assert _snapshot(target.config["SQLALCHEMY_DATABASE_URI"]) == original


def test_default_output_lands_in_the_backup_folder(app, tmp_path):
    app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    try:
        result = app.test_cli_runner().invoke(args=["backup"])
    finally:
        app.config["BACKUP_DIR"] = None
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "backups").iterdir())
    assert len(files) == 1 and files[0].name.startswith("unionevents-")


def test_restore_refuses_a_damaged_sqlite_file(app, tmp_path):
    if not _is_sqlite():
        pytest.skip("SQLite integrity check")
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 4000)
    result = app.test_cli_runner().invoke(args=["restore", str(bad), "--yes"])
    assert result.exit_code != 0


def _backed_up_registration_ids(path, scratch) -> set[int]:
    if _is_sqlite():
        assert backup_module.integrity_check(path) == "ok"
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return {row[0] for row in connection.execute("SELECT id FROM registration")}
        finally:
            connection.close()
    target = scratch()
    with target.app_context():
        backup_module.restore(path)
        return set(db.session.scalars(select(Registration.id)))


def test_backups_during_sign_ups_hold_every_committed_registration(app, make, scratch, tmp_path):
    """R8: backups taken while threads sign up contain every registration committed before they began."""
    activity = make.activity("热门课程", capacity=1000)
    people = [create_user(f"137{i:08d}", f"骑手{i}", None) for i in range(120)]
    db.session.commit()
    user_ids = [person.id for person in people]
    committed: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def sign_up(ids):
        with app.app_context(), app.test_request_context():
            from unionevents.accounts.models import User

            for user_id in ids:
                try:
                    registration = registrations.register(db.session.get(User, user_id), activity.id)
                except BaseException as error:  # noqa: BLE001 - reported below
                    errors.append(error)
                    return
                with lock:
                    committed.append(registration.id)
            db.session.remove()

    threads = [threading.Thread(target=sign_up, args=(user_ids[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    rounds = 3 if _is_sqlite() else 2
    checked = []
    for n in range(rounds):
        deadline = time.monotonic() + 20
        while len(committed) < (n + 1) * 20 and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        with lock:
            before = set(committed)
        path = backup_module.backup(tmp_path / f"during-{n}.backup")
        backed_up = _backed_up_registration_ids(path, scratch)
        assert before <= backed_up, f"round {n}: {len(before - backed_up)} committed registrations missing"
        checked.append((len(before), len(backed_up)))
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(committed) == 120
    assert any(size > 0 for size, _ in checked)
    assert any(size < 120 for size, _ in checked)  # at least one backup really ran mid-rush
