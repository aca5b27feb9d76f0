"""Writers on one SQLite file take turns at a turnstile before ``BEGIN IMMEDIATE``.

SQLite's own wait for the write lock (``busy_timeout``) sleeps and retries: 1, 2, 5 … then 100 ms
at a time.  A writer that has waited a while sleeps 100 ms between tries while fresh writers keep
taking the lock, so in a sign-up rush a few unlucky requests wait a second or more (the rush's
p99, measured as ``lock_wait`` in core/timing.py).  Here the writers of every process queue on an
exclusive ``flock`` of ``<database>-writers`` (threads of one process first on a lock of their
own) and try it every few milliseconds, so the lock passes on within ~2 ms of being free.
SQLite's lock stays the real guard: whoever does not come through here (a shell, an older
process) still waits through ``busy_timeout`` as before.

The wait is bounded by the same busy timeout; past it the writer is told "database is locked",
as SQLite would have told it, and the request is answered 503 with Retry-After.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.exc import OperationalError

from .files import PRIVATE_FILE

_FIRST_PAUSE_S = 0.0002
_LONGEST_PAUSE_S = 0.002


class _Turnstile:
    def __init__(self, path: str):
        self.path = path
        self.threads = threading.RLock()
        self._depth = threading.local()
        self._fd: int | None = None
        self._pid: int | None = None

    def _file(self) -> int:
        # A forked process (gunicorn's workers) opens its own: a flock belongs to the open file,
        # and one inherited across fork would let parent and child pass together.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def turn(self, timeout_s: float) -> Iterator[None]:
        if getattr(self._depth, "n", 0) and self._depth.pid == os.getpid():  # through already: nested
            self._depth.n += 1
            try:
                yield
            finally:
                self._depth.n -= 1
            return
        deadline = time.monotonic() + timeout_s
        if not self.threads.acquire(timeout=timeout_s):
            raise _locked()
        try:
            fd = self._file()
            pause = _FIRST_PAUSE_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _locked() from None
                    time.sleep(pause)
                    pause = min(pause * 2, _LONGEST_PAUSE_S)
            self._depth.n, self._depth.pid = 1, os.getpid()
            try:
                yield
            finally:
                self._depth.n = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self.threads.release()


def _locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


_turnstiles: dict[str, _Turnstile] = {}
_registry_lock = threading.Lock()


def turnstile(database_file: str) -> _Turnstile:
    """The one turnstile of this database file in this process."""
    path = os.path.abspath(database_file) + "-writers"
    with _registry_lock:
        if path not in _turnstiles:
            _turnstiles[path] = _Turnstile(path)
        return _turnstiles[path]
