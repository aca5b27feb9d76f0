"""Outbox delivery benchmark (issue 17): a city-wide message through ``flask outbox worker`` processes.

N messages (default 100,000) are queued with ``enqueue`` (the services' own call), then delivered by
1 and by 2 real ``flask outbox worker`` processes (webhook sender, signed requests) to a relay stub
on 127.0.0.1 that counts what it accepted per message id and checks every signature.  The stub
refuses 5 % of the numbers for good (HTTP 400) and answers 503 to the first attempt of another
5 % (a transient failure, retried after the backoff).  In the same run, a bare loop only POSTs the
same payloads to the stub (1 and 2 threads): the ceiling the relay allows.

Targets: every good message delivered exactly once (count by the stub), every refused one dead
in the database, none left pending, 0 bad signatures.

    .venv/bin/python -m bench outbox
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench outbox
    .venv/bin/python -m bench.outbox --messages 20000 --workers 1 2 4
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import get_context
from pathlib import Path

from .common import HOST, ROOT, database_url, engine_label, machine_line, product_env

QUEUE_CHUNK = 5000
WEBHOOK_SECRET = "bench-relay-secret"


# --- The relay stub ------------------------------------------------------------------------------------

def number(index: int) -> str:
    """The address of message ``index``: 5 % refused (1381…), 5 % transient (1382…), the rest good (1380…)."""
    kind = 1 if index % 20 == 0 else 2 if index % 20 == 1 else 0
    return f"138{kind}{index:07d}"


def _relay_main(port_pipe, stop_event) -> None:
    """Runs in its own process, so the stub's Python does not share a GIL with anything measured."""
    delivered: Counter = Counter()
    stats = {"refused": 0, "transient": 0, "bad_signature": 0, "first": None, "last": None, "requests": 0}
    lock = threading.Lock()
    key = WEBHOOK_SECRET.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            stamp = time.time()
            if self.path == "/bare":
                code = 200
            else:
                timestamp = self.headers.get("X-Unionevents-Timestamp", "")
                expected = "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                message = json.loads(body)
                with lock:
                    stats["requests"] += 1
                    stats["first"] = stats["first"] or stamp
                    stats["last"] = stamp
                    if not hmac.compare_digest(expected, self.headers.get("X-Unionevents-Signature", "")):
                        stats["bad_signature"] += 1
                        code = 401
                    elif message["to"].startswith("1381"):
                        stats["refused"] += 1
                        code = 400
                    elif message["to"].startswith("1382") and message["attempt"] == 1:
                        stats["transient"] += 1
                        code = 503
                    else:
                        delivered[message["id"]] += 1
                        code = 202
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # noqa: N802 - the driver reads the counts
            with lock:
                if self.path == "/count":
                    payload = json.dumps({"requests": stats["requests"], "delivered": {}}).encode()
                else:
                    payload = json.dumps({**stats, "delivered": delivered}).encode()
            if self.path == "/reset":
                with lock:
                    delivered.clear()
                    stats.update(refused=0, transient=0, bad_signature=0, first=None, last=None, requests=0)
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server((HOST, 0), Handler)
    port_pipe.send(server.server_port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop_event.wait()
    server.shutdown()


class Relay:
    def __init__(self):
        context = get_context("fork")
        receive, send = context.Pipe(duplex=False)
        self._stop = context.Event()
        self.process = context.Process(target=_relay_main, args=(send, self._stop), daemon=True)
        self.process.start()
        self.port = receive.recv()
        self.url = f"http://{HOST}:{self.port}/sms"

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://{HOST}:{self.port}{path}", timeout=30) as response:  # noqa: S310
            data = json.loads(response.read())
        data["delivered"] = {int(k): v for k, v in data["delivered"].items()}
        return data

    def stats(self) -> dict:
        return self._get("/stats")

    def requests(self) -> int:
        return self._get("/count")["requests"]

    def reset(self) -> dict:
        return self._get("/reset")

    def close(self) -> None:
        self._stop.set()
        self.process.join(5)


# --- Queueing, workers, checking ---------------------------------------------------------------------

def make_app(url: str, secret_key: str):
    from unionevents import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret_key})


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))


