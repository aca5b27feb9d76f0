"""`flask backup` and `flask restore`: consistent copies of a live database.

SQLite: the online backup API (``sqlite3.Connection.backup``) in a single step, which reads one
consistent snapshot while sign-ups keep writing (WAL: readers never block writers).  Never a
file copy: a copy of a live database file (and its -wal file) can be torn.  The copy is
checked with ``PRAGMA integrity_check`` before it is reported as done.

PostgreSQL: ``pg_dump -Fc`` (a consistent snapshot too) and ``pg_restore --clean --if-exists
--single-transaction``.  The client tools' major version must not be older than the server's.
The password, if the URL has one, goes through PGPASSWORD, never the command line.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import URL, make_url

from ..extensions import db
from .files import private_dir
from .timeutil import now, utc_to_local


class BackupError(RuntimeError):
    pass


def _url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return url.database


def default_output(url: URL | None = None) -> Path:
    url = url or _url()
    folder = Path(current_app.config.get("BACKUP_DIR") or Path(current_app.instance_path) / "backups")
    private_dir(folder)  # 0700: backups hold everyone's personal data
    suffix = "sqlite3" if url.get_backend_name() == "sqlite" else "dump"
    return folder / f"unionevents-{utc_to_local(now()):%Y%m%d-%H%M%S}.{suffix}"


def integrity_check(path: str | os.PathLike) -> str:
    """``PRAGMA integrity_check`` of a SQLite file: "ok" when sound."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for the pg_* tools, and the environment carrying the password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)  # noqa: S603 - fixed tools
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip()[:2000]}")


def backup(output: str | os.PathLike | None = None) -> Path:
    """Write a backup of the configured database to ``output`` (default: BACKUP_DIR); returns the path."""
    url = _url()
    target = Path(output) if output else default_output(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        _sqlite_backup(_sqlite_path(url), target)
        result = integrity_check(target)
        if result != "ok":
            raise BackupError(f"the backup failed its integrity check: {result}")
    elif url.get_backend_name() == "postgresql":
        conninfo, env = _libpq(url)
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", f"--dbname={conninfo}"],
             env)
    else:
        raise BackupError(f"backups of {url.get_backend_name()} are not supported")
    os.chmod(target, 0o600)  # it holds everyone's personal data
    return target


def _sqlite_backup(source_path: str, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=current_app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
    destination = sqlite3.connect(partial)
    try:
        # pages=-1: the whole database in one step, i.e. from one read snapshot.
        source.backup(destination, pages=-1)
        destination.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        destination.close()
        source.close()
    os.replace(partial, target)  # a half-written backup never carries the final name


def restore(path: str | os.PathLike) -> None:
    """Replace the configured database's contents with the backup at ``path``.

    Stop the application servers first: sessions open during a restore would see it half done.
    """
    source_path = Path(path)
    if not source_path.is_file():
        raise BackupError(f"no such file: {source_path}")
    url = _url()
    db.session.remove()
    db.engine.dispose()  # our own pooled connections must not hold locks on the tables
    if url.get_backend_name() == "sqlite":
        result = integrity_check(source_path)
        if result != "ok":
            raise BackupError(f"the backup failed its integrity check: {result}")
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        destination = sqlite3.connect(_sqlite_path(url),
                                      timeout=current_app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
        try:
            source.backup(destination, pages=-1)
        finally:
            destination.close()
            source.close()
    elif url.get_backend_name() == "postgresql":
        conninfo, env = _libpq(url)
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              f"--dbname={conninfo}", str(source_path)], env)
    else:
        raise BackupError(f"restores of {url.get_backend_name()} are not supported")


@click.command("backup", help="Back up the database (SQLite: online backup API; PostgreSQL: pg_dump -Fc).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: BACKUP_DIR or instance/backups, named by the time).")
@with_appcontext
def backup_command(output):
    try:
        path = backup(output)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backup written to {path}")


@click.command("restore", help="Replace the database with a backup made by `flask backup`. Stop the app first.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(file, yes):
    if not yes:
        click.confirm("This replaces every row of the configured database. Continue?", abort=True)
    try:
        restore(file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored from {file}")
