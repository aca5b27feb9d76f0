"""Keeping the report summary tables current, rebuilding them, and the figure providers.

The registration engine calls ``record_transition`` from its one state changer (and when it inserts
a registration); the activity services call ``sync_activity`` after creating, editing, publishing or
cancelling an activity.  Both run inside the caller's transaction, so a summary can never disagree
with the change it counts.  ``rebuild`` recomputes everything from scratch (``flask reports rebuild``)
and ``recount`` / ``snapshot`` let a test (or ``flask reports check``) prove they agree.

``report_reach_span`` is derived from ``report_reach`` by ``settle_reach``, which the dashboard runs
before it reads: the hook only marks the worker's changed rows (in the statement it already runs, so
a sign-up costs no more statements than before), and ``settle_reach`` carries the marked rows over.
"""
from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable

from sqlalchemy import (Date, Integer, Select, and_, bindparam, case, cast, delete, func, literal, literal_column,
                        select, text, tuple_, union_all, update)

from ..accounts.models import NEW_EMPLOYMENT_FORM, User
from ..activities.models import Activity, ActivityKind, ActivityStatus
from ..core.timeutil import utc_to_local
from ..extensions import db
from ..registrations.models import PLACE_STATES, Registration, RegistrationState as S
from ..unions.models import UnionNode
from . import rules
from .models import (ALL_KINDS, COUNTED_NEF, KIND_BITS, KIND_CODES, STATE_COLUMNS,
                     ReachMeasure, ReportActivity, ReportDaily, ReportNodeAncestor, ReportReach, ReportReachSpan,
                     SpanGrain)

log = logging.getLogger(__name__)

#: Occupation values that make a new-employment-form worker, for SQL.
NEF_VALUES = tuple(sorted(o.value for o in NEW_EMPLOYMENT_FORM))
COUNTER_COLUMNS = STATE_COLUMNS + ("nef_registrations",)


def local_day(starts_at: datetime) -> date:
    """The day an activity counts on: its start date in Asia/Shanghai."""
    return utc_to_local(starts_at).date()


def month_of(day: date) -> int:
    return day.year * 100 + day.month


def _nef_flag(user_id_column) -> Any:
    """1 when the worker is a new-employment-form worker (a correlated scalar subquery)."""
    return (select(case((User.occupation.in_(NEF_VALUES), 1), else_=0)).where(User.id == user_id_column)
            .scalar_subquery())


# --------------------------------------------------------------------------- portable upsert

def _insert(table):
    return _insert_for(db.session.get_bind().dialect.name, table)


def _insert_for(dialect: str, table):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _upsert_add(model, key: dict, counters: dict, extra: dict | None = None) -> None:
    """INSERT the row with ``counters`` or, when its key exists, add ``counters`` to it: one statement."""
    table = model.__table__
    stmt = _insert(table).values({**key, **counters, **(extra or {})})
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + stmt.excluded[name] for name in counters})
    db.session.execute(stmt)


# --------------------------------------------------------------------------- the hook

def record_transition(activity_id: int, old: S | None, new: S, user_id: int) -> None:
    """Count one registration of ``user_id`` moving from ``old`` (None: just created) to ``new``.

    Cheap by design, since it runs inside the sign-up transaction: one UPDATE of the day's row
    (found through the activity's key row, no read first), plus one UPSERT of the worker's
    reach rows (one statement) only when a place or an attendance was gained or lost.  An activity that was
    never counted (created before the reports existed) is counted from its registrations instead,
    which already include this change.  Both statements are built once per shape (values bound per
    call): building them cost more than running them on the sign-up path.
    """
    if old == new:
        return
    params = {"activity_id": activity_id, "user_id": user_id}
    done = db.session.execute(_daily_statement(old, new), params).rowcount
    if not done:
        _heal(activity_id)
        return
    places = (new in PLACE_STATES) - (old in PLACE_STATES)
    attended = (new == S.ATTENDED) - (old == S.ATTENDED)
    if places or attended:
        if not _reach_activity(activity_id, user_id, places, attended):
            ra = ReportActivity.__table__
            node_id = db.session.scalar(select(ra.c.node_id).where(ra.c.activity_id == activity_id))
            _ancestors(node_id)  # a union created after the closure was built: add its rows, then count
            _reach_activity(activity_id, user_id, places, attended)


