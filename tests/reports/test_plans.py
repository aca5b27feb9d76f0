"""Report requests plan their statements for the values bound (core.db.plan_each_run): with
psycopg's prepared statements PostgreSQL otherwise switched the report queries to generic plans after
five runs, and every report page took ~240 ms more (docs/performance.md).  They also plan without
parallel workers: starting them cost more than they saved (the city's reach over 12 months, four
kinds: 155 -> 135 ms)."""
from __future__ import annotations

from flask import request_finished
from sqlalchemy import text

from unionevents.core.db import is_sqlite, plan_each_run
from unionevents.extensions import db


def test_report_blueprints_plan_each_run(app):
    assert plan_each_run in app.before_request_funcs["reports"]
    assert plan_each_run in app.before_request_funcs["api_reports"]
    assert plan_each_run not in app.before_request_funcs.get(None, [])  # sign-ups keep generic plans


def test_a_report_request_reads_with_custom_plans(app, client, officer, login):
    login(officer())
    seen = {}

    def note_the_mode(sender, response, **extra):  # still inside the request's transaction
        if not is_sqlite():
            seen["mode"] = db.session.execute(text("SHOW plan_cache_mode")).scalar()
            seen["parallel"] = db.session.execute(text("SHOW max_parallel_workers_per_gather")).scalar()

    with request_finished.connected_to(note_the_mode, app):
        assert client.get("/reports/").status_code == 200
    if is_sqlite():
        assert seen == {}  # SQLite has no plan cache mode: nothing is sent
    else:
        assert seen == {"mode": "force_custom_plan", "parallel": "0"}
        # Local settings: the next transaction on the pooled connection is back to the server's
        db.session.commit()
        assert db.session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        assert db.session.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "2"