def queue(app, count: int, start: int = 0) -> float:
    """Empty the outbox and queue ``count`` messages with ``enqueue``; returns the seconds it took."""
    from sqlalchemy import delete

    from unionevents.core.db import write_transaction
    from unionevents.core.outbox import _OUTBOX_INSERT, Channel, OutboxMessage, OutboxState, Priority
    from unionevents.core.timeutil import now
    from unionevents.extensions import db

    with app.app_context():
        with write_transaction():
            db.session.execute(delete(OutboxMessage))
        began = time.perf_counter()
        for first in range(start, start + count, QUEUE_CHUNK):
            # The statement ``enqueue`` runs, many rows at a time (a city-wide message is one insert).
            with write_transaction():
                db.session.execute(_OUTBOX_INSERT, [{
                    "user_id": None, "kind": "bench", "subject": "", "channel": Channel.SMS,
                    "body": f"【工会】全市职工健康月：明天起可预约体检。消息 {index}", "created_at": now(),
                    "attempts": 0, "priority": int(Priority.BULK if index % 2 else Priority.NOTICE),
                    "address": number(index), "activity_id": None, "state": OutboxState.QUEUED,
                } for index in range(first, min(first + QUEUE_CHUNK, start + count))])
        seconds = time.perf_counter() - began
        db.session.remove()
    return seconds


def states(app) -> dict[str, int]:
    from unionevents.core.outbox_delivery import outbox_stats
    from unionevents.extensions import db

    with app.app_context():
        counts = outbox_stats()
        db.session.remove()
    return counts


def id_states(app) -> dict[int, str]:
    from sqlalchemy import select

    from unionevents.core.outbox import OutboxMessage
    from unionevents.extensions import db

    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.id, OutboxMessage.address, OutboxMessage.state)).all()
        db.session.remove()
    return {row.id: (row.address, row.state.value) for row in rows}


