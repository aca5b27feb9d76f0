"""Crash test (R7): SIGKILL every server process during a sign-up rush, restart, and lose nothing.

The product is served by gunicorn on 127.0.0.1 (SQLite file in a temp dir by default; the
dedicated database ``bench_crash`` — ``<db>_crash`` when the URL names a database ``<db>`` — on the
PostgreSQL server of DATABASE_URL / --database-url).
Client threads sign workers up through ``POST /api/v1/activities/<id>/registrations`` for an
activity with few places and a waiting list.  A registration id is appended to an fsynced
journal only AFTER its 201 reply arrived.  At a random moment the whole gunicorn process group
(master and workers) gets SIGKILL; the server is restarted and the rush goes on — ``--cycles``
times.  After every restart, and at the end, with the clients paused:

* every journaled id exists in the database in a live state (pending, confirmed, waitlisted);
* ``activity.taken`` == the registrations holding a place, and ``taken <= capacity``;
* no worker holds two live registrations for the activity;
* SQLite: ``PRAGMA integrity_check`` is ``ok``.

    .venv/bin/python -m bench crash
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench crash
    .venv/bin/python -m bench.crash --help
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import secrets
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .common import (HOST, Server, add_server_options, database_url, engine_label, machine_line,
                     product_env, raw_tokens, seed_signup_activity)

MIN_CYCLES = 20


# --- Journal -----------------------------------------------------------------------------------------

class Journal:
    """Append-only file of registration ids, one a line, fsynced after every append."""

    def __init__(self, path: Path):
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock = threading.Lock()

    def append(self, registration_id: int) -> None:
        line = f"{int(registration_id)}\n".encode()
        with self._lock:
            os.write(self._fd, line)
            os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def read_journal(path: Path) -> list[int]:
    """The ids in the journal; a line without its newline (a torn write) is not counted."""
    text = path.read_text() if path.exists() else ""
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline is empty or torn
    return [int(line) for line in complete if line.strip()]


# --- Checks ------------------------------------------------------------------------------------------

@dataclass
class Snapshot:
    """What the checker needs from the database, read in one transaction."""

    states: dict[int, str]          # registration id -> state value, for the activity
    taken: int                      # activity.taken
    capacity: int
    duplicate_live_workers: int     # workers with more than one live registration for the activity
    integrity: str = "n/a"          # SQLite PRAGMA integrity_check ("ok"), "n/a" on PostgreSQL


@dataclass
class CheckResult:
    journaled: int
    lost: list[int]
    not_live: list[int]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.not_live and not self.problems


def _state_sets() -> tuple[set[str], set[str]]:
    from unionevents.registrations.models import LIVE_STATES, PLACE_STATES

    return {s.value for s in LIVE_STATES}, {s.value for s in PLACE_STATES}


def check(journal_ids: Iterable[int], snap: Snapshot) -> CheckResult:
    """Compare the journal with the database: every journaled id must exist and be live."""
    live, place = _state_sets()
    ids = set(journal_ids)
    lost = sorted(i for i in ids if i not in snap.states)
    not_live = sorted(i for i in ids if i in snap.states and snap.states[i] not in live)
    problems = []
    holding = sum(1 for state in snap.states.values() if state in place)
    if snap.taken != holding:
        problems.append(f"taken {snap.taken} != {holding} registrations holding a place")
    if snap.taken > snap.capacity:
        problems.append(f"taken {snap.taken} > capacity {snap.capacity}")
    if snap.duplicate_live_workers:
        problems.append(f"{snap.duplicate_live_workers} worker(s) with two live registrations")
    if snap.integrity not in ("ok", "n/a"):
        problems.append(f"integrity_check: {snap.integrity}")
    return CheckResult(len(ids), lost, not_live, problems)


def read_snapshot(conn, activity_id: int) -> Snapshot:
    """The activity's registrations and counters through ``conn`` (run it inside one transaction)."""
    from sqlalchemy import text

    live, _ = _state_sets()
    rows = conn.execute(text("SELECT id, state FROM registration WHERE activity_id = :a"),
                        {"a": activity_id}).all()
    taken, capacity = conn.execute(text("SELECT taken, capacity FROM activity WHERE id = :a"),
                                   {"a": activity_id}).one()
    live_list = ", ".join(f"'{state}'" for state in sorted(live))
    duplicates = conn.scalar(text(
        f"SELECT COUNT(*) FROM (SELECT user_id FROM registration WHERE activity_id = :a "
        f"AND state IN ({live_list}) GROUP BY user_id HAVING COUNT(*) > 1) d"), {"a": activity_id})
    states = {int(rid): str(getattr(state, "value", state)) for rid, state in rows}
    return Snapshot(states, int(taken), int(capacity), int(duplicates or 0))