@functools.cache
def _daily_statement(old: S | None, new: S):
    """UPDATE the activity's day row: one count from ``old``'s column to ``new``'s (+1 new-employment-form
    registration on creation).  Bound: ``activity_id``, ``user_id``."""
    daily, ra = ReportDaily.__table__, ReportActivity.__table__
    values: dict[str, Any] = {new.value: daily.c[new.value] + 1}
    if old is None:
        values["nef_registrations"] = daily.c.nef_registrations + _nef_flag(bindparam("user_id", type_=Integer))
    else:
        values[old.value] = daily.c[old.value] - 1
    key = select(ra.c.day, ra.c.node_id, ra.c.kind).where(ra.c.activity_id == bindparam("activity_id"))
    return update(daily).where(tuple_(daily.c.day, daily.c.node_id, daily.c.kind).in_(key)).values(values)


REACH_KEY = ["node_id", "user_id", "day", "kind"]
REACH_COLUMNS = REACH_KEY + ["places", "attended", "own_places", "own_attended", "nef", "pending"]
REACH_COUNTERS = ("places", "attended", "own_places", "own_attended")


def _reach_upsert(stmt):
    """Add to the counters, and mark the row for ``settle_reach`` (in the same statement)."""
    table = ReportReach.__table__
    return stmt.on_conflict_do_update(
        index_elements=REACH_KEY,
        set_={**{name: table.c[name] + stmt.excluded[name] for name in REACH_COUNTERS},
              "pending": literal(1)})


def _reach_activity(activity_id: int, user_id: int, places: int, attended: int) -> int:
    """Add the worker's place/attendance change to every union from the activity's organiser up
    (one INSERT … SELECT … ON CONFLICT DO UPDATE); the number of rows touched (0: no closure rows)."""
    params = {"activity_id": activity_id, "user_id": user_id, "places": places, "attended": attended}
    return db.session.execute(_reach_statement(db.session.get_bind().dialect.name), params).rowcount


@functools.cache
def _reach_statement(dialect: str):
    """The reach UPSERT for one dialect.  Bound: ``activity_id``, ``user_id``, ``places``, ``attended``."""
    ra, closure = ReportActivity.__table__, ReportNodeAncestor.__table__
    own = closure.c.ancestor_id == ra.c.node_id
    user_id = bindparam("user_id", type_=Integer)
    places, attended = bindparam("places", type_=Integer), bindparam("attended", type_=Integer)
    rows = (select(closure.c.ancestor_id, user_id, ra.c.day, ra.c.kind, places, attended,
                   case((own, places), else_=literal(0)), case((own, attended), else_=literal(0)),
                   _nef_flag(user_id), literal(1))
            .select_from(ra.join(closure, closure.c.node_id == ra.c.node_id))
            .where(ra.c.activity_id == bindparam("activity_id")))
    return _reach_upsert(_insert_for(dialect, ReportReach.__table__).from_select(REACH_COLUMNS, rows))


def _ancestors(node_id: int) -> list[int]:
    """The ids of the union and every union above it (closure rows made from its path if missing)."""
    closure = ReportNodeAncestor.__table__
    ids = list(db.session.scalars(select(closure.c.ancestor_id).where(closure.c.node_id == node_id)))
    if ids:
        return ids
    path = db.session.scalar(select(UnionNode.path).where(UnionNode.id == node_id)) or ""
    ids = [int(part) for part in path.strip("/").split("/") if part] or [node_id]
    db.session.execute(closure.insert(), [{"node_id": node_id, "ancestor_id": a} for a in ids])
    return ids


def _heal(activity_id: int) -> None:
    """The hook found no summary row for the activity: count the activity afresh."""
    if db.session.scalar(select(ReportActivity.activity_id).where(ReportActivity.activity_id == activity_id)):
        # Its key row exists but the day's row was deleted by hand: put this activity back in it.
        log.warning("report_daily row missing for activity %s; run `flask reports rebuild`", activity_id)
        row = db.session.get(ReportActivity, activity_id)
        _add_daily(_Key(row.node_id, row.day, ActivityKind(row.kind)),
                   {**_activity_counts(activity_id), **_status_counters(ActivityStatus(row.status))})
        return
    sync_activity(activity_id)


# --------------------------------------------------------------------------- activities

@dataclass(frozen=True)
class _Key:
    node_id: int
    day: date
    kind: ActivityKind

    @property
    def month(self) -> int:
        return month_of(self.day)


def _status_counters(status: ActivityStatus, sign: int = 1) -> dict[str, int]:
    return {"activities_held": sign * int(status == ActivityStatus.PUBLISHED),
            "activities_cancelled": sign * int(status == ActivityStatus.CANCELLED)}


