"""Benchmark the worker import: generate a 10,000-row file and import it in-process.

    .venv/bin/python bench/import_bench.py                      # a fresh SQLite file in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/import_bench.py

Runs four imports and prints rows/s and seconds for each:
  1. new accounts without passwords (welcome SMS queued in the outbox),
  2. the same file again (all unchanged: the idempotent path),
  3. the same file with every name changed (all updated),
  4. ``--passwords N`` new rows with an initial password, hashed with the production method (scrypt).
With DATABASE_URL (a PostgreSQL server) it (re)creates the database ``bench_import`` (``<db>_import``
when the URL names a database ``<db>`` other than ``postgres``) there, as the other benchmarks do, and
never writes to the database the URL names.  Every account and message the benchmark made is deleted
afterwards unless ``--keep``; the import's audit rows (counts only) stay.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, select  # noqa: E402

from bench.common import bench_database_name, fresh_databases  # noqa: E402
from unionevents import create_app  # noqa: E402
from unionevents.accounts.imports import import_workers  # noqa: E402
from unionevents.accounts.models import User  # noqa: E402
from unionevents.core.outbox import OutboxMessage  # noqa: E402
from unionevents.extensions import db  # noqa: E402
from unionevents.unions.models import NodeLevel  # noqa: E402
from unionevents.unions.services import get_or_create_node  # noqa: E402

MOBILE_PREFIX = "1990"  # 199 0xxx xxxx: reserved for this benchmark
UNIONS = ["基准测试市总工会", "基准测试区总工会", "基准测试快递驿站工会", "基准测试商场工会"]
OCCUPATIONS = ["快递员", "外卖骑手", "网约车司机", "家政服务员", "其他", "courier"]


def make_file(count: int, offset: int = 0, name_suffix: str = "", password: str | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["手机号", "姓名", "工会", "职业"] + (["初始密码"] if password else []))
    for i in range(offset, offset + count):
        row = [f"{MOBILE_PREFIX}{i:07d}", f"职工{i}{name_suffix}", UNIONS[2 + i % 2], OCCUPATIONS[i % 6]]
        writer.writerow(row + ([password] if password else []))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def ensure_unions() -> None:
    city = get_or_create_node(UNIONS[0], NodeLevel.CITY)
    district = get_or_create_node(UNIONS[1], NodeLevel.DISTRICT, city, "基准区")
    for name in UNIONS[2:]:
        get_or_create_node(name, NodeLevel.WORKPLACE, district)
    db.session.commit()


def cleanup() -> None:
    ids = select(User.id).where(User.mobile.like(MOBILE_PREFIX + "%"))
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.user_id.in_(ids)))
    db.session.execute(delete(User).where(User.mobile.like(MOBILE_PREFIX + "%")))
    db.session.commit()


def run(label: str, data: bytes, rows: int) -> None:
    started = time.perf_counter()
    report = import_workers(data, "bench.csv", actor=None)
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"{label}: import failed: {[str(e) for e in report.errors[:5]]}")
    print(f"{label:<42} {rows:>6} rows  {seconds:7.2f} s  {rows / seconds:9.0f} rows/s  "
          f"(created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
          f"welcome SMS {report.welcome_messages})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--passwords", type=int, default=200,
                        help="rows with an initial password in the last run (0 skips it)")
    parser.add_argument("--keep", action="store_true", help="keep the imported accounts")
    args = parser.parse_args(argv)

    url = os.environ.get("DATABASE_URL")
    tmp = None
    if url:
        url = fresh_databases(url, [bench_database_name(url, "import")])[0]
    else:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/import-bench.db"
    # The production configuration (scrypt passwords, FULL sync on SQLite), only the database changed.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}; "
              f"password hash: {app.config['PASSWORD_HASH_METHOD']}")
        db.create_all()
        ensure_unions()
        cleanup()
        try:
            run("1. new accounts, welcome SMS", make_file(args.rows), args.rows)
            run("2. same file again (unchanged)", make_file(args.rows), args.rows)
            run("3. every name changed (updated)", make_file(args.rows, name_suffix="乙"), args.rows)
            if args.passwords:
                run("4. new accounts with initial passwords", make_file(args.passwords, offset=args.rows,
                                                                          password="Start2024x"),
                    args.passwords)
        finally:
            if not args.keep:
                cleanup()
        db.engine.dispose()
    if tmp:
        tmp.cleanup()
    return 0  # correctness is tested in tests/accounts/test_imports.py; this prints the speed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