def take_snapshot(url: str, activity_id: int) -> Snapshot:
    """``read_snapshot`` in one transaction on a fresh engine, plus ``PRAGMA integrity_check`` on SQLite."""
    from sqlalchemy import create_engine

    options = {} if url.startswith("sqlite") else {"isolation_level": "REPEATABLE READ"}
    engine = create_engine(url, **options)
    try:
        with engine.connect() as conn, conn.begin():
            snap = read_snapshot(conn, activity_id)
    finally:
        engine.dispose()
    if url.startswith("sqlite"):
        snap.integrity = sqlite_integrity(url.removeprefix("sqlite:///"))
    return snap


def sqlite_integrity(path: str) -> str:
    conn = sqlite3.connect(path, timeout=30)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "; ".join(str(row[0]) for row in rows[:5])


# --- Load --------------------------------------------------------------------------------------------

@dataclass
class Tally:
    attempted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    unknown: int = 0  # the server died before replying: the outcome is not known, nothing journaled
    samples: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("5"))


class Rush:
    """Client threads signing up one token each, pausing while the server is down."""

    def __init__(self, port: int, path: str, tokens: list[str], journal: Journal, concurrency: int,
                 deadline: float):
        self.port, self.path, self.tokens, self.journal = port, path, tokens, journal
        self.deadline = deadline
        self.up = threading.Event()
        self.stop = threading.Event()
        self.tally = Tally()
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(concurrency)]

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self.tally.attempted >= len(self.tokens)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def pause(self, timeout: float = 40.0) -> None:
        """No new request starts; wait (bounded) until those in flight have ended."""
        self.up.clear()
        end = time.monotonic() + timeout
        with self._idle:
            while self._in_flight and time.monotonic() < end:
                self._idle.wait(timeout=0.2)

    def finish(self) -> None:
        self.stop.set()
        self.up.set()
        for thread in self.threads:
            thread.join(timeout=40)

    def _record(self, status: str, sample: str | None = None, state: str | None = None) -> None:
        with self._lock:
            self.tally.statuses[status] = self.tally.statuses.get(status, 0) + 1
            if state:
                self.tally.states[state] = self.tally.states.get(state, 0) + 1
            if sample and len(self.tally.samples) < 5:
                self.tally.samples.append(sample)

    def _client(self) -> None:
        conn = None
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            if not self.up.wait(timeout=0.5):
                continue
            with self._lock:
                if not self.up.is_set():
                    continue
                index = next(self._counter)
                if index >= len(self.tokens):
                    return
                self.tally.attempted += 1
                self._in_flight += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                conn.request("POST", self.path, body=b"{}", headers={
                    "Authorization": f"Bearer {self.tokens[index]}", "Content-Type": "application/json",
                    "Accept": "application/json"})
                response = conn.getresponse()
                payload = response.read()
                if response.status == 201:
                    reply = json.loads(payload)
                    self.journal.append(reply["id"])  # only now: the reply has arrived
                    self._record("201", state=reply.get("state"))
                else:
                    self._record(str(response.status), f"{response.status} {payload[:160]!r}")
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError):
                with self._lock:
                    self.tally.unknown += 1
                if conn is not None:
                    conn.close()
                conn = None
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()
        if conn is not None:
            conn.close()


