"""Pieces shared by the benchmarks: databases, seeding, serving with gunicorn, percentiles.

Everything here talks to 127.0.0.1 only (``HOST``).
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # never anything else: the load stays on this machine


# --- Databases ---------------------------------------------------------------------------------------

def fresh_databases(server_url: str, names: list[str]) -> list[str]:
    """(Re)create the databases ``names`` on the PostgreSQL server of ``server_url``; return their URLs."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit("DATABASE_URL must be a PostgreSQL URL (SQLite is the default without it)")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    urls = []
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            urls.append(url.set(database=name).render_as_string(hide_password=False))
    admin.dispose()
    return urls


def bench_database_name(server_url: str, name: str) -> str:
    """``bench_<name>``, or ``<db>_<name>`` when the URL names a database of its own (not ``postgres``),
    so that benchmarks run by several people against one server do not drop each other's databases."""
    from sqlalchemy.engine import make_url

    base = make_url(server_url).database
    return f"{base if base and base != 'postgres' else 'bench'}_{name}"


def database_url(server_url: str | None, tmp: Path, name: str) -> str:
    """A SQLite file ``<tmp>/<name>.db``, or a fresh database (see ``bench_database_name``) on the
    PostgreSQL server."""
    if not server_url:
        return f"sqlite:///{tmp / (name + '.db')}"
    return fresh_databases(server_url, [bench_database_name(server_url, name)])[0]


def engine_label(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


def account_password() -> str:
    """A random password the account rules accept: letters and a digit, whatever the draw.
    (``token_urlsafe(12)`` had no digit in about one draw of 15, and the invariants benchmark then
    stopped at its first account.)"""
    return "bench" + secrets.token_hex(8) + "7"


def raw_tokens(count: int) -> list[str]:
    return ["ue_" + secrets.token_urlsafe(32) for _ in range(count)]


def seed_signup_activity(url: str, tokens: list[str], capacity: int, migrate: bool, secret_key: str,
                         *, app=None, waitlist: bool = True) -> int:
    """Schema, one activity (first come, waiting list on) and one worker with an API token per entry of
    ``tokens``; returns the activity id.  Pass ``app`` to seed through an existing app (and keep it)."""
    if migrate:
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=secret_key, FLASK_APP="app")
        subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)

    from sqlalchemy import insert

    from unionevents.accounts.models import ApiToken, Occupation, User
    from unionevents.accounts.services import token_digest
    from unionevents.activities.models import ActivityKind, SignupMode
    from unionevents.activities.services import create_activity
    from unionevents.core.timeutil import now
    from unionevents.extensions import db
    from unionevents.unions.models import NodeLevel
    from unionevents.unions.services import create_node

    own_app = app is None
    if own_app:
        app = bench_app(url, secret_key)
    with app.app_context():
        if not migrate:
            db.create_all()
        city = create_node("压测市总工会", NodeLevel.CITY)
        unit = create_node("压测快递联合工会", NodeLevel.WORKPLACE, city, "朝阳区")
        starts = now() + timedelta(days=7)
        activity = create_activity(
            title="压测：健身课抢报", kind=ActivityKind.CLASS_, node=unit, starts_at=starts,
            ends_at=starts + timedelta(hours=2), signup_opens_at=now() - timedelta(hours=1),
            signup_closes_at=starts - timedelta(hours=2), capacity=capacity,
            mode=SignupMode.FIRST_COME, waitlist_enabled=waitlist, publish=True,
        )
        db.session.commit()
        # Workers in bulk: accounts made by bulk import carry no usable password ("!" never verifies);
        # the token is issued directly, only its digest stored.
        created = now()
        first = db.session.scalar(db.select(db.func.count(User.id))) or 0
        db.session.execute(insert(User), [
            {"mobile": f"139{first + i:08d}", "name": f"职工{first + i}", "union_id": unit.id,
             "district": "朝阳区", "occupation": Occupation.COURIER,
             "password_hash": "!", "activated": True, "session_version": 1, "created_at": created}
            for i in range(len(tokens))
        ])
        ids = list(db.session.scalars(db.select(User.id).where(User.union_id == unit.id).order_by(User.id)))
        db.session.execute(insert(ApiToken), [
            {"user_id": user_id, "digest": token_digest(raw), "label": "bench", "created_at": created,
             "expires_at": created + timedelta(days=30)}
            for user_id, raw in zip(ids, tokens)
        ])
        db.session.commit()
        activity_id = activity.id
        if own_app:
            db.engine.dispose()
    return activity_id


def prepare_baseline(url: str, tokens: list[str]) -> None:
    """The baseline app's tables (``bench/baseline_app.py``) and one token row per entry of ``tokens``."""
    from sqlalchemy import insert

    from bench.baseline_app import make_engine, metadata, tokens as token_table

    engine = make_engine(url)
    metadata.create_all(engine)
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        conn.execute(insert(token_table), [
            {"digest": hashlib.sha256(raw.encode()).hexdigest(), "user_id": i + 1}
            for i, raw in enumerate(tokens)
        ])
    engine.dispose()


