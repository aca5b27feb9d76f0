"""Exact unique workers reached (participants, attendees, new-employment-form workers) of a union and
its children over a range: sums of ``report_reach_span`` rows, and for a choice of two to four kinds
their set's MONTH rows plus the range's ragged days read from ``report_reach``.  Reads only: the span
rows are as of the last ``services.settle_reach`` (see ``services.settle.freshness``)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Integer, and_, bindparam, case, func, literal, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from ...activities.models import ActivityKind
from ...extensions import db
from .. import rules
from ..models import COUNTED_NEF, KIND_SET, ReachMeasure, ReportReach, ReportReachSpan, SpanGrain, kinds_code
from .filters import ReportFilter


@dataclass
class Unique:
    """Unique workers of one union's subtree: participants, attendees, new-employment-form participants."""

    participants: int = 0
    attendees: int = 0
    nef: int = 0


def span_kinds(kinds: list[ActivityKind]) -> int:
    """The ``report_reach_span.kinds`` that answers a kind filter (``models.kinds_code``)."""
    return kinds_code(kinds)


def _span_parts(f: ReportFilter, node_ids: list[int], measures: list[ReachMeasure], kinds: int) -> list:
    """SELECTs of the signed span rows that sum to the unique counts over the range
    (``rules.split_range``: whole months from MONTH rows, ragged ends from DAY rows)."""
    s = ReportReachSpan
    base = [s.node_id.in_(node_ids), s.measure.in_([m.value for m in measures]), s.kinds == kinds]
    selects = []
    # The primary key (… grain, prev_day, day) reads a "prev_day" part's few days.  With the kind sets'
    # rows in the table, SQLite's statistics make the day index look as good, and reading that (day <=
    # bound: every earlier pair) took the city's twelve months from 2 ms to 28 ms; a unary + keeps
    # SQLite off the day index for that term (PostgreSQL has no unary + for dates, nor the problem).
    day = s.day if db.session.get_bind().dialect.name == "postgresql" else \
        UnaryExpression(s.day, operator=custom_op("+"), type_=Date)
    for part in rules.split_range(f.date_from, f.date_to):
        if part.column == "prev_day":
            where = [s.prev_day.between(part.low, part.high), day <= part.bound]
        else:
            where = [s.day.between(part.low, part.high), s.prev_day >= part.bound]
        selects.append(select(s.node_id, s.measure, (s.workers * part.sign).label("workers"),
                              (s.nef * part.sign).label("nef")).where(*base, s.grain == part.grain, *where))
    return selects


def _unique_from_spans(f: ReportFilter, child_ids: list[int], kinds: int) -> tuple[dict[int, Unique], Unique]:
    """Unique workers of the node and of each child, and of the node's own activities (one statement
    over ``report_reach_span``)."""
    everyone = [ReachMeasure.PLACES, ReachMeasure.ATTENDED]
    own = [ReachMeasure.OWN_PLACES, ReachMeasure.OWN_ATTENDED]
    selects = _span_parts(f, [f.node.id], everyone + own, kinds)
    if child_ids:
        selects += _span_parts(f, child_ids, everyone, kinds)
    rows = union_all(*selects).subquery("spans")
    sums = {(row.node_id, ReachMeasure(row.measure)): (int(row.workers or 0), int(row.nef or 0))
            for row in db.session.execute(
                select(rows.c.node_id, rows.c.measure, func.sum(rows.c.workers).label("workers"),
                       func.sum(rows.c.nef).label("nef")).group_by(rows.c.node_id, rows.c.measure))}
    return _unique_result(f, child_ids, sums)


def _bits_or(column) -> Any:
    """SQL aggregate: the bitwise OR of ``column``'s reach bits over the group."""
    return sum((func.max(column.op("&")(measure.bit)) for measure in list(ReachMeasure)[1:]),
               func.max(column.op("&")(ReachMeasure.PLACES.bit)))