def _activity_counts(activity_id: int) -> dict[str, int]:
    """The activity's registrations per state, and by new-employment-form workers (one query)."""
    counts = dict.fromkeys(COUNTER_COLUMNS, 0)
    rows = db.session.execute(
        select(Registration.state, func.count(Registration.id),
               func.sum(case((User.occupation.in_(NEF_VALUES), 1), else_=0)))
        .join(User, User.id == Registration.user_id)
        .where(Registration.activity_id == activity_id).group_by(Registration.state)).all()
    for state, count, nef in rows:
        counts[S(state).value] = count
        counts["nef_registrations"] += int(nef or 0)
    return counts


def _activity_participants(activity_id: int) -> list[dict]:
    """Per worker: places held and attended in this activity (one query)."""
    rows = db.session.execute(
        select(Registration.user_id,
               func.sum(case((Registration.state.in_(PLACE_STATES), 1), else_=0)),
               func.sum(case((Registration.state == S.ATTENDED, 1), else_=0)),
               func.max(case((User.occupation.in_(NEF_VALUES), 1), else_=0)))
        .join(User, User.id == Registration.user_id)
        .where(Registration.activity_id == activity_id, Registration.state.in_(PLACE_STATES))
        .group_by(Registration.user_id)).all()
    return [{"user_id": uid, "places": int(places), "attended": int(att), "nef": int(nef)}
            for uid, places, att, nef in rows]


def _add_participants(key: _Key, people: list[dict], sign: int) -> None:
    """Add (``sign`` +1) or take away (-1) the activity's workers at every level above its organiser."""
    rows = []
    for ancestor in _ancestors(key.node_id):
        own = ancestor == key.node_id
        rows += [{"node_id": ancestor, "user_id": p["user_id"], "day": key.day, "kind": key.kind,
                  "places": sign * p["places"], "attended": sign * p["attended"],
                  "own_places": sign * p["places"] if own else 0, "own_attended": sign * p["attended"] if own else 0,
                  "nef": p["nef"], "pending": 1} for p in people]
    if rows:
        db.session.execute(_reach_upsert(_insert(ReportReach.__table__)), rows)


def _add_daily(key: _Key, counters: dict[str, int]) -> None:
    _upsert_add(ReportDaily, {"day": key.day, "node_id": key.node_id, "kind": key.kind}, counters,
                {"month": key.month})


def sync_activity(activity: Activity | int) -> None:
    """Bring the summaries in line with the activity's organiser, day, kind and status.

    Call after creating an activity or changing any of those (publish, unpublish, cancel, edit), in
    the same transaction.  Does nothing when nothing the reports key on has changed; moves the
    activity's counts to its new key when its union, day or kind changed.
    """
    activity_id = activity if isinstance(activity, int) else activity.id
    if not isinstance(activity, int):
        db.session.flush()
    current = db.session.execute(
        select(Activity.node_id, Activity.starts_at, Activity.kind, Activity.status)
        .where(Activity.id == activity_id)).first()
    if current is None:
        return
    key = _Key(current.node_id, local_day(current.starts_at), ActivityKind(current.kind))
    status = ActivityStatus(current.status)
    row = db.session.execute(select(ReportActivity.node_id, ReportActivity.day, ReportActivity.kind,
                                    ReportActivity.status)
                             .where(ReportActivity.activity_id == activity_id)).first()
    if row is None:
        db.session.execute(ReportActivity.__table__.insert().values(
            activity_id=activity_id, node_id=key.node_id, day=key.day, month=key.month, kind=key.kind,
            status=status))
        _add_daily(key, {**_activity_counts(activity_id), **_status_counters(status)})
        _add_participants(key, _activity_participants(activity_id), +1)
        return
    old_key = _Key(row.node_id, row.day, ActivityKind(row.kind))
    old_status = ActivityStatus(row.status)
    if old_key == key and old_status == status:
        return
    if old_key == key:
        held, was = _status_counters(status), _status_counters(old_status)
        _add_daily(key, {name: held[name] - was[name] for name in held})
    else:
        counts = _activity_counts(activity_id)
        _add_daily(old_key, {**{n: -v for n, v in counts.items()}, **_status_counters(old_status, -1)})
        _add_daily(key, {**counts, **_status_counters(status)})
        people = _activity_participants(activity_id)
        _add_participants(old_key, people, -1)
        _add_participants(key, people, +1)
    db.session.execute(update(ReportActivity.__table__)
                       .where(ReportActivity.__table__.c.activity_id == activity_id)
                       .values(node_id=key.node_id, day=key.day, month=key.month, kind=key.kind, status=status))


