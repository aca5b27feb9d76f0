"""Soak (R5): mixed traffic for a fixed time; 0 5xx, no memory growth; the highest rate that holds R5's bars.

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
* upload  — (R5 mix) a worker with a photo entry opens its edit form (GET, for the CSRF token) and
            sends a new photo (multipart POST), which the app checks, strips and re-encodes.

Two ways to drive it:

* closed loop (default): ``--concurrency`` threads, each sending its next request as soon as the
  last one is answered; the soak mix (browse 70 %, sign-up 15 %, check-in 10 %, reports 5 %).
* fixed rate (``--rate R``, R5): R actions a second are started on schedule whatever the answers,
  by up to ``--concurrency`` threads; a latency counts from the scheduled start, so a server that
  falls behind shows it (no coordinated omission).  R5's mix: browse 80 %, sign-up 10 %, check-in
  5 %, upload 5 %.  ``--search`` steps the rate up from ``--rate`` (default 30/s) by ``--rate-step``
  every ``--step-seconds`` until a step misses R5's bars (p95 300 ms for reads, 800 ms for sign-ups;
  0 5xx; the rate kept up) and reports the highest rate that held them.

Targets: no 5xx, no failed connection, RSS growth < 10 %; in the closed loop also browse and reports
each p95 <= 300 ms (R5's bar for reads).

Baseline: before the soak, the same client threads run for ``--baseline-seconds`` (10) against
``bench/baseline_app.py``'s ``GET /me`` (a token lookup, one SELECT) on the same engine and gunicorn
settings.  Its figures and the ratio of the two request rates are printed and recorded, not judged: they
tell how fast the machine was in this run, so soaks run at different hours can be compared.

On SQLite it also reports, from the server's request log (``write_lock_ms``, see ``core.db``), the
longest time any request held the database's write lock, which every other writer waited out (R5).

    .venv/bin/python -m bench soak
    .venv/bin/python -m bench.soak --seconds 600          # the full R5 duration (closed loop)
    .venv/bin/python -m bench.soak --search               # R5: the highest fixed rate that holds
    .venv/bin/python -m bench.soak --rate 90 --seconds 600  # R5: 10 minutes at that rate
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench soak
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import re
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

from .common import (HOST, Server, account_password, add_server_options, bench_app, database_url, engine_label,
                     machine_line, percentile, prepare_baseline, product_env, raw_tokens, seed_signup_activity,
                     start_together)

TARGETS = {"server_errors": 0, "failed": 0, "rss_growth_pct": 10.0}
# R5's latency bars.  The closed loop judges its reads by them too (issue 21: browse and reports
# p95 <= 300 ms at concurrency 32), so "targets met" means the reads held.
R5_P95_MS = {"browse": 300.0, "reports": 300.0, "signup": 800.0}
USER_AGENT = "unionevents-bench-soak"
WEIGHTS = {"browse": 70, "signup": 15, "checkin": 10, "reports": 5}
R5_WEIGHTS = {"browse": 80, "signup": 10, "checkin": 5, "upload": 5}  # reliability.md, R5
R5_READ_KINDS = ("browse", "reports", "upload_form")  # every GET page: R5's "reads"


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
    # (entry id, session cookie) of workers with a photo entry, and photos to send (R5 uploads)
    uploaders: list[tuple[int, str]] = field(default_factory=list)
    photos: list[bytes] = field(default_factory=list)


def session_cookie(app, user) -> str:
    """A signed session cookie for ``user``, as the login form would set (same address and user agent)."""
    from flask import session
    from flask_login import login_user

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": HOST},
                                  headers={"User-Agent": USER_AGENT}):
        login_user(user)
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


def photo(seed: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A phone-sized JPEG (1600×1200, ~350 KB of tinted noise), different for each seed."""
    import io

    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    image = Image.effect_noise(size, 60).convert("RGB").filter(ImageFilter.GaussianBlur(1))
    tint = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    Image.blend(image, tint, 0.5).save(out, "JPEG", quality=85)
    return out.getvalue()