def worker_env(url: str, secret_key: str, relay: Relay, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTBOX_", "UNIONEVENTS_OUTBOX_"))}
    env.update(product_env(url, secret_key))
    env.update(FLASK_APP="app", PYTHONPATH=str(ROOT), OUTBOX_SENDER="webhook", OUTBOX_WEBHOOK_URL=relay.url,
               UNIONEVENTS_OUTBOX_WEBHOOK_SECRET=WEBHOOK_SECRET, UNIONEVENTS_OUTBOX_BACKOFF_BASE_SECONDS="0.5",
               UNIONEVENTS_OUTBOX_BULK_PER_RECIPIENT_PER_HOUR="0", UNIONEVENTS_OUTBOX_QUIET_HOURS_START="00:00",
               UNIONEVENTS_OUTBOX_QUIET_HOURS_END="00:00")  # the bench is about throughput, not the night
    env.update({f"UNIONEVENTS_{k}": str(v) for k, v in extra.items()})
    return env


def start_worker(env: dict, log_path: Path, batch: int) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, "-m", "flask", "outbox", "worker", "--batch", str(batch),
                                "--poll", "0.2"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process._log = log  # type: ignore[attr-defined]
    return process


def stop_worker(process: subprocess.Popen, sig=signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        code = process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    process._log.close()  # type: ignore[attr-defined]
    return code


def wait_drained(app, timeout: float, workers: list[subprocess.Popen] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = states(app)
        if counts["queued"] + counts["sending"] + counts["failed"] == 0:
            return True
        if workers and all(w.poll() is not None for w in workers):
            return False
        time.sleep(0.5)
    return False


@dataclass
class Check:
    messages: int
    delivered_once: int = 0
    lost: list[int] = field(default_factory=list)
    duplicates: int = 0          # extra deliveries beyond the first
    refused_dead: int = 0
    refused_not_dead: list[int] = field(default_factory=list)
    delivered_refused: int = 0
    pending: int = 0
    bad_signatures: int = 0

    @property
    def ok(self) -> bool:
        return (not self.lost and not self.duplicates and not self.refused_not_dead and not self.pending
                and not self.delivered_refused and not self.bad_signatures)

    def line(self) -> str:
        return (f"{self.delivered_once} delivered exactly once, {len(self.lost)} lost, {self.duplicates} "
                f"duplicates, {self.refused_dead} refused → dead ({len(self.refused_not_dead)} not dead), "
                f"{self.pending} pending, {self.bad_signatures} bad signatures")


def check(by_id: dict[int, tuple[str, str]], stats: dict) -> Check:
    delivered = stats["delivered"]
    result = Check(messages=len(by_id), bad_signatures=stats["bad_signature"])
    for message_id, (address, state) in by_id.items():
        count = delivered.get(message_id, 0)
        if state in ("queued", "sending", "failed"):
            result.pending += 1
        if address.startswith("1381"):
            if state == "dead":
                result.refused_dead += 1
            else:
                result.refused_not_dead.append(message_id)
            result.delivered_refused += count
            continue
        if count == 0:
            result.lost.append(message_id)
        else:
            result.delivered_once += count == 1
            result.duplicates += count - 1
    return result


# --- The runs ------------------------------------------------------------------------------------------

def bare_loop(relay: Relay, count: int, threads: int) -> float:
    """POST ``count`` payloads of the same size to the stub from ``threads`` threads; messages/s."""
    payload = json.dumps({"id": 1, "channel": "sms", "to": number(2), "kind": "bench", "subject": "",
                          "body": "【工会】全市职工健康月：明天起可预约体检。消息 12345", "attempt": 1},
                         ensure_ascii=False).encode()
    url = f"http://{HOST}:{relay.port}/bare"

    def run(n):
        for _ in range(n):
            request = urllib.request.Request(url, data=payload, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1
                response.read()

    began = time.perf_counter()
    pool = [threading.Thread(target=run, args=(count // threads,)) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return (count // threads * threads) / (time.perf_counter() - began)


def worker_run(app, url, secret_key, relay, tmp: Path, count: int, workers: int, batch: int,
               timeout: float) -> tuple[float, Check, float]:
    """Queue ``count`` messages, deliver them with ``workers`` worker processes; (messages/s, check,
    queue seconds).  Throughput runs from the stub's first request to its last."""
    queue_s = queue(app, count)
    relay.reset()
    env = worker_env(url, secret_key, relay)
    processes = [start_worker(env, tmp / f"worker{workers}-{n}.log", batch) for n in range(workers)]
    try:
        drained = wait_drained(app, timeout, processes)
    finally:
        codes = [stop_worker(p) for p in processes]
    stats = relay.stats()
    result = check(id_states(app), stats)
    if not drained:
        print(f"  not drained within {timeout:.0f} s (worker exit codes {codes})", flush=True)
    span = (stats["last"] or 0) - (stats["first"] or 0)
    return (count / span if span > 0 else 0.0), result, queue_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a PostgreSQL server URL (default: $DATABASE_URL; a SQLite file when unset)")
    parser.add_argument("--messages", type=int, default=100_000, help="messages queued (default 100,000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    parser.add_argument("--batch", type=int, default=50, help="messages claimed at a time (default 50)")
    parser.add_argument("--bare", type=int, default=None, help="bare-loop requests (default: --messages)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run at most")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (SQLite file, worker logs)")
    opts = parser.parse_args(argv)
    if not (1 <= opts.messages <= 2_000_000 and all(1 <= w <= 16 for w in opts.workers)):
        parser.error("messages 1..2,000,000, workers 1..16")

    relay = Relay()  # forked before any database engine exists
    tmp = Path(tempfile.mkdtemp(prefix="bench_outbox_"))
    secret_key = secrets.token_urlsafe(32)
    ok = True
    try:
        url = database_url(opts.database_url, tmp, "outbox")
        app = make_app(url, secret_key)
        migrate(app)
        print(f"engine {engine_label(url)}; {opts.messages} messages (5 % refused, 5 % fail once); batch "
              f"{opts.batch}; {machine_line()}", flush=True)
        bare = opts.bare or opts.messages
        bare_rates = {threads: bare_loop(relay, bare, threads) for threads in (1, 2)}
        for threads, rate in bare_rates.items():
            print(f"bare loop ({threads} thread{'s' if threads > 1 else ''}, {bare} POSTs to the stub): "
                  f"{rate:,.0f} messages/s", flush=True)
        for workers in opts.workers:
            rate, result, queue_s = worker_run(app, url, secret_key, relay, tmp, opts.messages, workers,
                                               opts.batch, opts.timeout)
            print(f"queued {opts.messages} (enqueue's INSERT, 5,000 rows a statement) in {queue_s:.1f} s "
                  f"({opts.messages / queue_s:,.0f}/s)", flush=True)
            print(f"{workers} worker{'s' if workers > 1 else ''}: {rate:,.0f} messages/s "
                  f"({rate / bare_rates[min(workers, 2)]:.0%} of the bare loop with "
                  f"{min(workers, 2)} thread{'s' if workers > 1 else ''}); {result.line()}"
                  f" — {'ok' if result.ok else 'FAILED'}", flush=True)
            ok &= result.ok
        print(f"after: {machine_line()}", flush=True)
        with app.app_context():
            from unionevents.extensions import db
            db.engine.dispose()
    finally:
        relay.close()
        if opts.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