def regroup_subtree(node_ids: list[int], change_tree: Callable[[], None]) -> None:
    """Keep the reach rows right while the unions ``node_ids`` (a whole subtree) change their place in
    the tree: ``change_tree()`` rewrites their paths (a move, or a merge's moving of children).

    The day rows are per organising union and do not change; the reach rows count a worker at every
    level above the activity, so each activity of the subtree is taken away from its old ancestors,
    the subtree's closure rows are dropped, the tree changes, and the activity is added to its new
    ancestors (the closure rows are remade from the new paths).  Same transaction as the change.
    """
    ra, closure = ReportActivity.__table__, ReportNodeAncestor.__table__
    keyed: list[tuple[_Key, list[dict]]] = []
    for start in range(0, len(node_ids), 500):
        for row in db.session.execute(select(ra.c.activity_id, ra.c.node_id, ra.c.day, ra.c.kind)
                                      .where(ra.c.node_id.in_(node_ids[start:start + 500]))):
            key = _Key(row.node_id, row.day, ActivityKind(row.kind))
            people = _activity_participants(row.activity_id)
            if people:
                keyed.append((key, people))
                _add_participants(key, people, -1)
    change_tree()
    for start in range(0, len(node_ids), 500):
        db.session.execute(delete(closure).where(closure.c.node_id.in_(node_ids[start:start + 500])))
    for key, people in keyed:
        _add_participants(key, people, +1)


# --------------------------------------------------------------------------- report_reach_span

SPAN_KEY = ["node_id", "measure", "kinds", "grain", "prev_day", "day"]
#: Any number; settles on PostgreSQL take this transaction-level advisory lock one at a time.
SETTLE_LOCK = 0x5245_4143  # "REAC"


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


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
    from ..core.db import write_transaction

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


def _kind_code(kind_column) -> Any:
    return case({kind.value: code for kind, code in KIND_CODES.items()}, value=kind_column)


def _month_start(day_column) -> Any:
    if _is_postgresql():
        # a literal, not a parameter, so that the GROUP BY repeats the very same expression
        return cast(func.date_trunc(literal_column("'month'"), day_column), Date)
    # a literal here too: with a parameter SQLite evaluates the GROUP BY's copy apart (~1.7× slower)
    return func.date(day_column, literal_column("'start of month'"))


def _span_day_select(measure: ReachMeasure, per_kind: bool) -> Select:
    """The DAY span rows of one measure recounted from report_reach (window functions, one statement):
    each reach day +1, each day that follows another of the same worker's −1 on (previous, day)."""
    r = ReportReach.__table__
    reached = r.c[measure.column] > 0
    if per_kind:
        events = select(r.c.node_id, r.c.user_id, _kind_code(r.c.kind).label("kinds"), r.c.day, r.c.nef) \
            .where(reached)
    else:  # one event per worker and day, whatever the kinds
        events = (select(r.c.node_id, r.c.user_id, literal(ALL_KINDS).label("kinds"), r.c.day,
                         func.max(r.c.nef).label("nef"))
                  .where(reached).group_by(r.c.node_id, r.c.user_id, r.c.day))
    ev = events.cte("events")
    previous = func.lag(ev.c.day).over(partition_by=(ev.c.node_id, ev.c.user_id, ev.c.kinds),
                                       order_by=ev.c.day)
    follows = (select(ev.c.node_id, ev.c.kinds, ev.c.day, ev.c.nef, previous.label("prev_day"))
               .subquery("follows"))
    signed = union_all(
        select(ev.c.node_id, ev.c.kinds, ev.c.day.label("prev_day"), ev.c.day, literal(1).label("workers"),
               ev.c.nef.label("nef")),
        select(follows.c.node_id, follows.c.kinds, follows.c.prev_day, follows.c.day, literal(-1),
               -follows.c.nef).where(follows.c.prev_day.is_not(None)),
    ).subquery("signed")
    return (select(signed.c.node_id, literal(measure.value), signed.c.kinds, literal(SpanGrain.DAY.value),
                   signed.c.prev_day, signed.c.day, func.sum(signed.c.workers), func.sum(signed.c.nef))
            .group_by(signed.c.node_id, signed.c.kinds, signed.c.prev_day, signed.c.day))


