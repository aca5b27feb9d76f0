"""``flask outbox worker`` as a real process: it delivers, and on SIGTERM finishes the message in hand,
hands the rest of its batch back and exits 0 (a temporary SQLite database, a relay on 127.0.0.1)."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from unionevents import create_app
from unionevents.core.db import write_transaction
from unionevents.core.outbox import OutboxMessage, OutboxState as S, enqueue
from unionevents.extensions import db

ROOT = Path(__file__).resolve().parents[2]


class SlowRelay:
    def __init__(self, delay: float):
        self.delay, self.received, self.first = delay, [], threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                outer.received.append(self.rfile.read(int(self.headers["Content-Length"])))
                outer.first.set()
                time.sleep(outer.delay)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def worker_db(tmp_path):
    """A SQLite file with the schema and five queued messages; yields (url, app)."""
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with other.app_context():
        db.create_all()
        with write_transaction():
            for n in range(5):
                enqueue(None, "test", f"消息 {n}", address=f"1390000000{n}")
        db.session.remove()
    yield url, other
    with other.app_context():
        db.engine.dispose()


def _states(other) -> list[tuple[S, int]]:
    with other.app_context():
        rows = db.session.execute(select(OutboxMessage.state, OutboxMessage.attempts)
                                  .order_by(OutboxMessage.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def _start_worker(url: str, relay: SlowRelay, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OUTBOX_", "UNIONEVENTS_OUTBOX_", "DATABASE_URL", "REDIS_URL"))}
    env.update(FLASK_APP="app", UNIONEVENTS_ENV="development", PYTHONPATH=str(ROOT), DATABASE_URL=url,
               SECRET_KEY=secrets.token_urlsafe(32), OUTBOX_SENDER="webhook", OUTBOX_WEBHOOK_URL=relay.url,
               UNIONEVENTS_OUTBOX_WEBHOOK_SECRET="s3cret")
    return subprocess.Popen([sys.executable, "-m", "flask", "outbox", "worker", "--batch", "5", "--poll", "0.2",
                             *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_worker_stops_gracefully_mid_batch(worker_db, stop_signal):
    url, other = worker_db
    relay = SlowRelay(delay=1.0)
    worker = _start_worker(url, relay)
    try:
        assert relay.first.wait(120), worker.stdout.read() if worker.poll() is not None else "no request"
        worker.send_signal(stop_signal)  # while the first message is at the relay
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
        relay.close()
    assert worker.returncode == 0, output
    assert "outbox worker stopped: sent 1" in output and "handed back 4" in output
    assert len(relay.received) == 1
    assert _states(other) == [(S.SENT, 1)] + [(S.QUEUED, 0)] * 4


def test_worker_delivers_everything_then_waits(worker_db):
    url, other = worker_db
    relay = SlowRelay(delay=0.0)
    worker = _start_worker(url, relay, "--batch", "2")
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts the app slowly
        while len(relay.received) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a few idle polls: nothing sent twice
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
        relay.close()
    assert worker.returncode == 0, output
    assert len(relay.received) == 5
    assert _states(other) == [(S.SENT, 1)] * 5
