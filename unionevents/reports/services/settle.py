"""Carrying the marked ``report_reach`` rows into ``report_reach_span`` (``flask reports settle``).

The hook only marks the rows it changes (``pending = 1``); ``settle_reach`` derives the span rows
from them in one short write transaction.  It runs in the background — ``flask reports settle``
(once, or ``--every SECONDS``), a timer, or a worker loop — never inside an officer's request, so a
report page never waits for the write lock.  Until it runs, the unique-worker figures are those of
the last settle: ``freshness()`` says when that was and whether changes are waiting.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update

from ...activities.models import ActivityKind
from ...extensions import db
from .. import rules
from ..models import COUNTED_NEF, ReachMeasure, ReportReach, ReportReachSpan, ReportSettle
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


#: How many (union, worker) pairs one settle transaction carries over: bounds the time it holds the
#: SQLite write lock whatever the backlog (docs/performance.md has the figures).
SETTLE_BATCH = 500


def settle_reach(batch: int = SETTLE_BATCH) -> int:
    """Carry the report_reach rows the hook marked into report_reach_span, ``batch`` (union, worker)
    pairs per write transaction until none is left; returns the number of rows settled.

    Never called by a request: ``flask reports settle`` runs it (from a timer every minute, or in a
    loop with ``--every``), and ``check`` before it compares.  One cheap query when nothing is marked.
    """
    settled = 0
    while True:
        rows, more = _settle_batch(batch)
        settled += rows
        if not more:
            return settled


def _settle_batch(batch: int) -> tuple[int, bool]:
    """One write transaction: up to ``batch`` marked workers' rows at the unions where they changed,
    the marked rows among them locked (PostgreSQL, skipping rows a sign-up is changing right now:
    they stay marked for the next call), the span rows' changes (``rules.settle_deltas``), the rows'
    new ``counted`` and the time of the settle.  Returns (rows settled, whether more may be marked)."""
    from ...core.db import write_transaction
    from ...core.timeutil import now

    r = ReportReach.__table__
    if db.session.execute(select(r.c.node_id).where(r.c.pending == 1).limit(1)).first() is None:
        return 0, False
    session = db.session()
    keep, session.expire_on_commit = session.expire_on_commit, False  # the caller's objects stay loaded
    try:
        with write_transaction():
            if _is_postgresql():
                db.session.execute(select(func.pg_advisory_xact_lock(SETTLE_LOCK)))
            pairs = [tuple(row) for row in db.session.execute(
                select(r.c.node_id, r.c.user_id).where(r.c.pending == 1).distinct()
                .order_by(r.c.node_id, r.c.user_id).limit(batch))]
            if not pairs:
                return 0, False
            workers = _pairs_clause(r, pairs)
            groups: dict[tuple[int, int], dict[tuple, rules.RowState]] = {}
            for row in db.session.execute(
                    select(r.c.node_id, r.c.user_id, r.c.day, r.c.kind, r.c.counted).where(workers)):
                kind = ActivityKind(row.kind).value
                groups.setdefault((row.node_id, row.user_id), {})[(row.day, kind)] = rules.RowState(
                    row.day, kind, row.counted, row.counted)
            locked = db.session.execute(
                select(r.c.node_id, r.c.user_id, r.c.day, r.c.kind, _current_bits(r).label("bits"))
                .where(r.c.pending == 1, workers).order_by(*[r.c[name] for name in REACH_KEY])
                .with_for_update(skip_locked=True)).all()
            # A row marked after the read above waits for the next call if its worker's other rows
            # were not read (they are unknown here).
            locked = [row for row in locked if (row.node_id, row.user_id) in groups]
            for row in locked:
                kind = ActivityKind(row.kind).value
                rows = groups[(row.node_id, row.user_id)]
                before = rows.get((row.day, kind))  # None: added since the read above, so never counted
                counted = before.counted if before else 0
                rows[(row.day, kind)] = rules.RowState(row.day, kind, counted, row.bits)
            deltas: dict[tuple, tuple[int, int]] = {}
            for (node_id, _user_id), rows in groups.items():
                for key, (workers_delta, nef) in rules.settle_deltas(rows.values()).items():
                    have = deltas.get((node_id, *key), (0, 0))
                    deltas[(node_id, *key)] = (have[0] + workers_delta, have[1] + nef)
            _add_spans(deltas)
            if locked:
                db.session.execute(
                    update(r).where(r.c.node_id == bindparam("k_node"), r.c.user_id == bindparam("k_user"),
                                    r.c.day == bindparam("k_day"), r.c.kind == bindparam("k_kind"))
                    .values(counted=bindparam("k_bits"), pending=0),
                    [{"k_node": row.node_id, "k_user": row.user_id, "k_day": row.day, "k_kind": row.kind,
                      "k_bits": row.bits} for row in locked])
            mark_settled(now())
    finally:
        session.expire_on_commit = keep
    # A full batch may leave more; rows skipped while locked (PostgreSQL) wait for the next run.
    return len(locked), len(pairs) == batch and bool(locked)


def _pairs_clause(r, pairs: list[tuple[int, int]]) -> Any:
    """SQL: the rows of these (union, worker) pairs, as one ``node_id = ? AND user_id IN (…)`` per union
    so that both engines seek the primary key (a row-value ``IN`` list made SQLite scan the table)."""
    by_node: dict[int, list[int]] = {}
    for node_id, user_id in pairs:
        by_node.setdefault(node_id, []).append(user_id)
    return or_(*[and_(r.c.node_id == node_id, r.c.user_id.in_(users)) for node_id, users in by_node.items()])


def mark_settled(at: datetime) -> None:
    """Record (in the caller's transaction) that report_reach_span is settled as of ``at``."""
    table = ReportSettle.__table__
    stmt = _insert(table).values(id=1, settled_at=at)
    db.session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"settled_at": at}))


@dataclass(frozen=True)
class Freshness:
    """How current the unique-worker figures are: ``waiting`` when changes are marked but not yet
    settled; ``settled_at`` (UTC) when the last settle ran (None: never since the tables were made)."""

    settled_at: datetime | None
    waiting: bool


def freshness() -> Freshness:
    """One read (no write, no lock): the last settle's time and whether rows wait for the next."""
    r = ReportReach.__table__
    row = db.session.execute(select(
        select(ReportSettle.settled_at).where(ReportSettle.id == 1).scalar_subquery(),
        exists().where(r.c.pending == 1))).one()
    return Freshness(settled_at=row[0], waiting=bool(row[1]))