def _latest(values: list) -> Any:
    """SQL: the latest of some dates, NULLs left out (NULL when all are)."""
    if _is_postgresql():
        return func.greatest(*values)
    # SQLite's max(a, b, …) is NULL when any argument is; its dates are ISO strings, all after ''.
    return func.nullif(func.max(*[func.coalesce(value, "") for value in values]), "")


def _set_month_groups(measure: ReachMeasure) -> Select:
    """Workers reached with ``measure``, grouped for the kind sets' MONTH rows (one statement).

    Per worker and union: each month they were reached in, the kinds (bits) that reached them then,
    and for each kind the last earlier month it reached them (a running ``max`` over the worker's
    months).  Workers of a union with the same month, kinds and earlier months are one group (``n``):
    at a million registrations 2.7 M worker-months make 0.24 M groups."""
    r = ReportReach.__table__
    month = _month_start(r.c.day)
    kind_bits = sum((func.max(case((r.c.kind == literal_column(f"'{kind.value}'"), literal_column(str(bit))),
                                   else_=literal_column("0")))
                     for kind, bit in KIND_BITS.items()), literal_column("0"))
    events = (select(r.c.node_id, r.c.user_id, month.label("month"), kind_bits.label("bits"),
                     func.max(r.c.nef).label("nef"))
              .where(r.c[measure.column] > 0).group_by(r.c.node_id, r.c.user_id, month)).subquery("set_events")
    e = events.c
    # Written out: SQLAlchemy binds the frame's "1 PRECEDING", and SQLite then sees five different
    # windows and sorts the rows five times.
    earlier = ("OVER (PARTITION BY set_events.node_id, set_events.user_id ORDER BY set_events.month "
               "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)")
    lasts = [literal_column(f"max(CASE WHEN (set_events.bits & {bit}) != 0 THEN set_events.month END) {earlier}",
                            type_=Date).label(f"last{bit}") for bit in sorted(KIND_BITS.values())]
    windowed = select(e.node_id, e.month, e.bits, e.nef, *lasts).select_from(events).subquery("set_windowed")
    same = list(windowed.c)
    return select(*same, func.count().label("n")).group_by(*same)


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _set_month_spans(measure: ReachMeasure) -> dict[tuple, list[int]]:
    """The kind sets' MONTH span rows of one measure: each group of ``_set_month_groups`` spread over
    the sets its kinds meet — +n on (month, month), −n on (the set's previous month, month), the
    latest of its kinds' earlier months.  Spread here rather than in SQL: SQLite would sort the
    ~3.4 M spread rows to add them up; a dict does it in a few seconds."""
    spans: dict[tuple, list[int]] = {}
    grain = SpanGrain.MONTH.value
    spread_of: dict[tuple, list[tuple[int, Any]]] = {}  # (kinds, earlier months) → [(set, previous)]
    for node_id, month, bits, nef, *lasts, n in db.session.execute(_set_month_groups(measure)):
        shape = (bits, *lasts)
        spread = spread_of.get(shape)
        if spread is None:
            spread = spread_of[shape] = rules.spread_kind_sets(bits, tuple(lasts))
        month = _as_date(month)
        for code, previous in spread:
            row = spans.get((node_id, code, month, month))
            if row is None:
                row = spans[(node_id, code, month, month)] = [0, 0]
            row[0] += n
            row[1] += n * nef
            if previous is not None:
                key = (node_id, code, previous, month)
                row = spans.get(key)
                if row is None:
                    row = spans[key] = [0, 0]
                row[0] -= n
                row[1] -= n * nef
    return {(node_id, measure.value, code, grain, _as_date(previous), month): row
            for (node_id, code, previous, month), row in spans.items()}


def _rebuild_spans() -> None:
    """report_reach_span from report_reach (whose ``counted`` the rebuild has set to match)."""
    table = ReportReachSpan.__table__
    columns = SPAN_KEY + ["workers", "nef"]
    for measure in ReachMeasure:
        for per_kind in (False, True):
            db.session.execute(table.insert().from_select(columns, _span_day_select(measure, per_kind)))
    s = ReportReachSpan
    months = (select(s.node_id, s.measure, s.kinds, literal(SpanGrain.MONTH.value), _month_start(s.prev_day),
                     _month_start(s.day), func.sum(s.workers), func.sum(s.nef))
              .where(s.grain == SpanGrain.DAY.value)
              .group_by(s.node_id, s.measure, s.kinds, _month_start(s.prev_day), _month_start(s.day))
              .having((func.sum(s.workers) != 0) | (func.sum(s.nef) != 0)))
    db.session.execute(table.insert().from_select(columns, months))
    for measure in ReachMeasure:  # kind sets: MONTH rows only
        rows = [dict(zip(columns, (*key, workers, nef)))
                for key, (workers, nef) in _set_month_spans(measure).items() if workers or nef]
        for start in range(0, len(rows), 5000):
            db.session.execute(table.insert(), rows[start:start + 5000])


