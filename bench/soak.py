"""Soak (R5, short form): mixed traffic for a fixed time at fixed concurrency; 0 5xx, no memory growth.

gunicorn serves the product on 127.0.0.1 (SQLite file in a temp dir by default; the dedicated
database ``bench_soak`` (``<db>_soak`` when the URL names a database ``<db>``) on the PostgreSQL
server of DATABASE_URL / --database-url).  Client
threads (closed loop, ``--concurrency``) draw a kind of request for every iteration:

* browse  — home, catalogue, activity detail (anonymous) and the same plus "my registrations"
            as a logged-in worker (a session cookie signed in setup: the login form is rate-limited
            per address, and every client here shares 127.0.0.1);
* signup  — ``POST /api/v1/activities/<id>/registrations`` with a worker's API token, then
  cancel   ``POST /api/v1/registrations/<id>/cancel`` (the worker goes back to the pool);
* checkin — ``POST /api/v1/checkins`` as an organiser with the ticket of a confirmed registration;
* reports — the parameter-less GET pages under /reports/ as an officer, if the app has them.

The RSS of the gunicorn master and workers (from /proc) is sampled every few seconds; the mean
of the first window is compared with the mean of the last (windows of min(60 s, run / 4)).
Targets: no 5xx, no failed connection, RSS growth < 10 %.

    .venv/bin/python -m bench soak
    .venv/bin/python -m bench.soak --seconds 600          # the full R5 duration
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench soak
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from .common import (HOST, Server, add_server_options, bench_app, database_url, engine_label, machine_line,
                     percentile, product_env, raw_tokens, seed_signup_activity)

TARGETS = {"server_errors": 0, "failed": 0, "rss_growth_pct": 10.0}
# R5's latency bars, printed for reference (this shared 2-core machine is no production server).
R5_P95_MS = {"browse": 300.0, "reports": 300.0, "signup": 800.0}
USER_AGENT = "unionevents-bench-soak"
WEIGHTS = {"browse": 70, "signup": 15, "checkin": 10, "reports": 5}


# --- Setup -------------------------------------------------------------------------------------------

@dataclass
class Fixture:
    signup_activity: int
    checkin_activity: int
    worker_tokens: list[str]
    organiser_token: str
    tickets: list[str]
    worker_cookies: list[str]
    officer_cookie: str
    report_paths: list[str]
    cookie_name: str


def session_cookie(app, user) -> str:
    """A signed session cookie for ``user``, as the login form would set (same address and user agent)."""
    from flask import session
    from flask_login import login_user

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": HOST},
                                  headers={"User-Agent": USER_AGENT}):
        login_user(user)
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


def prepare(url: str, secret_key: str, workers: int, tickets: int) -> Fixture:
    from unionevents.accounts.models import Role, User
    from unionevents.accounts.services import create_user, grant_role, issue_token
    from unionevents.activities.models import ActivityKind, SignupMode
    from unionevents.activities.services import create_activity
    from unionevents.core.timeutil import now
    from unionevents.extensions import db
    from unionevents.registrations import services
    from unionevents.unions.models import UnionNode

    app = bench_app(url, secret_key)
    tokens = raw_tokens(workers)
    signup_activity = seed_signup_activity(url, tokens, 50, False, secret_key, app=app)
    with app.app_context():
        unit = db.session.scalar(db.select(UnionNode).where(UnionNode.name == "压测快递联合工会"))
        city = db.session.scalar(db.select(UnionNode).where(UnionNode.name == "压测市总工会"))
        organiser = create_user("13700000001", "压测组织者", "bench" + secrets.token_hex(8) + "7", union=unit,
                                accept_privacy=True)
        grant_role(organiser, Role.ORGANISER, node=unit)
        officer = create_user("13700000002", "压测干部", "bench" + secrets.token_hex(8) + "7", union=city,
                              accept_privacy=True)
        grant_role(officer, Role.OFFICER, node=city)
        organiser_token = issue_token(organiser, "bench soak")
        db.session.commit()
        starts = now() + timedelta(hours=1)
        checkin = create_activity(
            title="压测：入场签到", kind=ActivityKind.MEETING, node=unit, starts_at=starts,
            ends_at=starts + timedelta(hours=2), signup_opens_at=now() - timedelta(days=1),
            signup_closes_at=starts - timedelta(minutes=30), capacity=tickets,
            mode=SignupMode.FIRST_COME, publish=True)
        db.session.commit()
        users = list(db.session.scalars(db.select(User).where(User.union_id == unit.id)
                                        .order_by(User.id).limit(tickets)))
        ticket_list = [services.ticket_token(services.register(user, checkin.id)) for user in users]
        cookies = [session_cookie(app, user) for user in users[:50]]
        officer_cookie = session_cookie(app, officer)
        report_paths = sorted(
            rule.rule for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/reports") and "GET" in rule.methods and not rule.arguments)
        fixture = Fixture(signup_activity, checkin.id, tokens, organiser_token, ticket_list, cookies,
                          officer_cookie, report_paths, app.config["SESSION_COOKIE_NAME"])
        db.session.remove()
        db.engine.dispose()
    return fixture


# --- Load --------------------------------------------------------------------------------------------

@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status: str, latency_ms: float | None, sample: str | None = None) -> None:
        with self.lock:
            by_kind = self.statuses.setdefault(kind, {})
            by_kind[status] = by_kind.get(status, 0) + 1
            if latency_ms is not None:
                self.latencies.setdefault(kind, []).append(latency_ms)
            if sample and len(self.samples) < 8:
                self.samples.append(sample)

    def total(self) -> int:
        return sum(sum(s.values()) for s in self.statuses.values())

    def count(self, predicate) -> int:
        return sum(n for s in self.statuses.values() for status, n in s.items() if predicate(status))


class Client:
    """One keep-alive connection; every request is timed and recorded under its kind."""

    def __init__(self, port: int, stats: Stats):
        self.port, self.stats = port, stats
        self.conn: http.client.HTTPConnection | None = None

    def request(self, kind: str, method: str, path: str, *, headers: dict | None = None,
                body: bytes | None = None, expect: tuple[int, ...] = (200,)) -> tuple[int, bytes] | None:
        headers = {"User-Agent": USER_AGENT, **(headers or {})}
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
            latency = (time.perf_counter() - started) * 1000
            sample = None if response.status in expect else f"{kind} {method} {path} -> {response.status} " \
                                                            f"{payload[:160]!r}"
            self.stats.record(kind, str(response.status), latency, sample)
            if response.will_close:
                self.close()
            return response.status, payload
        except (OSError, http.client.HTTPException) as error:
            self.stats.record(kind, type(error).__name__, None, f"{kind} {method} {path}: {error!r}")
            self.close()
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def run_load(port: int, fx: Fixture, seconds: float, concurrency: int,
             seed: int | None) -> tuple[Stats, float]:
    stats = Stats()
    pool: queue.Queue[int] = queue.Queue()
    for index in range(len(fx.worker_tokens)):
        pool.put(index)
    tickets = iter(range(10**9))
    ticket_lock = threading.Lock()
    weights = dict(WEIGHTS)
    if not fx.report_paths:
        weights["browse"] += weights.pop("reports")
    kinds, kind_weights = list(weights), list(weights.values())
    gate = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def browse(client: Client, rng: random.Random) -> None:
        if rng.random() < 0.5:
            cookie = {"Cookie": f"{fx.cookie_name}={rng.choice(fx.worker_cookies)}"}
            path = rng.choice(["/", "/activities/", f"/activities/{fx.signup_activity}", "/me/registrations"])
        else:
            cookie = {}
            path = rng.choice(["/", "/activities/", f"/activities/{fx.signup_activity}",
                               f"/activities/{fx.checkin_activity}"])
        client.request("browse", "GET", path, headers={"Accept": "text/html", **cookie})

    def signup(client: Client, rng: random.Random) -> None:
        try:
            index = pool.get(timeout=1)
        except queue.Empty:
            return
        try:
            auth = {"Authorization": f"Bearer {fx.worker_tokens[index]}", "Content-Type": "application/json",
                    "Accept": "application/json"}
            reply = client.request("signup", "POST", f"/api/v1/activities/{fx.signup_activity}/registrations",
                                   headers=auth, body=b"{}", expect=(201,))
            if reply and reply[0] == 201:
                registration_id = json.loads(reply[1])["id"]
                client.request("cancel", "POST", f"/api/v1/registrations/{registration_id}/cancel",
                               headers=auth, body=b"{}")
        finally:
            pool.put(index)

    def checkin(client: Client, rng: random.Random) -> None:
        with ticket_lock:
            ticket = fx.tickets[next(tickets) % len(fx.tickets)]
        body = json.dumps({"token": ticket, "activity_id": fx.checkin_activity,
                           "client_id": str(uuid.UUID(int=rng.getrandbits(128)))}).encode()
        client.request("checkin", "POST", "/api/v1/checkins", body=body, headers={
            "Authorization": f"Bearer {fx.organiser_token}", "Content-Type": "application/json",
            "Accept": "application/json"})

    def reports(client: Client, rng: random.Random) -> None:
        client.request("reports", "GET", rng.choice(fx.report_paths), headers={
            "Accept": "text/html", "Cookie": f"{fx.cookie_name}={fx.officer_cookie}"})

    actions = {"browse": browse, "signup": signup, "checkin": checkin, "reports": reports}

    def worker(number: int) -> None:
        rng = random.Random(None if seed is None else seed * 1000 + number)
        client = Client(port, stats)
        gate.wait()
        while time.perf_counter() < deadline[0]:
            actions[rng.choices(kinds, kind_weights)[0]](client, rng)
        client.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    gate.wait()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return stats, time.perf_counter() - began


class RssSampler(threading.Thread):
    def __init__(self, server: Server, every: float, limit_s: float):
        super().__init__(daemon=True)
        self.server, self.every, self.limit_s = server, every, limit_s
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        while not self.stop.is_set() and time.monotonic() - began < self.limit_s:
            self.samples.append((time.monotonic() - began, self.server.rss_bytes()))
            self.stop.wait(self.every)


def rss_figures(samples: list[tuple[float, int]], wall: float) -> dict:
    window = min(60.0, max(5.0, wall / 4))
    first = [rss for t, rss in samples if t <= window]
    last = [rss for t, rss in samples if t >= wall - window]
    mib = 1024 * 1024
    first_mean = sum(first) / len(first) / mib if first else float("nan")
    last_mean = sum(last) / len(last) / mib if last else float("nan")
    return {"window_s": window, "samples": len(samples), "first_mib": first_mean, "last_mib": last_mean,
            "max_mib": max((rss for _, rss in samples), default=0) / mib,
            "growth_pct": (last_mean - first_mean) / first_mean * 100 if first and last else float("nan")}


# --- Main --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a PostgreSQL server URL (default: $DATABASE_URL; a SQLite file when unset)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run (default 60)")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads (default 32)")
    parser.add_argument("--workers", type=int, default=400, help="workers with API tokens (default 400)")
    parser.add_argument("--tickets", type=int, default=300,
                        help="confirmed tickets to check in (default 300)")
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds between RSS samples")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, server log)")
    add_server_options(parser)
    opts = parser.parse_args(argv)
    if not (1 <= opts.seconds <= 3600 and 1 <= opts.concurrency <= 256 and 1 <= opts.tickets <= opts.workers
            <= 20000):
        parser.error("seconds 1..3600, concurrency 1..256, 1 <= tickets <= workers <= 20000")

    tmp = Path(tempfile.mkdtemp(prefix="bench_soak_"))
    secret_key = secrets.token_urlsafe(32)
    try:
        url = database_url(opts.database_url, tmp, "soak")
        setup_started = time.perf_counter()
        fx = prepare(url, secret_key, opts.workers, opts.tickets)
        print(f"engine {engine_label(url)}; {opts.seconds:.0f} s at concurrency {opts.concurrency}; gunicorn "
              f"{opts.gunicorn_workers} x {opts.worker_class}"
              f"{f' ({opts.threads} threads)' if opts.worker_class == 'gthread' else ''}; "
              f"{machine_line()}; setup {time.perf_counter() - setup_started:.1f} s", flush=True)
        if fx.report_paths:
            print(f"reports: {', '.join(fx.report_paths)}")
        else:
            print("reports: skipped — the app has no GET route under /reports/ yet "
                  "(its 5 % share goes to browse)")

        with Server("product", "unionevents:create_app()", product_env(url, secret_key), tmp / "server.log",
                    opts) as server:
            # Sanity: the signed cookie logs a worker in (a redirect to the login page would mean
            # the "logged-in" browse traffic is anonymous).
            probe = Client(server.port, Stats())
            reply = probe.request("probe", "GET", "/me/registrations", headers={
                "Cookie": f"{fx.cookie_name}={fx.worker_cookies[0]}"})
            probe.close()
            if not reply or reply[0] != 200:
                print(f"MISSED: the session cookie does not log in (GET /me/registrations -> "
                      f"{reply and reply[0]})")
                return 1
            idle_rss = server.rss_bytes()
            sampler = RssSampler(server, opts.sample_every, opts.seconds + 120)
            sampler.start()
            stats, wall = run_load(server.port, fx, opts.seconds, opts.concurrency, opts.seed)
            sampler.stop.set()
            sampler.join(timeout=10)
            rss = rss_figures(sampler.samples, wall)

        total = stats.total()
        server_errors = stats.count(lambda s: s.isdigit() and s.startswith("5"))
        failed = stats.count(lambda s: not s.isdigit())
        print(f"{total} requests in {wall:.1f} s = {total / wall:.1f} req/s; 5xx {server_errors}; "
              f"failed connections {failed}")
        print(f"{'kind':8} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
        for kind in ["browse", "signup", "cancel", "checkin", "reports"]:
            if kind not in stats.statuses:
                continue
            lat = stats.latencies.get(kind, [])
            bar = f"  (R5 p95 bar {R5_P95_MS[kind]:.0f} ms)" if kind in R5_P95_MS else ""
            print(f"{kind:8} {sum(stats.statuses[kind].values()):7d} {percentile(lat, 50):8.1f} "
                  f"{percentile(lat, 95):8.1f} {percentile(lat, 99):8.1f}  "
                  f"{dict(sorted(stats.statuses[kind].items()))}{bar}")
        print(f"server RSS (master + {opts.gunicorn_workers} workers): idle {idle_rss / 1048576:.1f} MiB; "
              f"first {rss['window_s']:.0f} s mean {rss['first_mib']:.1f} MiB; last {rss['window_s']:.0f} s "
              f"mean {rss['last_mib']:.1f} MiB; max {rss['max_mib']:.1f} MiB; "
              f"growth {rss['growth_pct']:+.1f} % "
              f"({rss['samples']} samples)")
        if stats.samples:
            print(f"sample unexpected replies: {stats.samples}")
        print(json.dumps({
            "engine": engine_label(url), "seconds": round(wall, 1), "requests": total,
            "per_s": round(total / wall, 1), "server_errors": server_errors, "failed": failed,
            "rss_first_mib": round(rss["first_mib"], 1), "rss_last_mib": round(rss["last_mib"], 1),
            "rss_growth_pct": round(rss["growth_pct"], 1),
            **{f"{kind}_p95_ms": round(percentile(lat, 95), 1) for kind, lat in stats.latencies.items()},
        }, ensure_ascii=False))

        missed = []
        if server_errors > TARGETS["server_errors"]:
            missed.append(f"{server_errors} 5xx")
        if failed > TARGETS["failed"]:
            missed.append(f"{failed} failed connections")
        if not rss["growth_pct"] < TARGETS["rss_growth_pct"]:
            missed.append(f"RSS growth {rss['growth_pct']:.1f} % >= {TARGETS['rss_growth_pct']:.0f} %")
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