def _reached_bits(node_id, user_id, days: tuple[str, str] | None) -> Any:
    """SQL: the reach bits a worker's rows of the wanted kinds (bound: ``kinds``) at a union count
    on the days between the bound parameters named ``days`` (0: none)."""
    if days is None:
        return literal(0)
    r = aliased(ReportReach)
    low, high = (bindparam(name, type_=Date) for name in days)
    return func.coalesce(select(_bits_or(r.counted)).where(
        r.node_id == node_id, r.user_id == user_id, r.day.between(low, high),
        r.kind.in_(bindparam("kinds", expanding=True))).scalar_subquery(), 0)


EVERYONE = (ReachMeasure.PLACES, ReachMeasure.ATTENDED)
OWN = (ReachMeasure.OWN_PLACES, ReachMeasure.OWN_ATTENDED)


@functools.cache
def _kind_set_months(children: bool):
    """The whole months of a range for a kind set: the set's MONTH span rows summed per union and
    measure.  Bound: ``kinds_code``, ``core_from``, ``core_to``, ``node_id``, ``child_ids``.  Built
    once per shape, like the ragged days' statement below."""
    s = ReportReachSpan
    node_rows = and_(s.node_id == bindparam("node_id", type_=Integer),
                     s.measure.in_([m.value for m in EVERYONE + OWN]))
    child_rows = and_(s.node_id.in_(bindparam("child_ids", expanding=True)),
                      s.measure.in_([m.value for m in EVERYONE]))
    return (select(s.node_id, s.measure, func.sum(s.workers), func.sum(s.nef))
            .where(s.kinds == bindparam("kinds_code", type_=Integer), s.grain == SpanGrain.MONTH.value,
                   s.prev_day >= bindparam("core_from", type_=Date),
                   s.day <= bindparam("core_to", type_=Date),
                   node_rows | child_rows if children else node_rows)
            .group_by(s.node_id, s.measure))


@functools.cache
def _kind_set_ragged(adding: tuple[bool, ...], months: bool):
    """The ragged days' changes for a kind set, per combination of gained and lost measures (see
    ``_unique_from_kind_set``): one SELECT per ragged day range in ``adding`` (True: days added, False:
    days taken away), ``months``: the range has whole months.  Bound: ``node_ids``, ``kinds``,
    ``low{i}``/``high{i}`` (the i-th day range), ``months_from``/``months_to`` (with ``months``),
    ``range_from``/``range_to``.  Built once per shape and bound per call: building it cost several
    times more than running it."""
    r = ReportReach
    candidates = union_all(*[
        select(r.node_id, r.user_id, r.counted.label("counted"), literal(int(added)).label("adding"))
        .where(r.node_id.in_(bindparam("node_ids", expanding=True)), r.kind.in_(bindparam("kinds", expanding=True)),
               r.day.between(bindparam(f"low{i}", type_=Date), bindparam(f"high{i}", type_=Date)),
               r.counted.op("&")(rules.MEASURE_BITS) != 0)
        for i, added in enumerate(adding)]).subquery("ragged")
    c = candidates.c
    # Per worker and union: what the ragged days they were reached on count, and (only when needed)
    # what their rows in the whole months (to add) or in the range (to take away) count.
    per_worker = select(
        c.node_id, c.user_id,
        _bits_or(case((c.adding == 1, c.counted), else_=0)).label("added"),
        _bits_or(case((c.adding == 0, c.counted), else_=0)).label("removed"),
        func.max(c.counted.op("&")(COUNTED_NEF)).label("nef"),
    ).group_by(c.node_id, c.user_id).subquery("per_worker")
    w = per_worker.c
    in_months = _reached_bits(w.node_id, w.user_id, ("months_from", "months_to") if months else None)
    in_range = _reached_bits(w.node_id, w.user_id, ("range_from", "range_to"))
    # The measures a worker adds (reached on an added day, not in the months) and takes away (reached
    # on a day taken away, not in the range), counted per combination: each subquery is written once
    # (PostgreSQL would copy it into every sum below, and the plan's cost would call in its JIT).
    gained = w.added - w.added.op("&")(case((w.added != 0, in_months), else_=0))
    lost = w.removed - w.removed.op("&")(case((w.removed != 0, in_range), else_=0))
    changes = select(w.node_id, gained.label("gained"), lost.label("lost"), w.nef).subquery("changes")
    g = changes.c
    return select(g.node_id, g.gained, g.lost, g.nef, func.count()).group_by(g.node_id, g.gained, g.lost, g.nef)