def start_together(threads: list, gate, deadline: list[float], seconds: float) -> float:
    """Start ``threads`` (each waits at ``gate``), set their shared ``deadline`` to ``seconds`` from now
    and let them go; returns the start (``time.perf_counter()``)."""
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    gate.wait()
    return began

def bench_app(url: str, secret_key: str):
    """The product app on ``url`` for seeding and checking (not serving)."""
    from unionevents import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret_key})


# --- Serving -----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def add_server_options(parser: argparse.ArgumentParser, *, workers: int = 4, worker_class: str = "sync",
                       threads: int = 1) -> None:
    parser.add_argument("--gunicorn-workers", type=int, default=workers)
    parser.add_argument("--worker-class", default=worker_class, choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=threads, help="threads per gunicorn worker (gthread)")


def product_env(url: str, secret_key: str) -> dict:
    # Server-Timing on: the load client splits each request's latency into phases (core/timing.py).
    return {"DATABASE_URL": url, "SECRET_KEY": secret_key, "UNIONEVENTS_ENV": "development",
            "UNIONEVENTS_SERVER_TIMING": "1"}


@dataclass
class Server:
    """gunicorn on 127.0.0.1 in its own process group (so ``kill()`` reaches the master and every worker)."""

    name: str
    app_spec: str
    env: dict
    log: Path
    options: argparse.Namespace
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    _log_file: object = None

    def __enter__(self) -> "Server":
        self.start()
        return self

    def start(self, ready_timeout: float = 60.0) -> None:
        opts = self.options
        command = [
            sys.executable, "-m", "gunicorn", self.app_spec, "--bind", f"{HOST}:{self.port}",
            "--workers", str(opts.gunicorn_workers), "--worker-class", opts.worker_class,
            "--threads", str(opts.threads), "--backlog", "2048", "--timeout", "60",
            "--keep-alive", "30", "--log-level", "warning",
        ]
        env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
        env.update(self.env, PYTHONPATH=str(ROOT))
        if self._log_file is None:
            self._log_file = open(self.log, "ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ready = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name}: gunicorn exited; see {self.log}\n"
                                 f"{self.log.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/__ready__")
                conn.getresponse().read()
                conn.close()
                ready += 1
                if ready >= self.options.gunicorn_workers * 2:  # give every worker time to boot
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{self.name}: gunicorn did not answer within {timeout:.0f} s; see {self.log}")

    def pids(self) -> list[int]:
        """The master and its workers (read from /proc)."""
        if not self.process or self.process.poll() is not None:
            return []
        master = self.process.pid
        pids = [master]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields_ = stat[stat.rindex(")") + 2:].split()
            if int(fields_[1]) == master:  # ppid
                pids.append(int(entry.name))
        return pids

    def rss_bytes(self) -> int:
        """Resident memory of the master and every worker, summed."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the whole process group (master and workers) and wait until none is left."""
        if not self.process:
            return
        pgid = self.process.pid  # start_new_session: the master leads its own group
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=0.2)  # reap the master
            except subprocess.TimeoutExpired:
                pass
            if not group_alive(pgid):  # workers may linger as zombies until init reaps them
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: processes of group {pgid} survived SIGKILL "
                                 f"for {timeout:.0f} s")
        self.process.wait(timeout=timeout)

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
        if int(rest[2]) == pgid and rest[0] not in ("Z", "X"):
            return True
    return False


# --- Figures -----------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of the values at or below it
    (nan for no values).  p95 of 20 values is the 19th smallest, not the largest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered) - 1e-9)  # the float product may land a hair above an integer
    return ordered[min(len(ordered), max(1, rank)) - 1]


def machine_line() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"nproc {os.cpu_count()}; load average {load}"


# --- Where the CPU went ------------------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class CpuSnapshot:
    """CPU ticks used so far by every process (from /proc), and the machine's busy and total ticks."""

    per_pid: dict[int, tuple[int, str]]
    busy: int
    total: int

    @classmethod
    def take(cls) -> "CpuSnapshot":
        per_pid: dict[int, tuple[int, str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            rest = stat[stat.rindex(")") + 2:].split()
            per_pid[int(entry.name)] = (int(rest[11]) + int(rest[12]), command)  # utime + stime
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        idle = ticks[3] + ticks[4]  # idle + iowait
        return cls(per_pid, sum(ticks) - idle, sum(ticks))


def cpu_split(before: CpuSnapshot, after: CpuSnapshot, server_pids: list[int]) -> dict[str, float]:
    """CPU seconds between two snapshots: the app server (``server_pids``), the PostgreSQL server's
    processes, this load client, everything else, and the share of the machine that was busy.

    Linux only; SQLite's work is done inside the app server's processes."""
    split = {"app": 0.0, "database": 0.0, "client": 0.0, "other": 0.0}
    servers, me = set(server_pids), os.getpid()
    for pid, (ticks, command) in after.per_pid.items():
        used = (ticks - before.per_pid.get(pid, (0, ""))[0]) / _CLOCK_TICKS
        if used <= 0:
            continue
        if pid in servers:
            split["app"] += used
        elif command.startswith("postgres"):
            split["database"] += used
        elif pid == me:
            split["client"] += used
        else:
            split["other"] += used
    total = after.total - before.total
    split["busy_share"] = (after.busy - before.busy) / total if total else float("nan")
    return split