def prepare_uploads(app, unit, organiser, count: int) -> tuple[list[tuple[int, str]], list[bytes]]:
    """A photo contest open for entries and ``count`` workers with one entry each (made through the
    contest service, as the entry form would), with their session cookies; and four photos to send."""
    import io

    from unionevents.accounts.models import User
    from unionevents.activities.models import ActivityKind, SignupMode
    from unionevents.activities.services import create_activity
    from unionevents.contests import services as contests
    from unionevents.contests.models import ContestFormat
    from unionevents.core.timeutil import now
    from unionevents.extensions import db

    starts = now() + timedelta(days=10)
    activity = create_activity(
        title="压测：职工摄影比赛", kind=ActivityKind.CONTEST, node=unit, starts_at=starts,
        ends_at=starts + timedelta(hours=2), signup_opens_at=now() - timedelta(days=1),
        signup_closes_at=now() + timedelta(days=5), capacity=count, mode=SignupMode.FIRST_COME,
        waitlist_enabled=False, publish=True)
    db.session.commit()
    contests.setup_contest(organiser, activity.id, contests.ContestSettings(format=ContestFormat.PHOTO,
                                                                           entry_limit=1))
    photos = [photo(seed) for seed in range(4)]
    users = list(db.session.scalars(db.select(User).where(User.union_id == unit.id)
                                    .order_by(User.id.desc()).limit(count)))
    uploaders = []
    for number, user in enumerate(users):
        entry = contests.submit_entry(user, activity.id, contests.EntryData(title=f"压测作品{number}"),
                                      [contests.Upload(stream=io.BytesIO(photos[number % 4]), filename="a.jpg")])
        uploaders.append((entry.id, session_cookie(app, user)))
    return uploaders, photos


def prepare(url: str, secret_key: str, workers: int, tickets: int, uploaders: int = 0,
            upload_dir: Path | None = None) -> Fixture:
    from unionevents.accounts.models import Role, User
    from unionevents.accounts.services import create_user, grant_role, issue_token
    from unionevents.activities.models import ActivityKind, SignupMode
    from unionevents.activities.services import create_activity
    from unionevents.core.timeutil import now
    from unionevents.extensions import db
    from unionevents.registrations import services
    from unionevents.unions.models import UnionNode

    app = bench_app(url, secret_key)
    if upload_dir is not None:
        app.config["UPLOAD_DIR"] = str(upload_dir)
    tokens = raw_tokens(workers)
    signup_activity = seed_signup_activity(url, tokens, 50, False, secret_key, app=app)
    with app.app_context():
        unit = db.session.scalar(db.select(UnionNode).where(UnionNode.name == "压测快递联合工会"))
        city = db.session.scalar(db.select(UnionNode).where(UnionNode.name == "压测市总工会"))
        organiser = create_user("13700000001", "压测组织者", account_password(), union=unit,
                                accept_privacy=True)
        grant_role(organiser, Role.ORGANISER, node=unit)
        officer = create_user("13700000002", "压测干部", account_password(), union=city,
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
        if uploaders:
            fixture.uploaders, fixture.photos = prepare_uploads(app, unit, organiser, uploaders)
        db.session.remove()
        db.engine.dispose()
    return fixture


# --- Load --------------------------------------------------------------------------------------------

@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    actions: int = 0  # actions started (a sign-up and its cancel, or an upload's form and post, are one)
    wall: float = 0.0  # seconds the load ran (set by the caller that times it)
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
        # Fixed rate: when the action was due.  Its first request's latency counts from then, so time
        # spent waiting for a free client thread (the server is behind) is not hidden.
        self.scheduled: float | None = None
        self.set_cookies: list[str] = []  # the last answer's Set-Cookie headers

    def request(self, kind: str, method: str, path: str, *, headers: dict | None = None,
                body: bytes | None = None, expect: tuple[int, ...] = (200,)) -> tuple[int, bytes] | None:
        headers = {"User-Agent": USER_AGENT, **(headers or {})}
        started = self.scheduled if self.scheduled is not None else time.perf_counter()
        self.scheduled = None
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
            self.set_cookies = response.msg.get_all("Set-Cookie") or []
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


CSRF_FIELD = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"|'
                        rb'name="csrf_token" value="([^"]+)"')
