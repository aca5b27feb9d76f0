"""Benchmark the officer reports at city scale.

    .venv/bin/python bench/reports.py                 # a fresh SQLite file in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/reports.py

Generates a realistic city (1 city → 16 districts → ~300 streets and industry unions → ~3,000
workplaces), 200,000 workers, 10,000 activities over the last ten months and the next two, and
1,000,000 registrations, with bulk Core inserts (no services: speed); builds the summary tables with
``rebuild()``; then times every report page in-process as the city officer (p50/p95 over
``--requests`` requests each) and the memory growth of a 100,000-row streaming XLSX export.
With DATABASE_URL, a dedicated database (``bench_reports``, or ``--pg-database``) is (re)created on
that server.  Last, it times the dashboard right after 1,000 place changes (the hook only marks
report_reach rows; pages never settle them) next to the same page's figures from earlier in the same
run, then the background settle that carries them into report_reach_span (``flask reports settle``).
It prints the commit and the load average (1/5/15 min) before and after timing.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import secrets
import sqlite3
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import percentile  # noqa: E402
from unionevents import create_app  # noqa: E402
from unionevents.accounts.models import Occupation, Role, RoleGrant, User  # noqa: E402
from unionevents.activities.models import Activity, ActivityKind, ActivityStatus  # noqa: E402
from unionevents.registrations.ticket_codes import new_code as new_ticket_code  # noqa: E402
from unionevents.core.timeutil import local_to_utc, now  # noqa: E402
from unionevents.extensions import db  # noqa: E402
from unionevents.registrations.models import Registration, RegistrationState as S  # noqa: E402
from unionevents.reports import exports, services  # noqa: E402
from unionevents.unions.models import NodeLevel, UnionNode  # noqa: E402

CHUNK = 20_000
OCCUPATIONS = list(Occupation)
NEF = [Occupation.RIDER, Occupation.COURIER, Occupation.RIDE_HAILING_DRIVER, Occupation.TRUCK_DRIVER,
       Occupation.DOMESTIC_WORKER]
OTHER = [o for o in OCCUPATIONS if o not in NEF]


def database_url(reuse: str | None = None, pg_database: str = "bench_reports") -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL")
    if reuse:
        return (make_url(base).set(database=pg_database).render_as_string(hide_password=False) if base
                else f"sqlite:///{reuse}"), "reused"
    if not base:
        path = Path(tempfile.mkdtemp(prefix="bench-reports-")) / "reports.db"
        return f"sqlite:///{path}", f"SQLite {sqlite3.sqlite_version}"
    url = make_url(base)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{pg_database}"'))
        version = conn.execute(text("SHOW server_version")).scalar()
    admin.dispose()
    return url.set(database=pg_database).render_as_string(hide_password=False), f"PostgreSQL {version}"


def bulk(table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def generate(rng: random.Random, workers: int, activities: int, registrations: int) -> dict:
    at = now()
    nodes, node_id = [], 0

    def add(name, level, parent):
        nonlocal node_id
        node_id += 1
        path = (parent["path"] if parent else "/") + f"{node_id}/"
        row = {"id": node_id, "name": name, "level": level, "parent_id": parent["id"] if parent else None,
               "path": path, "depth": path.count("/") - 2, "district": None}
        nodes.append(row)
        return row

    city = add("基准市总工会", NodeLevel.CITY, None)
    streets, workplaces = [], []
    for d in range(16):
        district = add(f"基准第{d + 1}区总工会", NodeLevel.DISTRICT, city)
        for s in range(19):
            level = NodeLevel.INDUSTRY if s % 6 == 5 else NodeLevel.STREET
            street = add(f"基准第{d + 1}区第{s + 1}街道工会", level, district)
            streets.append(street)
            for w in range(10):
                workplaces.append(add(f"基准第{d + 1}区第{s + 1}街道第{w + 1}单位工会", NodeLevel.WORKPLACE, street))
    districts = [n for n in nodes if n["level"] == NodeLevel.DISTRICT]
    bulk(UnionNode.__table__, nodes)

    users = [{"id": i + 1, "mobile": f"13{i:09d}", "name": f"职工{i}", "password_hash": None,
              "union_id": rng.choice(workplaces)["id"],
              "occupation": (rng.choice(NEF) if rng.random() < 0.2 else rng.choice(OTHER)).value,
              "activated": True, "activation_failures": 0, "session_version": 1, "created_at": at}
             for i in range(workers)]
    officer_id = workers + 1
    users.append({"id": officer_id, "mobile": "19900000000", "name": "市总干部", "password_hash": "x",
                  "union_id": None, "occupation": Occupation.CIVIL_SERVANT.value, "activated": True,
                  "activation_failures": 0, "session_version": 1, "created_at": at})
    bulk(User.__table__, users)
    db.session.execute(insert(RoleGrant.__table__).values(user_id=officer_id, role=Role.OFFICER.value,
                                                          node_id=city["id"], granted_at=at))

    today = at.date()
    first_day = today - timedelta(days=300)
    kinds = [k.value for k in ActivityKind]
    activity_rows, per_activity = [], registrations // activities
    organisers = workplaces * 6 + streets * 3 + districts * 2 + [city]
    for i in range(activities):
        day = first_day + timedelta(days=rng.randrange(365))
        starts = local_to_utc(datetime(day.year, day.month, day.day, 9, 0))
        status = ActivityStatus.CANCELLED if rng.random() < 0.02 else ActivityStatus.PUBLISHED
        activity_rows.append({
            "id": i + 1, "title": f"活动{i + 1}", "kind": rng.choice(kinds), "node_id": rng.choice(organisers)["id"],
            "description": "", "venue": "", "district": None, "starts_at": starts,
            "ends_at": starts + timedelta(hours=2), "signup_opens_at": starts - timedelta(days=20),
            "signup_closes_at": starts - timedelta(hours=2), "cancel_cutoff_at": None,
            "capacity": per_activity * 2, "taken": 0, "waitlist_enabled": True, "mode": "first_come",
            "visibility": "public", "status": status.value, "members_only": False, "created_at": at,
            "updated_at": at})
    reg_rows, reg_id = [], 0
    for activity in activity_rows:
        past = activity["starts_at"] < at
        cancelled_activity = activity["status"] == ActivityStatus.CANCELLED.value
        taken = 0
        for user_id in rng.sample(range(1, workers + 1), per_activity):
            r = rng.random()
            if cancelled_activity:
                state = S.CANCELLED
            elif past:
                state = S.ATTENDED if r < 0.72 else S.NO_SHOW if r < 0.82 else S.CANCELLED if r < 0.94 \
                    else S.NOT_DRAWN if r < 0.97 else S.REJECTED
            else:
                state = S.CONFIRMED if r < 0.8 else S.CANCELLED if r < 0.9 else S.WAITLISTED if r < 0.95 \
                    else S.PENDING
            taken += state in (S.CONFIRMED, S.ATTENDED)
            reg_id += 1
            reg_rows.append({"id": reg_id, "activity_id": activity["id"], "user_id": user_id, "slot_id": None,
                             "unit_node_id": None, "state": state.value, "queue_rank": None, "answers": None,
                             "ticket_secret": secrets.token_urlsafe(32),
                             "ticket_code": new_ticket_code(), "created_at": at, "updated_at": at})
        activity["taken"] = taken
    bulk(Activity.__table__, activity_rows)
    del activity_rows
    bulk(Registration.__table__, reg_rows)
    count = len(reg_rows)
    del reg_rows
    if db.engine.dialect.name == "postgresql":
        for table in ("union_node", "user", "activity", "registration"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                    f"(SELECT max(id) FROM \"{table}\"))"))
    db.session.commit()
    return {"nodes": len(nodes), "workers": workers, "activities": activities, "registrations": count,
            "officer_id": officer_id, "city_id": city["id"], "district_id": districts[0]["id"],
            "today": today, "first_day": first_day}


def time_page(client, url: str, requests: int, headers=None) -> tuple[float, float, float, float, int, int]:
    """Wall-clock p50/p95 and this process's CPU p50/p95 (ms).  On a shared machine the CPU time is
    the steadier figure for SQLite (all the work is in-process); PostgreSQL works in its own process."""
    client.get(url, headers=headers)  # warm-up (templates compiled, caches filled)
    times, cpu, size, status = [], [], 0, 0
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        size = len(response.get_data())
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        status = response.status_code
    return (statistics.median(times), percentile(times, 95), statistics.median(cpu), percentile(cpu, 95),
            status, size)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def xlsx_memory(rows: int) -> tuple[float, float, int]:
    """Seconds and peak RSS growth (MB) writing a ``rows``-row roster-like sheet in write-only mode.

    (RSS, not tracemalloc: tracing every allocation makes openpyxl ten times slower.)"""
    def roster():
        for i in range(rows):
            yield (i + 1, f"职工{i}", f"139****{i % 10000:04d}", "基准第1区第1街道第1单位工会", "快递员",
                   "已签到" if i % 3 else "已确认", datetime(2025, 5, 1, 9, i % 60), "备注" * (i % 3))

    gc.collect()
    rss_before = rss_mb()
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as f:
        exports.write_xlsx(f.name, [exports.Sheet("Roster", ["#", "Name", "Mobile", "Union", "Occupation",
                                                              "State", "Signed up", "Note"], roster())])
        size = os.path.getsize(f.name)
    return time.perf_counter() - started, max(0.0, rss_mb() - rss_before), size


P95_TARGET_MS = 300


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def git_commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def settle_after_changes(client, url: str, changes: int, requests: int, baseline: tuple[float, float]) -> float:
    """The hook's cost per place change; the dashboard right after ``changes`` of them (reach rows
    marked, none settled: pages never settle) timed like every page, next to the same page's figures
    from earlier in this run; then the background settle (``flask reports settle``) that carries
    them over, with its longest write transaction.  The changes go through the reports hook only
    (confirmed → cancelled, then back), so the database ends as it began.  Returns the worst p95."""
    from unionevents.core.db import write_transaction
    from unionevents.reports.models import ReportReach
    from unionevents.reports.services.settle import SETTLE_BATCH, _settle_batch

    rows = db.session.execute(text(
        "SELECT activity_id, user_id FROM registration WHERE state = 'confirmed' ORDER BY id LIMIT :n"),
        {"n": changes}).all()
    steps = (("cancel", S.CONFIRMED, S.CANCELLED), ("confirm again", S.CANCELLED, S.CONFIRMED))
    worst = 0.0
    for label, old, new in steps:
        started = time.perf_counter()
        with write_transaction():
            for activity_id, user_id in rows:
                services.record_transition(activity_id, old, new, user_id)
        hook_ms = (time.perf_counter() - started) * 1000 / len(rows)
        pending = db.session.scalar(
            select(func.count()).select_from(ReportReach).where(ReportReach.pending == 1))
        db.session.commit()
        started = time.perf_counter()
        status = client.get(url).status_code
        first_ms = (time.perf_counter() - started) * 1000
        p50, p95, c50, c95, status, _size = time_page(client, url, requests)
        worst = max(worst, first_ms, p95)
        print(f"{len(rows):,} place changes ({label}): hook {hook_ms:.2f} ms each; {pending:,} report_reach rows "
              f"wait to be settled")
        print(f"  dashboard, city, this quarter, right after them: first {first_ms:.0f} ms [{status}], "
              f"p50 {p50:.0f} / p95 {p95:.0f} ms (cpu {c50:.0f} / {c95:.0f}); the same page before the changes, "
              f"this run: p50 {baseline[0]:.0f} / p95 {baseline[1]:.0f} ms")
        started, batches, longest = time.perf_counter(), 0, 0.0
        more = True
        while more:
            batch_started = time.perf_counter()
            _rows, more = _settle_batch(SETTLE_BATCH)
            longest = max(longest, (time.perf_counter() - batch_started) * 1000)
            batches += 1
        left = db.session.scalar(select(func.count()).select_from(ReportReach).where(ReportReach.pending == 1))
        db.session.commit()
        print(f"  background settle (flask reports settle): {pending:,} rows in {batches} transaction(s), "
              f"{(time.perf_counter() - started) * 1000:.0f} ms in all, longest {longest:.0f} ms; {left} left")
    return worst


def main(argv: list[str] | None = None) -> int:
    worst_p95 = 0.0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=200_000)
    parser.add_argument("--activities", type=int, default=10_000)
    parser.add_argument("--registrations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--roster-rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--reuse", metavar="SQLITE_FILE_OR_ANY",
                        help="skip generation: time the database a previous run left (SQLite file path; "
                             "with DATABASE_URL any value reuses the --pg-database)")
    parser.add_argument("--pg-database", default="bench_reports",
                        help="with DATABASE_URL: the database to (re)create or reuse "
                             "(default: bench_reports)")
    parser.add_argument("--changes", type=int, default=1000,
                        help="place changes before timing the dashboard that settles them (0: skip)")
    parser.add_argument("--keep", metavar="SQLITE_FILE", help="generate into this SQLite file (kept)")
    args = parser.parse_args(argv)
    logging.getLogger("unionevents.request").setLevel(logging.WARNING)

    # Memory first, while the process is small, so RSS growth is the export's own.
    rows_s, rss_growth, size = xlsx_memory(args.roster_rows)
    print(f"streaming XLSX of {args.roster_rows:,} roster rows: {rows_s:.1f} s, {size / 2**20:.1f} MB file, "
          f"peak RSS growth {rss_growth:.1f} MB (write-only openpyxl, reports.exports.write_xlsx)")

    url, engine_name = database_url(args.reuse, args.pg_database)
    if args.keep:
        url = f"sqlite:///{args.keep}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "SQLITE_SYNCHRONOUS": "OFF"})
    print(f"engine: {engine_name}  ({url.split('@')[-1] if '@' in url else url})")
    with app.app_context():
        if args.reuse:
            facts = {"officer_id": db.session.scalar(text("SELECT user_id FROM role_grant WHERE role = 'officer'")),
                     "district_id": db.session.scalar(text("SELECT min(id) FROM union_node WHERE depth = 1"))}
        else:
            db.create_all()
            started = time.perf_counter()
            facts = generate(random.Random(args.seed), args.workers, args.activities, args.registrations)
            print(f"generated {facts['nodes']} unions, {facts['workers']:,} workers, {facts['activities']:,} "
                  f"activities, {facts['registrations']:,} registrations in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            sizes = services.rebuild()
            print(f"rebuild: {sizes} in {time.perf_counter() - started:.1f} s")
        if args.reuse:
            pass
        elif db.engine.dialect.name == "postgresql":
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        officer = db.session.get(User, facts["officer_id"])
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = officer.get_id()
            session["_fresh"] = True
        from unionevents.accounts.services import issue_token
        from unionevents.reports.queries import quarter_of, today as local_today

        token = issue_token(officer, "bench")
        db.session.commit()
        q_from, q_to = quarter_of(local_today())
        year = {"from": (local_today() - timedelta(days=364)).isoformat(), "to": local_today().isoformat()}
        quarter = f"from={q_from}&to={q_to}"
        top_activity = db.session.execute(text(
            "SELECT id FROM activity WHERE status = 'published' ORDER BY taken DESC, id LIMIT 1")).scalar()
        pages = [
            ("dashboard, city, this quarter", f"/reports/?{quarter}", None),
            ("dashboard, city, last 12 months", f"/reports/?from={year['from']}&to={year['to']}", None),
            ("dashboard, city, 12 months, classes only",
             f"/reports/?from={year['from']}&to={year['to']}&kind=class", None),
            ("dashboard, district, last 12 months",
             f"/reports/?node={facts['district_id']}&from={year['from']}&to={year['to']}", None),
            ("export XLSX, city, this quarter", f"/reports/export.xlsx?{quarter}", None),
            ("export CSV, city, this quarter", f"/reports/export.csv?{quarter}", None),
            ("activity statistics (largest)", f"/reports/activities/{top_activity}", None),
            ("API summary, city, this quarter", f"/api/v1/reports/summary?{quarter}",
             {"Authorization": f"Bearer {token}"}),
            # Several (2–4) kinds: their kind set's MONTH span rows plus the ragged days from report_reach.
            ("city, quarter, classes + meetings", f"/reports/?{quarter}&kind=class&kind=meeting", None),
            ("city, 12 months, classes + meetings",
             f"/reports/?from={year['from']}&to={year['to']}&kind=class&kind=meeting", None),
            ("city, 12 months, four kinds (not swaps)",
             f"/reports/?from={year['from']}&to={year['to']}&kind=health&kind=class&kind=contest&kind=meeting",
             None),
            ("district, 12 months, classes + meetings",
             f"/reports/?node={facts['district_id']}&from={year['from']}&to={year['to']}&kind=class&kind=meeting",
             None),
        ]
        print(f"\ncommit {git_commit()}; load average before timing: {load_average()}")
        print(f"{'page':45} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'cpu p95':>8}  status  bytes"
              f"   ({args.requests} requests each)")
        timed = {}
        for label, page_url, headers in pages:
            p50, p95, c50, c95, status, size = time_page(client, page_url, args.requests, headers)
            timed[label] = (p50, p95)
            worst_p95 = max(worst_p95, p95)
            print(f"{label:45} {p50:8.1f} {p95:8.1f} {c50:8.1f} {c95:8.1f}  {status:>6}  {size:,}")
        print(f"load average after timing: {load_average()}")
        if args.changes:
            worst_p95 = max(worst_p95, settle_after_changes(
                client, f"/reports/?{quarter}", args.changes, args.requests,
                timed["dashboard, city, this quarter"]))
    print(f"load average at the end: {load_average()}")
    print(f"\nmachine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(f"target p95 <= {P95_TARGET_MS} ms per report page: worst p95 {worst_p95:.0f} ms")
    return 0 if worst_p95 <= P95_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
