"""Scale-out rush: 2,000 workers sign up for 100 places through the production shape of docs/deploy.md §3 —
nginx (TLS) → two gunicorn app servers → PgBouncer (transaction mode) → PostgreSQL, rate limits in Redis —
then the same crowd size for a second activity with one app server stopped (nginx sends everything to the
other), in the same run.  bench/stack.py starts the shape from the shipped deploy files.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m bench.scaleout
    .venv/bin/python -m bench.scaleout --crowd 200 --places 20      # a smoke run

Targets (issue 18): 0 errors, exactly ``--places`` confirmed, p99 ≤ 300 ms.  Without DATABASE_URL the app
servers share a SQLite file and there is no PgBouncer (the figures then say little about scale-out).
On one 2-core machine two app servers share the same cores, so the ratio shows the cost of the extra
hop and processes, not the gain of a second machine.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .common import bench_database_name, engine_label, fresh_databases, raw_tokens, seed_signup_activity
from .rush import TARGETS, describe, fire, product_counts
from .stack import HOST, Stack


def second_activity(url: str, secret_key: str, like: int) -> int:
    """Another activity with the same places, unit and times as ``like``: the one-server run's."""
    from unionevents.activities.models import Activity
    from unionevents.activities.services import create_activity
    from unionevents.extensions import db

    from .common import bench_app

    app = bench_app(url, secret_key)
    with app.app_context():
        model = db.session.get(Activity, like)
        activity = create_activity(
            title=model.title + "（二）", kind=model.kind, node=model.node, starts_at=model.starts_at,
            ends_at=model.ends_at, signup_opens_at=model.signup_opens_at, signup_closes_at=model.signup_closes_at,
            capacity=model.capacity, mode=model.mode, waitlist_enabled=model.waitlist_enabled, publish=True)
        db.session.commit()
        activity_id = activity.id
        db.engine.dispose()
    return activity_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a PostgreSQL server URL (default: $DATABASE_URL; a SQLite file when unset)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--crowd", type=int, default=2000, help="signing-up workers per run (default 2000)")
    parser.add_argument("--places", type=int, default=100)
    parser.add_argument("--app-servers", type=int, default=2)
    parser.add_argument("--gunicorn-workers", type=int, default=2, help="per app server (default 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads (default 32)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds before no new request starts")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, configs)")
    opts = parser.parse_args(argv)
    if not (1 <= opts.crowd <= 20000 and 1 <= opts.concurrency <= 256 and 1 <= opts.app_servers <= 4):
        parser.error("crowd 1..20000, concurrency 1..256, app servers 1..4")

    workdir = Path(tempfile.mkdtemp(prefix="bench_scaleout_"))
    if opts.database_url:
        url = fresh_databases(opts.database_url, [bench_database_name(opts.database_url, "scaleout")])[0]
    else:
        url = f"sqlite:///{workdir / 'scaleout.db'}"
    stack = Stack(workdir, url, app_servers=opts.app_servers, workers=opts.gunicorn_workers,
                  redis_url=opts.redis_url)
    failures: list[str] = []
    report: dict[str, object] = {"engine": engine_label(url), "pgbouncer": url.startswith("postgresql")}
    try:
        stack.start()
        crowds = {name: raw_tokens(opts.crowd) for name in ("all", "one")}
        first = seed_signup_activity(url, crowds["all"] + crowds["one"], opts.places, False, stack.secret_key)
        activities = {"all": first, "one": second_activity(url, stack.secret_key, first)}
        context = stack.ssl_context()

        def connect():
            return http.client.HTTPSConnection(HOST, stack.https_port, context=context, timeout=30)

        print(f"engine {report['engine']}{' via PgBouncer (transaction)' if report['pgbouncer'] else ''}; "
              f"nginx → {opts.app_servers} app servers × {opts.gunicorn_workers} gunicorn workers; "
              f"{opts.crowd} workers, {opts.places} places, concurrency {opts.concurrency}; "
              f"redis {'on' if opts.redis_url else 'off'}; nproc {os.cpu_count()}", flush=True)
        results = {}
        for name in ("all", "one"):
            if name == "one":
                for index in range(1, opts.app_servers):
                    stack.stop_process(f"app{index}")
            result = fire(stack.https_port, f"/api/v1/activities/{activities[name]}/registrations",
                          crowds[name], opts.concurrency, opts.time_limit, connect=connect)
            label = f"{opts.app_servers} servers" if name == "all" else "1 server"
            results[name] = result
            print(describe(label, result), flush=True)
            if result.samples:
                print(f"{label} sample errors: {result.samples}")
            counts = product_counts(url, activities[name])
            confirmed, waitlisted = counts.get("confirmed", 0), counts.get("waitlisted", 0)
            print(f"{label} database: confirmed {confirmed}, waitlisted {waitlisted}, "
                  f"duplicates {counts['duplicates']}", flush=True)
            if result.errors:
                failures.append(f"{label}: {result.errors} errors")
            if confirmed != min(opts.places, opts.crowd) or counts["duplicates"] or counts["taken"] != confirmed:
                failures.append(f"{label}: confirmed {confirmed}, want {min(opts.places, opts.crowd)}")
            if result.percentile(99) > TARGETS["p99_ms"]:
                failures.append(f"{label}: p99 {result.percentile(99):.0f} ms > {TARGETS['p99_ms']:.0f} ms")
            report.update({f"{name}_per_s": round(result.throughput, 1),
                           f"{name}_p50_ms": round(result.percentile(50), 1),
                           f"{name}_p99_ms": round(result.percentile(99), 1),
                           f"{name}_errors": result.errors, f"{name}_confirmed": confirmed})
        if results["one"].throughput:
            ratio = results["all"].throughput / results["one"].throughput
            report["ratio_all_to_one"] = round(ratio, 2)
            print(f"throughput {opts.app_servers} servers / 1 server: {ratio:.2f}")
        print(json.dumps(report))
    except Exception as error:  # a stack that did not start: say why, with the logs' ends
        print(f"scale-out stack failed: {error}", file=sys.stderr)
        failures.append(str(error).splitlines()[0])
    finally:
        stack.stop()
        if opts.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for failure in failures:
        print(f"TARGET MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