# --- Main --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a PostgreSQL server URL (default: $DATABASE_URL; a SQLite file when unset)")
    parser.add_argument("--cycles", type=int, default=MIN_CYCLES,
                        help=f"kill -9 cycles (default {MIN_CYCLES})")
    parser.add_argument("--workers", type=int, default=12000,
                        help="signing-up workers, enough for 20 cycles on a fast machine (default 12000)")
    parser.add_argument("--capacity", type=int, default=300, help="places (default 300)")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--burst", type=float, nargs=2, default=(0.3, 2.5), metavar=("MIN", "MAX"),
                        help="seconds of rush before the kill, drawn uniformly (default 0.3 2.5)")
    parser.add_argument("--time-limit", type=float, default=240.0,
                        help="seconds after which no new cycle starts (default 240)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the kill moments")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, journal, logs)")
    add_server_options(parser, workers=2, worker_class="gthread", threads=4)
    opts = parser.parse_args(argv)
    if not (1 <= opts.cycles <= 500 and 1 <= opts.workers <= 50000 and 1 <= opts.concurrency <= 128):
        parser.error("cycles 1..500, workers 1..50000, concurrency 1..128")

    rng = random.Random(opts.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench_crash_"))
    secret_key = secrets.token_urlsafe(32)
    began = time.monotonic()
    try:
        url = database_url(opts.database_url, tmp, "crash")
        tokens = raw_tokens(opts.workers)
        activity_id = seed_signup_activity(url, tokens, opts.capacity, False, secret_key)
        print(f"engine {engine_label(url)}; {opts.workers} workers, {opts.capacity} places, "
              f"concurrency {opts.concurrency}; gunicorn {opts.gunicorn_workers} x {opts.worker_class}"
              f"{f' ({opts.threads} threads)' if opts.worker_class == 'gthread' else ''}; "
              f"{machine_line()}", flush=True)
        journal = Journal(tmp / "journal.txt")
        server = Server("product", "unionevents:create_app()", product_env(url, secret_key),
                        tmp / "server.log", opts)
        results: list[CheckResult] = []
        integrity: dict[str, int] = {}
        restart_s: list[float] = []

        def verify(label: str) -> CheckResult:
            ids = read_journal(journal.path)  # the journal first: every id in it was committed before
            snap = take_snapshot(url, activity_id)
            result = check(ids, snap)
            integrity[snap.integrity] = integrity.get(snap.integrity, 0) + 1
            results.append(result)
            if not result.ok:
                print(f"  {label}: lost {result.lost[:10]} not live {result.not_live[:10]} "
                      f"{result.problems}", flush=True)
            return result

        server.start()
        rush = Rush(server.port, f"/api/v1/activities/{activity_id}/registrations", tokens, journal,
                    opts.concurrency, deadline=began + opts.time_limit + 120)
        rush.start()
        cycles = 0
        per_cycle: list[str] = []  # burst length and 201 replies seen before each kill
        try:
            while cycles < opts.cycles and time.monotonic() - began < opts.time_limit and not rush.exhausted:
                before = sum(rush.tally.states.values())
                burst = rng.uniform(*opts.burst)
                rush.up.set()
                time.sleep(burst)
                rush.up.clear()  # new requests wait; those in flight meet the kill
                server.kill()
                cycles += 1
                rush.pause()
                per_cycle.append(f"{burst:.1f}s:{sum(rush.tally.states.values()) - before}")
                started = time.monotonic()
                server.start()
                restart_s.append(time.monotonic() - started)
                verify(f"cycle {cycles}")
            # a last burst, a clean stop, a last check
            rush.up.set()
            time.sleep(opts.burst[1])
            rush.pause()
        finally:
            rush.finish()
            server.__exit__(None, None, None)
            journal.close()
        final = verify("final")

        tally = rush.tally
        confirmed_seen = sum(tally.states.values())
        lost = len(final.lost)
        not_live = len(final.not_live)
        invariant_failures = sum(1 for r in results if r.problems)
        rows = [
            ("engine", engine_label(url)),
            ("kill -9 cycles", cycles),
            ("checks (after each restart + final)", len(results)),
            ("sign-ups attempted", tally.attempted),
            ("201 seen (journaled)",
             f"{confirmed_seen} ({', '.join(f'{k} {v}' for k, v in sorted(tally.states.items()))})"),
            ("journal lines", final.journaled),
            ("unknown outcome (server killed mid-request)", tally.unknown),
            ("other replies", {k: v for k, v in tally.statuses.items() if k != "201"}),
            ("lost (journaled, missing)", lost),
            ("journaled but not live", not_live),
            ("checks with invariant failures", invariant_failures),
            ("integrity_check results", integrity),
            ("restart s (median / max)",
             f"{sorted(restart_s)[len(restart_s) // 2]:.1f} / {max(restart_s):.1f}"
             if restart_s else "-"),
            ("wall s", f"{time.monotonic() - began:.0f}"),
        ]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
        print(f"per cycle (burst s:201 seen): {' '.join(per_cycle)}")
        if tally.samples:
            print(f"sample non-201 replies: {tally.samples}")
        print(json.dumps({"engine": engine_label(url), "cycles": cycles, "attempted": tally.attempted,
                          "confirmed_seen": confirmed_seen, "lost": lost, "not_live": not_live,
                          "invariant_failures": invariant_failures, "integrity": integrity,
                          "server_errors": tally.server_errors}, ensure_ascii=False))

        missed = []
        if cycles < MIN_CYCLES:
            missed.append(f"only {cycles} cycles (< {MIN_CYCLES})")
        if lost or not_live or any(r.lost or r.not_live for r in results):
            missed.append(f"{lost} lost, {not_live} not live")
        if invariant_failures:
            missed.append(f"{invariant_failures} checks with invariant failures")
        if tally.server_errors:
            missed.append(f"{tally.server_errors} 5xx replies")
        for item in missed:
            print(f"MISSED: {item}")
        if opts.keep:
            print(f"kept {tmp}")
        return 1 if missed else 0
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