#: Actions waiting longer than this for a client thread are dropped and counted as failures.
MAX_LAG_S = 30.0
WARM_UP_S = 10.0


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body, as a browser sends a form with files."""
    boundary = "----unionevents" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                     .encode())
    for name, filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"'
                     f'\r\nContent-Type: image/jpeg\r\n\r\n'.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def run_load(port: int, fx: Fixture, seconds: float, concurrency: int, seed: int | None,
             rate: float | None = None, weights: dict[str, int] | None = None) -> tuple[Stats, float]:
    """Closed loop (``rate`` None) or ``rate`` actions a second on schedule; returns the stats and the
    wall time (at a fixed rate, until the last scheduled action is answered)."""
    stats = Stats()
    pool: queue.Queue[int] = queue.Queue()
    for index in range(len(fx.worker_tokens)):
        pool.put(index)
    upload_pool: queue.Queue[tuple[int, str]] = queue.Queue()
    for uploader in fx.uploaders:
        upload_pool.put(uploader)
    tickets = iter(range(10**9))
    ticket_lock = threading.Lock()
    weights = dict(weights or WEIGHTS)
    if "reports" in weights and not fx.report_paths:
        weights["browse"] += weights.pop("reports")
    if "upload" in weights and not fx.uploaders:
        raise SystemExit("the mix has uploads but no worker has a photo entry (prepare(..., uploaders=N))")
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

    def upload(client: Client, rng: random.Random) -> None:
        try:
            entry_id, cookie = upload_pool.get(timeout=1)
        except queue.Empty:
            return
        try:
            path = f"/me/entries/{entry_id}/edit"
            reply = client.request("upload_form", "GET", path, headers={
                "Accept": "text/html", "Cookie": f"{fx.cookie_name}={cookie}"})
            # The CSRF secret lives in the session: the first form answer sets a new session cookie.
            for header in client.set_cookies:
                if header.startswith(fx.cookie_name + "="):
                    cookie = header.split(";", 1)[0].split("=", 1)[1]
            found = CSRF_FIELD.search(reply[1]) if reply and reply[0] == 200 else None
            if found is None:
                if reply and reply[0] == 200:
                    stats.record("upload_form", "no-csrf-field", None, f"upload form without csrf_token: {path}")
                return
            body, content_type = multipart(
                {"csrf_token": (found.group(1) or found.group(2)).decode(), "title": f"压测作品{entry_id}",
                 "description": ""}, [("photos", "photo.jpg", rng.choice(fx.photos))])
            client.request("upload", "POST", path, body=body, expect=(302, 303), headers={
                "Accept": "text/html", "Content-Type": content_type, "Cookie": f"{fx.cookie_name}={cookie}"})
        finally:
            upload_pool.put((entry_id, cookie))

    actions = {"browse": browse, "signup": signup, "checkin": checkin, "reports": reports, "upload": upload}

    def act(client: Client, rng: random.Random, kind: str) -> None:
        with stats.lock:
            stats.actions += 1
        actions[kind](client, rng)

    jobs: queue.Queue[tuple[float, str] | None] = queue.Queue()

    def worker(number: int) -> None:
        rng = random.Random(None if seed is None else seed * 1000 + number)
        client = Client(port, stats)
        gate.wait()
        if rate is None:  # closed loop
            while time.perf_counter() < deadline[0]:
                act(client, rng, rng.choices(kinds, kind_weights)[0])
        else:
            while (job := jobs.get()) is not None:
                due, kind = job
                if time.perf_counter() - due > MAX_LAG_S:
                    stats.record(kind, "dropped", None, f"{kind}: no client free for {MAX_LAG_S:.0f} s")
                    continue
                client.scheduled = due
                act(client, rng, kind)
        client.close()

    def dispatch(began: float) -> None:
        """Put one action on the queue every 1/rate s, on schedule, whatever the server answers."""
        rng = random.Random(seed)
        number = 0
        while (due := began + number / rate) < began + seconds:
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            jobs.put((due, rng.choices(kinds, kind_weights)[0]))
            number += 1
        for _ in range(concurrency):
            jobs.put(None)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    began = start_together(threads, gate, deadline, seconds)
    if rate is not None:
        dispatch(began)
    for thread in threads:
        thread.join(timeout=seconds + MAX_LAG_S + 60)
    return stats, time.perf_counter() - began


# --- Baseline ----------------------------------------------------------------------------------------

BASELINE_WARM_UP_S = 2.0


def baseline_probe(opts, tmp: Path, tokens: list[str]) -> Stats:
    """This run's measure of the machine: the same client threads, closed loop, against
    ``bench/baseline_app.py``'s ``GET /me`` (a bearer-token lookup, one SELECT) served by the same gunicorn
    settings on the same engine.  The soak's latencies move with the machine's speed (this shared VM's
    varies by up to 40 % within an hour); printed beside them, this says how fast the machine was."""
    url = database_url(opts.database_url, tmp, "soak_baseline")
    prepare_baseline(url, tokens)
    with Server("baseline", "bench.baseline_app:create_app()", {"BASELINE_DATABASE_URL": url},
                tmp / "baseline.log", opts) as server:
        token_lookup(server.port, tokens, BASELINE_WARM_UP_S, opts.concurrency, Stats())
        stats = Stats()
        stats.wall = token_lookup(server.port, tokens, opts.baseline_seconds, opts.concurrency, stats)
    return stats


def token_lookup(port: int, tokens: list[str], seconds: float, concurrency: int, stats: Stats) -> float:
    """``concurrency`` threads sending ``GET /me`` with random tokens for ``seconds``; returns the wall time."""
    gate = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def worker(number: int) -> None:
        rng = random.Random(number)
        client = Client(port, stats)
        gate.wait()
        while time.perf_counter() < deadline[0]:
            client.request("baseline", "GET", "/me", headers={"Authorization": f"Bearer {rng.choice(tokens)}"})
        client.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    began = start_together(threads, gate, deadline, seconds)
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def describe_baseline(stats: Stats) -> str:
    lat = stats.latencies.get("baseline", [])
    total = stats.total()
    errors = total - stats.statuses.get("baseline", {}).get("200", 0)
    return (f"baseline  GET /me of bench/baseline_app.py (token lookup): {total} requests in {stats.wall:.1f} s = "
            f"{total / stats.wall:.1f} req/s; p50 {percentile(lat, 50):.1f} ms, p95 {percentile(lat, 95):.1f} ms, "
            f"p99 {percentile(lat, 99):.1f} ms; errors {errors}")


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


# --- R5 -----------------------------------------------------------------------------------------------

def r5_verdict(stats: Stats, wall: float, rate: float | None) -> tuple[dict, list[str]]:
    """R5's figures for one run and what missed its bars: p95 of reads (every GET page) ≤ 300 ms and
    of sign-ups ≤ 800 ms, no 5xx, no failed or dropped request, and (at a fixed rate) the rate kept."""
    reads = [ms for kind in R5_READ_KINDS for ms in stats.latencies.get(kind, [])]
    figures = {
        "actions_per_s": stats.actions / wall if wall else 0.0,
        "requests_per_s": stats.total() / wall if wall else 0.0,
        "reads_p95_ms": percentile(reads, 95),
        "signup_p95_ms": percentile(stats.latencies.get("signup", []), 95),
        "server_errors": stats.count(lambda s: s.isdigit() and s.startswith("5")),
        "failed": stats.count(lambda s: not s.isdigit()),
    }
    missed = []
    if figures["server_errors"]:
        missed.append(f"{figures['server_errors']} 5xx")
    if figures["failed"]:
        missed.append(f"{figures['failed']} failed or dropped")
    if not figures["reads_p95_ms"] <= R5_P95_MS["browse"]:
        missed.append(f"reads p95 {figures['reads_p95_ms']:.0f} ms > {R5_P95_MS['browse']:.0f} ms")
    if stats.latencies.get("signup") and not figures["signup_p95_ms"] <= R5_P95_MS["signup"]:
        missed.append(f"sign-up p95 {figures['signup_p95_ms']:.0f} ms > {R5_P95_MS['signup']:.0f} ms")
    if rate is not None and figures["actions_per_s"] < 0.95 * rate:
        missed.append(f"{figures['actions_per_s']:.1f} actions/s < 95 % of {rate:.0f}")
    return figures, missed


def closed_loop_misses(stats: Stats) -> list[str]:
    """The closed loop's latency bars: each read kind (browse, reports) p95 within R5's bar.  The
    closed loop has no rate to keep and sends sign-ups as fast as answered, so those are not judged."""
    missed = []
    for kind in ("browse", "reports"):
        latencies = stats.latencies.get(kind, [])
        if latencies and not percentile(latencies, 95) <= R5_P95_MS[kind]:
            missed.append(f"{kind} p95 {percentile(latencies, 95):.0f} ms > {R5_P95_MS[kind]:.0f} ms")
    return missed


def write_lock_holds(log: Path, start: int = 0) -> list[tuple[float, str]]:
    """(ms, path) of each request in the server log, from byte ``start`` on, that held SQLite's write
    lock: the app logs each request's longest hold as ``write_lock_ms`` (SQLite only)."""
    holds = []
    with open(log, "rb") as handle:
        handle.seek(start)
        for line in handle:
            if b'"write_lock_ms"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:  # a line cut by the log's end, or not the app's
                continue
            holds.append((float(record["write_lock_ms"]), record.get("path", "?")))
    return holds