def _recount_spans(reach: dict[tuple, dict[str, int]]) -> dict[tuple, dict[str, int]]:
    """The span rows a set of recounted reach rows implies, in Python: ``rules.worker_spans`` per
    worker for all kinds and each kind; for the kind sets, the workers' month signatures
    (``rules.month_signatures``) counted, then each distinct one spread over the sets once."""
    workers: dict[tuple[int, int], dict] = {}
    for (node_id, user_id, day, kind), counts in reach.items():
        bits = rules.reach_bits(*(counts[name] for name in REACH_COUNTERS))
        if bits:
            group = workers.setdefault((node_id, user_id), {"rows": {}, "nef": 0})
            group["rows"][(day, kind)] = bits
            group["nef"] = max(group["nef"], counts["nef"])
    spans: dict[tuple, dict[str, int]] = {}

    def add(key: tuple, workers: int, nef: int) -> None:
        row = spans.setdefault(key, {"workers": 0, "nef": 0})
        row["workers"] += workers
        row["nef"] += nef

    signatures: dict[tuple, int] = {}
    for (node_id, _user_id), group in workers.items():
        for key, weight in rules.worker_spans(group["rows"], kinds=rules.PLAIN_KINDS).items():
            add((node_id, *key), weight, weight * group["nef"])
        for measure in ReachMeasure:
            for month, bits, lasts in rules.month_signatures(group["rows"], measure.bit):
                key = (node_id, measure.value, month, bits, lasts, group["nef"])
                signatures[key] = signatures.get(key, 0) + 1
    grain = SpanGrain.MONTH.value
    for (node_id, measure, month, bits, lasts, nef), count in signatures.items():
        for code, previous in rules.spread_kind_sets(bits, lasts):
            add((node_id, measure, code, grain, month, month), count, count * nef)
            if previous is not None:
                add((node_id, measure, code, grain, previous, month), -count, -count * nef)
    return {key: row for key, row in spans.items() if row["workers"] or row["nef"]}


# --------------------------------------------------------------------------- rebuild and recount

def _activity_keys() -> list[dict]:
    """Every activity's key row computed from the activities (one query)."""
    result = []
    for activity_id, node_id, starts_at, kind, status in db.session.execute(
            select(Activity.id, Activity.node_id, Activity.starts_at, Activity.kind, Activity.status)):
        day = local_day(starts_at)
        result.append({"activity_id": activity_id, "node_id": node_id, "day": day, "month": month_of(day),
                       "kind": ActivityKind(kind), "status": ActivityStatus(status)})
    return result


def _daily_select() -> Select:
    """The daily rows recounted from the registrations and the activities' key rows (one grouped query)."""
    ra = ReportActivity.__table__
    per_activity = (
        select(Registration.activity_id.label("activity_id"),
               *[func.sum(case((Registration.state == state, 1), else_=0)).label(state.value) for state in S],
               func.sum(case((User.occupation.in_(NEF_VALUES), 1), else_=0)).label("nef_registrations"))
        .join(User, User.id == Registration.user_id)
        .group_by(Registration.activity_id)
    ).subquery()
    return (
        select(ra.c.day, ra.c.node_id, ra.c.kind, ra.c.month,
               func.sum(case((ra.c.status == ActivityStatus.PUBLISHED.value, 1), else_=0)),
               func.sum(case((ra.c.status == ActivityStatus.CANCELLED.value, 1), else_=0)),
               *[func.coalesce(func.sum(per_activity.c[name]), 0) for name in COUNTER_COLUMNS])
        .select_from(ra).outerjoin(per_activity, per_activity.c.activity_id == ra.c.activity_id)
        .group_by(ra.c.day, ra.c.node_id, ra.c.kind, ra.c.month)
    )


DAILY_COLUMNS = ("day", "node_id", "kind", "month", "activities_held", "activities_cancelled") + COUNTER_COLUMNS


def _closure_rows() -> list[dict]:
    return [{"node_id": node_id, "ancestor_id": int(part)}
            for node_id, path in db.session.execute(select(UnionNode.id, UnionNode.path))
            for part in path.strip("/").split("/") if part]


