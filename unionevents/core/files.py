"""Files holding personal data are readable by the app's own user only, whatever the umask.

Contest photos, the SQLite database (with its ``-wal`` and ``-shm`` companions) and backups hold
everyone's personal data: files are created 0600 and folders 0700 in development as in production,
and a file or folder that an older version left group- or world-readable is tightened when the app
next uses it (best effort: a folder owned by someone else, e.g. a shared volume's root, is left as
it is and documented in docs/deploy.md).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def tighten(path: str | os.PathLike, private_mode: int) -> None:
    """Take group and world access away from ``path`` if it has any (missing or foreign: left alone)."""
    try:
        if stat.S_IMODE(os.stat(path).st_mode) & 0o077:
            os.chmod(path, private_mode)
    except (FileNotFoundError, PermissionError):
        pass


def private_dir(path: Path) -> Path:
    """``mkdir -p`` where every folder it creates is 0700; the last one is tightened if it exists."""
    missing = []
    step = path
    while not step.exists() and step != step.parent:
        missing.append(step)
        step = step.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            pass
        tighten(folder, PRIVATE_DIR)
    tighten(path, PRIVATE_DIR)
    return path


def open_private(path: str | os.PathLike, *, exclusive: bool = True):
    """Open ``path`` for writing bytes, created 0600 (with O_EXCL unless ``exclusive`` is false)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # an existing file (exclusive=False) keeps no looser mode
    except OSError:
        pass
    return os.fdopen(fd, "wb")


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite engine, or None (memory, or not SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:") or engine.url.query.get("mode") == "memory":
        return None
    return name


def keep_sqlite_file_private(engine: Engine) -> None:
    """On every new SQLite connection, before the pragmas switch to WAL (SQLite gives the -wal and
    -shm files the database file's mode), make the file and its companions 0600.

    sqlite3 has created the file (umask mode, usually 0644) by the time ``connect`` fires; the
    window until this chmod holds an empty file, never data."""
    path = sqlite_file(engine)
    if path is None or getattr(engine, "_unionevents_private_file", False):
        return
    engine._unionevents_private_file = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect", insert=True)
    def _private(_dbapi_connection, _record):
        for suffix in SQLITE_COMPANIONS:
            tighten(path + suffix, PRIVATE_FILE)