def hold_line(holds: list[tuple[float, str]]) -> str:
    """R5's "longest time any request held the SQLite write lock", with the spread beside it."""
    if not holds:
        return "SQLite write lock: no hold logged (PostgreSQL has none)"
    longest, path = max(holds)
    figures = [ms for ms, _ in holds]
    return (f"SQLite write lock: longest hold {longest:.1f} ms ({path}); p50 {percentile(figures, 50):.1f} ms, "
            f"p99 {percentile(figures, 99):.1f} ms over {len(holds)} writing requests")


def search(port: int, fx: Fixture, opts, log: Path | None = None) -> float | None:
    """R5's search: ``opts.rate`` actions/s, then ``opts.rate_step`` more every step, until a step misses
    the bars; returns the highest rate that held them (None if the first did not)."""
    held = None
    rate = opts.rate
    while rate <= opts.max_rate:
        log_start = log.stat().st_size if log else 0
        stats, wall = run_load(port, fx, opts.step_seconds, opts.concurrency, opts.seed, rate, R5_WEIGHTS)
        figures, missed = r5_verdict(stats, wall, rate)
        p95 = {kind: percentile(stats.latencies.get(kind, []), 95) for kind in ("checkin", "upload", "cancel")}
        print(f"rate {rate:5.0f}/s: {figures['actions_per_s']:6.1f} actions/s, {figures['requests_per_s']:6.1f} "
              f"req/s; p95 reads {figures['reads_p95_ms']:6.1f} ms, sign-up {figures['signup_p95_ms']:6.1f} ms, "
              f"check-in {p95['checkin']:6.1f} ms, upload {p95['upload']:6.1f} ms; 5xx {figures['server_errors']}, "
              f"failed {figures['failed']} -> {'held' if not missed else 'MISSED ' + '; '.join(missed)}",
              flush=True)
        if log:
            print(f"           {hold_line(write_lock_holds(log, log_start))}", flush=True)
        if missed:
            break
        held = rate
        rate += opts.rate_step
    return held


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
    parser.add_argument("--baseline-seconds", type=float, default=10.0,
                        help="seconds of the baseline probe before the soak (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, server log)")
    parser.add_argument("--rate", type=float, default=None,
                        help="R5: actions a second on a fixed schedule (R5's mix) instead of a closed loop")
    parser.add_argument("--search", action="store_true",
                        help="R5: raise the rate from --rate (default 30) by --rate-step every --step-seconds "
                             "until a step misses R5's bars; report the highest that held")
    parser.add_argument("--rate-step", type=float, default=30.0)
    parser.add_argument("--step-seconds", type=float, default=60.0)
    parser.add_argument("--max-rate", type=float, default=2000.0)
    parser.add_argument("--uploaders", type=int, default=40,
                        help="workers with a photo entry for the upload share (fixed-rate runs only)")
    add_server_options(parser)
    opts = parser.parse_args(argv)
    if opts.search and opts.rate is None:
        opts.rate = 30.0
    fixed_rate = opts.rate is not None
    if fixed_rate and opts.concurrency == 32:
        opts.concurrency = 64  # at a fixed rate, the most actions in flight: room to show the server lag
    if fixed_rate and not (0 < opts.rate <= opts.max_rate and opts.rate_step > 0 and 1 <= opts.uploaders <= 1000):
        parser.error("rate must be in (0, --max-rate], --rate-step > 0, uploaders 1..1000")
    if not (1 <= opts.seconds <= 3600 and 1 <= opts.concurrency <= 256 and 1 <= opts.tickets <= opts.workers
            <= 20000):
        parser.error("seconds 1..3600, concurrency 1..256, 1 <= tickets <= workers <= 20000")

    tmp = Path(tempfile.mkdtemp(prefix="bench_soak_"))
    secret_key = secrets.token_urlsafe(32)
    try:
        url = database_url(opts.database_url, tmp, "soak")
        setup_started = time.perf_counter()
        fx = prepare(url, secret_key, opts.workers, opts.tickets, opts.uploaders if fixed_rate else 0,
                     tmp / "uploads")
        how = (f"R5 search from {opts.rate:.0f}/s by {opts.rate_step:.0f}/s, {opts.step_seconds:.0f} s a step"
               if opts.search else f"{opts.seconds:.0f} s at {opts.rate:.0f} actions/s" if fixed_rate
               else f"{opts.seconds:.0f} s")
        print(f"engine {engine_label(url)}; {how}; concurrency {opts.concurrency}; gunicorn "
              f"{opts.gunicorn_workers} x {opts.worker_class}"
              f"{f' ({opts.threads} threads)' if opts.worker_class == 'gthread' else ''}; "
              f"{machine_line()}; setup {time.perf_counter() - setup_started:.1f} s", flush=True)
        if fx.report_paths:
            print(f"reports: {', '.join(fx.report_paths)}")
        else:
            print("reports: skipped — the app has no GET route under /reports/ yet "
                  "(its 5 % share goes to browse)")

        baseline = baseline_probe(opts, tmp, fx.worker_tokens) if opts.baseline_seconds > 0 else None
        if baseline is not None:
            print(describe_baseline(baseline), flush=True)
        env = {**product_env(url, secret_key), "UPLOAD_DIR": str(tmp / "uploads")}
        with Server("product", "unionevents:create_app()", env, tmp / "server.log", opts) as server:
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
            if fixed_rate:
                # New workers answer their first requests slowly (imports, templates, prepared statements):
                # not what R5 measures.  Closed-loop runs are long enough to drown it.
                run_load(server.port, fx, WARM_UP_S, opts.concurrency, opts.seed, opts.rate, R5_WEIGHTS)
                print(f"warm-up: {WARM_UP_S:.0f} s at {opts.rate:.0f} actions/s (not counted)", flush=True)
            if opts.search:
                sampler = RssSampler(server, opts.sample_every, 24 * 3600)
                sampler.start()
                searched = time.monotonic()
                held = search(server.port, fx, opts, server.log)
                sampler.stop.set()
                sampler.join(timeout=10)
                rss = rss_figures(sampler.samples, time.monotonic() - searched)
                print(f"server RSS over the search: first {rss['first_mib']:.1f} MiB, last {rss['last_mib']:.1f} "
                      f"MiB ({rss['growth_pct']:+.1f} %; the load rose meanwhile)")
                if held is None:
                    print(f"MISSED: even {opts.rate:.0f} actions/s missed R5's bars")
                    return 1
                print(f"highest fixed rate that held R5's bars: {held:.0f} actions/s "
                      f"(R5 asks for 10 minutes at it: --rate {held:.0f} --seconds 600)")
                print(json.dumps({"engine": engine_label(url), "r5_highest_rate": held}))
                return 0
            sampler = RssSampler(server, opts.sample_every, opts.seconds + 120)
            sampler.start()
            log_start = server.log.stat().st_size
            stats, wall = run_load(server.port, fx, opts.seconds, opts.concurrency, opts.seed, opts.rate,
                                   R5_WEIGHTS if fixed_rate else None)
            sampler.stop.set()
            sampler.join(timeout=10)
            rss = rss_figures(sampler.samples, wall)
        holds = write_lock_holds(server.log, log_start)

        total = stats.total()
        server_errors = stats.count(lambda s: s.isdigit() and s.startswith("5"))
        failed = stats.count(lambda s: not s.isdigit())
        print(f"{total} requests in {wall:.1f} s = {total / wall:.1f} req/s; 5xx {server_errors}; "
              f"failed connections {failed}")
        print(f"{'kind':8} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
        for kind in ["browse", "signup", "cancel", "checkin", "reports", "upload_form", "upload"]:
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
        print(hold_line(holds))
        baseline_figures = {}
        if baseline is not None and baseline.total():
            baseline_per_s = baseline.total() / baseline.wall
            baseline_figures = {"baseline_per_s": round(baseline_per_s, 1),
                                "baseline_p95_ms": round(percentile(baseline.latencies.get("baseline", []), 95), 1)}
            print(f"ratio soak/baseline requests per second {total / wall / baseline_per_s:.3f} (recorded, not a "
                  f"bar: the machine's speed in this run)")
        if stats.samples:
            print(f"sample unexpected replies: {stats.samples}")
        print(json.dumps({
            "engine": engine_label(url), "seconds": round(wall, 1), "requests": total,
            "per_s": round(total / wall, 1), "server_errors": server_errors, "failed": failed,
            "rss_first_mib": round(rss["first_mib"], 1), "rss_last_mib": round(rss["last_mib"], 1),
            "rss_growth_pct": round(rss["growth_pct"], 1),
            "write_lock_longest_ms": max((ms for ms, _ in holds), default=None),
            **{f"{kind}_p95_ms": round(percentile(lat, 95), 1) for kind, lat in stats.latencies.items()},
            **baseline_figures,
        }, ensure_ascii=False))

        missed = []
        if server_errors > TARGETS["server_errors"]:
            missed.append(f"{server_errors} 5xx")
        if failed > TARGETS["failed"]:
            missed.append(f"{failed} failed connections")
        if not rss["growth_pct"] < TARGETS["rss_growth_pct"]:
            missed.append(f"RSS growth {rss['growth_pct']:.1f} % >= {TARGETS['rss_growth_pct']:.0f} %")
        if fixed_rate:
            figures, r5_missed = r5_verdict(stats, wall, opts.rate)
            print(f"R5 at {opts.rate:.0f} actions/s: {figures['actions_per_s']:.1f} actions/s kept, p95 reads "
                  f"{figures['reads_p95_ms']:.1f} ms, sign-up {figures['signup_p95_ms']:.1f} ms -> "
                  f"{'held' if not r5_missed else 'missed: ' + '; '.join(r5_missed)}")
            missed += [f"R5: {item}" for item in r5_missed]
        else:
            missed += closed_loop_misses(stats)
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