def _reach_select() -> Select:
    """The reach rows recounted from the registrations (one grouped query over the closure)."""
    ra, closure = ReportActivity.__table__, ReportNodeAncestor.__table__
    own = closure.c.ancestor_id == ra.c.node_id
    place = Registration.state.in_(PLACE_STATES)
    came = Registration.state == S.ATTENDED
    attended = func.sum(case((came, 1), else_=0))
    own_places = func.sum(case((and_(own, place), 1), else_=0))
    own_attended = func.sum(case((and_(own, came), 1), else_=0))
    nef = func.max(case((User.occupation.in_(NEF_VALUES), 1), else_=0))
    # Every row has a place (the WHERE below), so what report_reach_span counts of it is known here.
    counted = (ReachMeasure.PLACES.bit + case((attended > 0, ReachMeasure.ATTENDED.bit), else_=0)
               + case((own_places > 0, ReachMeasure.OWN_PLACES.bit), else_=0)
               + case((own_attended > 0, ReachMeasure.OWN_ATTENDED.bit), else_=0) + nef * COUNTED_NEF)
    return (select(closure.c.ancestor_id, Registration.user_id, ra.c.day, ra.c.kind,
                   func.count(Registration.id).label("places"), attended.label("attended"),
                   own_places.label("own_places"), own_attended.label("own_attended"), nef.label("nef"),
                   counted.label("counted"))
            .select_from(Registration)
            .join(ra, ra.c.activity_id == Registration.activity_id)
            .join(closure, closure.c.node_id == ra.c.node_id)
            .join(User, User.id == Registration.user_id)
            .where(place)
            .group_by(closure.c.ancestor_id, Registration.user_id, ra.c.day, ra.c.kind))


@contextmanager
def _big_sqlite_cache(kib: int = 256 * 1024):
    """SQLite sorts the rebuild's millions of rows much faster with a larger page cache (for this
    connection, during the rebuild only)."""
    if _is_postgresql():
        yield
        return
    previous = db.session.execute(text("PRAGMA cache_size")).scalar()
    db.session.execute(text(f"PRAGMA cache_size = -{int(kib)}"))
    try:
        yield
    finally:
        db.session.execute(text(f"PRAGMA cache_size = {int(previous)}"))


def rebuild() -> dict[str, int]:
    """Recompute every summary table from the activities and registrations, in one transaction.

    Returns the number of rows per table.  Safe to run at any time, but sign-ups that gain or lose
    a place wait for it (SQLite: the write lock; PostgreSQL: the rows it deletes): about two minutes
    at a million registrations, so run it when the unions are quiet.
    """
    from ..core.db import write_transaction

    with write_transaction(), _big_sqlite_cache():
        if _is_postgresql():
            db.session.execute(select(func.pg_advisory_xact_lock(SETTLE_LOCK)))  # no settle_reach meanwhile
        for model in (ReportReachSpan, ReportReach, ReportDaily, ReportActivity, ReportNodeAncestor):
            db.session.execute(delete(model))
        closure = _closure_rows()
        for start in range(0, len(closure), 5000):
            db.session.execute(ReportNodeAncestor.__table__.insert(), closure[start:start + 5000])
        keys = _activity_keys()
        for start in range(0, len(keys), 5000):
            db.session.execute(ReportActivity.__table__.insert(), keys[start:start + 5000])
        db.session.execute(ReportDaily.__table__.insert().from_select(list(DAILY_COLUMNS), _daily_select()))
        db.session.execute(ReportReach.__table__.insert().from_select(
            REACH_KEY + list(REACH_COUNTERS) + ["nef", "counted"], _reach_select()))
        _rebuild_spans()
        sizes = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                 for model in (ReportNodeAncestor, ReportActivity, ReportDaily, ReportReach, ReportReachSpan)}
    return sizes


def _nonzero(rows: dict[tuple, dict[str, int]]) -> dict[tuple, dict[str, int]]:
    return {key: row for key, row in rows.items() if any(row.values())}


def _daily_row(values) -> tuple[tuple, dict[str, int]]:
    row = dict(zip(DAILY_COLUMNS, values))
    key = (row.pop("day"), row.pop("node_id"), ActivityKind(row.pop("kind")).value)
    row.pop("month")
    return key, {name: int(value or 0) for name, value in row.items()}


