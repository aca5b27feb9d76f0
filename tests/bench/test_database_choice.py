"""On a PostgreSQL server, the import benchmarks work in a database of their own, never in the one named.

`make bench` with DATABASE_URL=postgresql+psycopg://…/postgres once imported 10,000 accounts and their
unions into the server's `postgres` database, and the union benchmark then refused to start there.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bench import import_bench, unions_import

from ..conftest import worker_database_url

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="the dedicated benchmark databases are made on a PostgreSQL server")


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _drop(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize(("module", "suffix", "argv", "expected"), [
    (unions_import, "unions", ["--size", "400"], "new tree"),
    (import_bench, "import", ["--rows", "50", "--passwords", "0"], "new accounts"),
])
def test_the_benchmark_leaves_the_named_database_alone(module, suffix, argv, expected, worker_id, tmp_path,
                                                       monkeypatch, capsys):
    named = worker_database_url(worker_id, tmp_path, f"_bench_{suffix}")
    own = make_url(named).database + f"_{suffix}"
    monkeypatch.setenv("DATABASE_URL", named)
    try:
        assert module.main(argv) == 0
        out = capsys.readouterr().out
        assert f"/{own}" in out and expected in out
        assert _tables(named) == []  # nothing created or imported where the URL pointed
        assert "union_node" in _tables(make_url(named).set(database=own).render_as_string(hide_password=False))
    finally:
        _drop(named, own)
