"""SQLite writers queue at a file lock before BEGIN IMMEDIATE (core/sqlite_turnstile.py): one at a
time across threads and processes, bounded by the busy timeout, and answered 503 past it."""
from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
import time

import pytest
from sqlalchemy.exc import OperationalError

from unionevents.core.db import is_sqlite, write_transaction
from unionevents.core.files import sqlite_file
from unionevents.core.sqlite_turnstile import turnstile
from unionevents.extensions import db

from ..api_support import assert_error, bearer

pytestmark = pytest.mark.skipif("os.environ.get('TEST_DATABASE_URL')", reason="SQLite's write lock")


def test_threads_pass_one_at_a_time(tmp_path):
    gate = turnstile(str(tmp_path / "x.db"))
    inside, overlaps, done = [0], [0], []
    lock = threading.Lock()

    def writer():
        for _ in range(20):
            with gate.turn(5):
                with lock:
                    inside[0] += 1
                    overlaps[0] += inside[0] > 1
                time.sleep(0.0005)
                with lock:
                    inside[0] -= 1
        done.append(1)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(done) == 6 and overlaps == [0]


def _hold_for(path: str, ready, seconds: float) -> None:
    with turnstile(path).turn(5):
        ready.set()
        time.sleep(seconds)


def test_another_process_waits_its_turn_and_is_told_locked_past_the_timeout(tmp_path):
    path = str(tmp_path / "x.db")
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    holder = context.Process(target=_hold_for, args=(path, ready, 1.0))
    holder.start()
    try:
        assert ready.wait(10)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            with turnstile(path).turn(0.2):
                pass
        assert 0.2 <= time.monotonic() - started < 0.9
        with turnstile(path).turn(10):  # passes once the holder is done
            assert time.monotonic() - started >= 0.9
    finally:
        holder.join(10)


def test_a_forked_child_does_not_share_the_parents_turn(tmp_path):
    """A flock belongs to the open file: a child using the parent's descriptor would pass with it."""
    path = str(tmp_path / "x.db")
    gate = turnstile(path)
    context = multiprocessing.get_context("fork")
    result = context.Queue()

    def child():
        try:
            with turnstile(path).turn(0.2):
                result.put("passed")
        except OperationalError:
            result.put("waited")

    with gate.turn(5):
        process = context.Process(target=child)
        process.start()
        assert result.get(timeout=10) == "waited"
        process.join(10)


def test_a_write_past_the_timeout_is_answered_busy(app, client, make, monkeypatch):
    if not is_sqlite():
        pytest.skip("SQLite's write lock")
    make.tree()
    headers = bearer(make.user("王师傅", union="玉泉营商场工会"))
    activity_id = make.activity(capacity=5).id
    db.session.commit()
    monkeypatch.setitem(app.config, "SQLITE_BUSY_TIMEOUT_MS", 200)
    fd = os.open(sqlite_file(db.engine) + "-writers", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # someone else's turn, held throughout
    try:
        response = client.post(f"/api/v1/activities/{activity_id}/registrations", json={},
                               headers=headers)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    # The sign-up service retries a busy database a few times, then answers "busy, try again".
    assert_error(response, 503)
    with write_transaction():  # the turn is free again
        pass


def test_a_thread_already_through_passes_again_without_waiting(tmp_path):
    gate = turnstile(str(tmp_path / "x.db"))
    with gate.turn(5):
        with gate.turn(0.05):  # would time out if it queued behind itself
            pass
        other = []
        thread = threading.Thread(target=lambda: other.append(_try(gate)))
        thread.start()
        thread.join()
        assert other == ["locked"]  # still held by the outer turn after the inner one ended
    assert _try(gate) == "passed"


def _try(gate) -> str:
    try:
        with gate.turn(0.05):
            return "passed"
    except OperationalError:
        return "locked"
