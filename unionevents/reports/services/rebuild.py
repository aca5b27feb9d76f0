"""Rebuilding the summary tables from scratch, and proving them right (``flask reports rebuild`` /
``check``): ``rebuild`` recomputes every table in one transaction, ``recount`` computes what they
must hold from the base tables, ``snapshot`` what they hold, ``check`` the differences."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import (Date, Select, and_, case, cast, delete, func, literal, literal_column, select, text,
                        union_all)

from ...accounts.models import User
from ...activities.models import Activity, ActivityKind, ActivityStatus
from ...core.timeutil import now
from ...extensions import db
from ...registrations.models import PLACE_STATES, Registration, RegistrationState as S
from ...unions.models import UnionNode
from .. import rules
from ..models import (ALL_KINDS, COUNTED_NEF, KIND_BITS, KIND_CODES, ReachMeasure, ReportActivity, ReportDaily,
                      ReportNodeAncestor, ReportReach, ReportReachSpan, SpanGrain)
from .counters import COUNTER_COLUMNS, NEF_VALUES, REACH_COUNTERS, REACH_KEY, _is_postgresql, local_day, month_of
from .settle import SETTLE_LOCK, SPAN_KEY, mark_settled, settle_reach


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
    from ...core.db import write_transaction

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
        mark_settled(now())
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