def _unique_from_kind_set(f: ReportFilter, child_ids: list[int], kinds: int) -> tuple[dict[int, Unique], Unique]:
    """The same for a choice of two to four kinds: their set's MONTH span rows give the whole months
    of the range (one statement), and the worker's ``report_reach`` rows the ragged days
    (``rules.split_months``; one statement over those days' rows, each checked against the worker's
    rows in the months or the range)."""
    split = rules.split_months(f.date_from, f.date_to)
    sums: dict[tuple[int, ReachMeasure], list[int]] = {}
    if split.core is not None:
        core_from, core_to = split.core
        for row in db.session.execute(_kind_set_months(bool(child_ids)), {
                "kinds_code": kinds, "core_from": core_from, "core_to": core_to, "node_id": f.node.id,
                "child_ids": child_ids}):
            sums[(row[0], ReachMeasure(row[1]))] = [int(row[2] or 0), int(row[3] or 0)]
    days = [(day_range, True) for day_range in split.add] + [(day_range, False) for day_range in split.remove]
    if not days:  # whole months: nothing to correct
        return _unique_result(f, child_ids, sums)
    params: dict[str, Any] = {"node_ids": [f.node.id, *child_ids], "kinds": [kind for kind in ActivityKind
                                                                             if kind in f.kinds],
                              "range_from": f.date_from, "range_to": f.date_to}
    for i, ((low, high), _adding) in enumerate(days):
        params[f"low{i}"], params[f"high{i}"] = low, high
    if split.core_days is not None:
        params["months_from"], params["months_to"] = split.core_days
    for node_id, gained_bits, lost_bits, nef, workers in db.session.execute(
            _kind_set_ragged(tuple(adding for _day_range, adding in days), split.core_days is not None), params):
        for measure in ReachMeasure:
            change = workers * (bool(gained_bits & measure.bit) - bool(lost_bits & measure.bit))
            if change:
                have = sums.setdefault((node_id, measure), [0, 0])
                have[0] += change
                have[1] += change * bool(nef)
    return _unique_result(f, child_ids, sums)


def _unique_result(f: ReportFilter, child_ids: list[int], sums: dict) -> tuple[dict[int, Unique], Unique]:
    """The node's and each child's Unique, and the node's own, from (node, measure) → (workers, nef)."""

    def unique(node_id: int, places: ReachMeasure, attended: ReachMeasure) -> Unique:
        workers, nef = sums.get((node_id, places), (0, 0))
        return Unique(workers, sums.get((node_id, attended), (0, 0))[0], nef)

    return ({node_id: unique(node_id, ReachMeasure.PLACES, ReachMeasure.ATTENDED)
             for node_id in [f.node.id, *child_ids]},
            unique(f.node.id, ReachMeasure.OWN_PLACES, ReachMeasure.OWN_ATTENDED))


def unique_workers(f: ReportFilter, child_ids: list[int]) -> tuple[dict[int, Unique], Unique]:
    """Exact unique workers of the node and each child (by union id), and of the node's own activities."""
    kinds = span_kinds(f.kinds)
    if kinds >= KIND_SET:
        return _unique_from_kind_set(f, child_ids, kinds)
    return _unique_from_spans(f, child_ids, kinds)