def recount() -> dict[str, dict]:
    """What the summary tables must hold, computed from the base tables (for checks and tests).

    The activities' key rows are recomputed in Python; the registrations are grouped against the
    stored key rows, so run it after comparing those (``check`` does).
    """
    keys = {k["activity_id"]: {"node_id": k["node_id"], "day": k["day"], "kind": k["kind"].value,
                               "status": k["status"].value} for k in _activity_keys()}
    daily = dict(_daily_row(values) for values in db.session.execute(_daily_select()))
    reach = {(r.ancestor_id, r.user_id, r.day, ActivityKind(r.kind).value): _reach_counts(r)
             for r in db.session.execute(_reach_select())}
    closure = {(row["node_id"], row["ancestor_id"]) for row in _closure_rows()}
    return {"activity": keys, "daily": _nonzero(daily), "reach": reach, "span": _recount_spans(reach),
            "closure": closure}


def _reach_counts(row) -> dict[str, int]:
    return {name: int(getattr(row, name) or 0) for name in REACH_COUNTERS + ("nef",)}


def snapshot() -> dict[str, dict]:
    """What the summary tables hold now, in the shape of ``recount()`` (zero rows left out)."""
    activity = {r.activity_id: {"node_id": r.node_id, "day": r.day, "kind": ActivityKind(r.kind).value,
                                "status": ActivityStatus(r.status).value}
                for r in db.session.execute(select(ReportActivity.__table__))}
    daily = dict(_daily_row(values) for values in db.session.execute(
        select(*[ReportDaily.__table__.c[name] for name in DAILY_COLUMNS])))
    reach = {(r.node_id, r.user_id, r.day, ActivityKind(r.kind).value): _reach_counts(r)
             for r in db.session.execute(select(ReportReach.__table__).where(
                 (ReportReach.places != 0) | (ReportReach.attended != 0) | (ReportReach.own_places != 0)
                 | (ReportReach.own_attended != 0)))}
    closure = {tuple(row) for row in db.session.execute(
        select(ReportNodeAncestor.node_id, ReportNodeAncestor.ancestor_id))}
    s = ReportReachSpan
    span = {(r.node_id, r.measure, r.kinds, r.grain, r.prev_day, r.day): {"workers": r.workers, "nef": r.nef}
            for r in db.session.execute(select(s.__table__).where((s.workers != 0) | (s.nef != 0)))}
    return {"activity": activity, "daily": _nonzero(daily), "reach": reach, "span": span, "closure": closure}


def check() -> list[str]:
    """Differences between the summary tables and a recount (empty when they agree).

    Settles report_reach_span first (``settle_reach``), so it compares what the dashboard reads."""
    settle_reach()
    have, want = snapshot(), recount()
    # The closure gains a union's rows when the hook first meets it, so it may lack unions without
    # counted places (a missing row that mattered shows up in the reach rows); a wrong row is a problem.
    problems = [f"closure row not in the tree: {row}" for row in sorted(have.pop("closure") - want.pop("closure"))]
    for table in want:
        for key in sorted(set(have[table]) | set(want[table]), key=str):
            if have[table].get(key) != want[table].get(key):
                problems.append(f"{table} {key}: have {have[table].get(key)}, want {want[table].get(key)}")
    return problems


# --------------------------------------------------------------------------- other domains' figures

@dataclass(frozen=True)
class Figure:
    """One number another domain contributes to the dashboard (e.g. contest entries)."""

    key: str
    label: Any  # a lazy string
    value: int | float
    group: Any = ""  # a lazy heading to group figures under


#: ``provider(node_ids, date_from, date_to, kinds) -> list[Figure]``; ``node_ids`` is a SELECT of the
#: union ids in the subtree (use ``Model.node_id.in_(node_ids)``), dates are local days (inclusive),
#: ``kinds`` a list of ActivityKind (empty: all).  Each provider runs a fixed number of queries.
FigureProvider = Callable[[Select, date, date, list], list[Figure]]
_PROVIDERS: dict[str, FigureProvider] = {}


def register_figures(name: str, provider: FigureProvider) -> None:
    """Add (or replace) a domain's figures, e.g. ``register_figures("contests", contest_figures)``."""
    _PROVIDERS[name] = provider


def extra_figures(node_ids: Select, date_from: date, date_to: date, kinds: list | None = None) -> list[Figure]:
    """Figures from every registered provider; a provider that fails is logged and left out."""
    figures: list[Figure] = []
    for name, provider in sorted(_PROVIDERS.items()):
        try:
            figures.extend(provider(node_ids, date_from, date_to, list(kinds or [])))
        except Exception:  # noqa: BLE001 - one domain's bug must not take the officers' dashboard down
            log.exception("report figures from %s failed", name)
            db.session.rollback()
    return figures
