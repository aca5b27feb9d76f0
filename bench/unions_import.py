"""Benchmark the union tree import: a generated 10,000-union tree imported in-process.

    .venv/bin/python -m bench unions                    # a fresh SQLite file in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench unions

Three imports, timed: the new tree; the same file again (all unchanged: the idempotent path); the file
with every workplace renamed by its code.  The target (issue 16) is well under a minute each.  With
DATABASE_URL (a PostgreSQL server) it (re)creates the database ``bench_unions`` (``<db>_unions`` when
the URL names a database ``<db>`` other than ``postgres``) there and imports into it: the file brings
its own top union, so the database must start empty.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench.common import bench_database_name, fresh_databases  # noqa: E402
from unionevents import create_app  # noqa: E402
from unionevents.extensions import db  # noqa: E402
from unionevents.unions.imports import import_unions  # noqa: E402
from unionevents.unions.models import UnionNode  # noqa: E402

TARGET_SECONDS = 30.0


def make_file(size: int, suffix: str = "") -> bytes:
    """A city, 16 districts of 20 streets each, and workplaces spread over the streets: ``size`` unions."""
    lines = ["工会名称,上级工会,编码,类型,所属区", "基准市总工会,,C0,市总工会,"]
    streets = []
    for d in range(16):
        lines.append(f"基准第{d}区总工会,基准市总工会,D{d},区总工会,第{d}区")
        for s in range(20):
            streets.append(f"基准第{d}区第{s}街道总工会")
            lines.append(f"{streets[-1]},基准第{d}区总工会,S{d}-{s},街道,")
    for w in range(size - len(lines) + 1):
        lines.append(f"基准企业{w}工会{suffix},{streets[w % len(streets)]},W{w},基层,")
    return ("\n".join(lines) + "\n").encode("gb18030")


def run(label: str, data: bytes) -> float:
    started = time.perf_counter()
    report = import_unions(data, "tree.csv")
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"{label}: import failed: {[str(e) for e in report.errors[:5]]}")
    print(f"{label:<36} {report.rows:>6} rows  {seconds:6.2f} s  (created {report.created}, updated "
          f"{report.updated}, moved {report.moved}, unchanged {report.unchanged})", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL")
    tmp = None
    if url:
        url = fresh_databases(url, [bench_database_name(url, "unions")])[0]
    else:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/unions-bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        db.create_all()
        if db.session.scalar(select(func.count(UnionNode.id))):
            print("the database already holds unions: use an empty one", file=sys.stderr)
            return 2
        times = [run("1. new tree", make_file(args.size)),
                 run("2. same file again (unchanged)", make_file(args.size)),
                 run("3. every workplace renamed (by code)", make_file(args.size, "（新）"))]
        db.engine.dispose()
    if tmp:
        tmp.cleanup()
    return 0 if max(times) < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
