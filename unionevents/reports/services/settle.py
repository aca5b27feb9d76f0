"""Carrying the marked ``report_reach`` rows into ``report_reach_span`` (``flask reports settle``).

The hook only marks the rows it changes (``pending = 1``); ``settle_reach`` derives the span rows
from them in one short write transaction.  It runs in the background — ``flask reports settle``
(once, or ``--every SECONDS``), a timer, or a worker loop — never inside an officer's request, so a
report page never waits for the write lock.  Until it runs, the unique-worker figures are those of
the last settle: ``freshness()`` says when that was and whether changes are waiting.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, func, select, tuple_, update

from ...activities.models import ActivityKind
from ...extensions import db
from .. import rules
from ..models import COUNTED_NEF, ReachMeasure, ReportReach, ReportReachSpan
from .counters import REACH_KEY, _insert, _is_postgresql

SPAN_KEY = ["node_id", "measure", "kinds", "grain", "prev_day", "day"]
#: Any number; settles on PostgreSQL take this transaction-level advisory lock one at a time.
SETTLE_LOCK = 0x5245_4143  # "REAC"


def _span_upsert():
    table = ReportReachSpan.__table__
    stmt = _insert(table)
    return stmt.on_conflict_do_update(
        index_elements=SPAN_KEY, set_={"workers": table.c.workers + stmt.excluded.workers,
                                       "nef": table.c.nef + stmt.excluded.nef})


def _add_spans(deltas: dict[tuple, tuple[int, int]]) -> None:
    """Add (workers, nef) to span rows keyed (node_id, measure, kinds, grain, prev_day, day): one
    statement, rows in key order so that concurrent writers lock them in the same order."""
    rows = [dict(zip(SPAN_KEY, key), workers=workers, nef=nef)
            for key, (workers, nef) in sorted(deltas.items()) if workers or nef]
    if rows:
        db.session.execute(_span_upsert(), rows)


def _current_bits(r) -> Any:
    """SQL: what a report_reach row should count (``rules.reach_bits`` plus COUNTED_NEF)."""
    return sum((case((r.c[m.column] > 0, m.bit), else_=0) for m in ReachMeasure), r.c.nef * COUNTED_NEF)


def settle_reach() -> int:
    """Carry the report_reach rows changed since the last call into report_reach_span.

    Run by the dashboard before it reads (and by ``check``).  One cheap query when nothing changed;
    otherwise, in one write transaction: the changed workers' rows at the unions where they changed,
    the changed rows again locked (PostgreSQL, skipping rows a sign-up is changing right now: they
    stay marked for the next call), the span rows' changes (``rules.settle_deltas``) and the rows'
    new ``counted``.  Returns the number of rows settled.
    """
    from ...core.db import write_transaction

    r = ReportReach.__table__
    if db.session.execute(select(r.c.node_id).where(r.c.pending == 1).limit(1)).first() is None:
        return 0
    session = db.session()
    keep, session.expire_on_commit = session.expire_on_commit, False  # the request's objects stay loaded
    try:
        with write_transaction():
            if _is_postgresql():
                db.session.execute(select(func.pg_advisory_xact_lock(SETTLE_LOCK)))
            workers = select(r.c.node_id, r.c.user_id).where(r.c.pending == 1).distinct()
            groups: dict[tuple[int, int], dict[tuple, rules.RowState]] = {}
            for row in db.session.execute(
                    select(r.c.node_id, r.c.user_id, r.c.day, r.c.kind, r.c.counted)
                    .where(tuple_(r.c.node_id, r.c.user_id).in_(workers))):
                kind = ActivityKind(row.kind).value
                groups.setdefault((row.node_id, row.user_id), {})[(row.day, kind)] = rules.RowState(
                    row.day, kind, row.counted, row.counted)
            locked = db.session.execute(
                select(r.c.node_id, r.c.user_id, r.c.day, r.c.kind, _current_bits(r).label("bits"))
                .where(r.c.pending == 1).order_by(*[r.c[name] for name in REACH_KEY])
                .with_for_update(skip_locked=True)).all()
            # A worker first marked after the read above waits for the next call (their other rows are
            # unknown here).
            locked = [row for row in locked if (row.node_id, row.user_id) in groups]
            for row in locked:
                kind = ActivityKind(row.kind).value
                rows = groups[(row.node_id, row.user_id)]
                before = rows.get((row.day, kind))  # None: added since the read above, so never counted
                counted = before.counted if before else 0
                rows[(row.day, kind)] = rules.RowState(row.day, kind, counted, row.bits)
            deltas: dict[tuple, tuple[int, int]] = {}
            for (node_id, _user_id), rows in groups.items():
                for key, (workers, nef) in rules.settle_deltas(rows.values()).items():
                    have = deltas.get((node_id, *key), (0, 0))
                    deltas[(node_id, *key)] = (have[0] + workers, have[1] + nef)
            _add_spans(deltas)
            if locked:
                db.session.execute(
                    update(r).where(r.c.node_id == bindparam("k_node"), r.c.user_id == bindparam("k_user"),
                                    r.c.day == bindparam("k_day"), r.c.kind == bindparam("k_kind"))
                    .values(counted=bindparam("k_bits"), pending=0),
                    [{"k_node": row.node_id, "k_user": row.user_id, "k_day": row.day, "k_kind": row.kind,
                      "k_bits": row.bits} for row in locked])
    finally:
        session.expire_on_commit = keep
    return len(locked)

