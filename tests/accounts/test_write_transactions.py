"""Every write goes through ``core.db.write_transaction()``: token issue under a real threaded server,
and a scan that keeps ``db.session.commit()`` inside ``unionevents/core``.

The field bug: 120 concurrent ``POST /api/v1/tokens`` under ``flask run`` on SQLite gave "database is
locked" 500s, because token issue read the user (a deferred transaction) and then committed its write
outside the helper, so SQLite could not wait for the write lock.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path

import pytest
import requests

from unionevents.extensions import db

from ..factories import PASSWORD
from ..threaded_server import serve_in_thread

PACKAGE = Path(__file__).resolve().parents[2] / "unionevents"
CONCURRENT_REQUESTS = 80


@pytest.fixture
def threaded_server(app):
    """The test app served by werkzeug's threaded server (one thread per request, as `flask run`)."""
    with serve_in_thread(app, "token-server") as url:
        yield url


def fire_together(count: int, request) -> list[int]:
    """Send ``count`` requests at once (threads released by a barrier); their status codes."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def run():
        with requests.Session() as session:
            barrier.wait(timeout=60)
            try:
                status = request(session).status_code
            except requests.RequestException:
                status = 599  # the connection broke: as bad as a 5xx
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


@pytest.mark.concurrency
def test_concurrent_token_requests_never_answer_5xx(threaded_server, make):
    workers = [make.user(f"骑手{i}", mobile=f"1390000{i:04d}") for i in range(8)]
    mobiles = [worker.mobile for worker in workers]
    db.session.commit()  # the test's own session holds no transaction while the server writes
    counter = iter(range(CONCURRENT_REQUESTS))
    counter_lock = threading.Lock()

    def issue(session):
        with counter_lock:
            mobile = mobiles[next(counter) % len(mobiles)]
        return session.post(f"{threaded_server}/api/v1/tokens", json={"mobile": mobile, "password": PASSWORD},
                            timeout=60)

    statuses = fire_together(CONCURRENT_REQUESTS, issue)
    assert Counter(statuses) == {201: CONCURRENT_REQUESTS}


def test_no_commit_outside_core():
    """decisions.md: no ``db.session.commit()`` outside ``unionevents/core`` (write_transaction commits)."""
    pattern = re.compile(r"\bsession\.commit\(\)")
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py")) if "core" not in path.relative_to(PACKAGE).parts[:1]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


@pytest.mark.concurrency
def test_concurrent_first_uses_of_old_tokens_never_answer_5xx(threaded_server, make, frozen_time):
    """Each token's first use in an hour stamps last_used_at (a short write): a rush of them is no 500."""
    from datetime import timedelta

    from unionevents.accounts.services import issue_token
    from unionevents.core.timeutil import now

    start = now()
    frozen_time(start - timedelta(days=2))
    tokens = [issue_token(make.user(f"骑手{i}", mobile=f"1390000{i:04d}"), "app") for i in range(CONCURRENT_REQUESTS)]
    frozen_time(None)
    db.session.commit()
    pending = iter(tokens)
    lock = threading.Lock()

    def use(session):
        with lock:
            token = next(pending)
        return session.get(f"{threaded_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=60)

    statuses = fire_together(CONCURRENT_REQUESTS, use)
    assert Counter(statuses) == {200: CONCURRENT_REQUESTS}
    db.session.expire_all()
    from unionevents.accounts.models import ApiToken

    stamps = db.session.scalars(db.select(ApiToken.last_used_at)).all()
    assert len(stamps) == CONCURRENT_REQUESTS and all(stamp >= start for stamp in stamps)
