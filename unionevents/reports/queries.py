"""Read-only figures for the officer reports, all aggregated in SQL over the summary tables.

Every function runs a fixed number of statements whatever the data size (a test counts them):
the dashboard reads ``report_daily`` (additive counters, joined to the union tree by the materialized
path and grouped by the child of the chosen node the rows belong to) and ``report_reach_span`` (exact
unique counts: a few rows per union whatever the number of workers; for a choice of two to four kinds
the MONTH rows of their set, with the range's ragged days read from ``report_reach``).
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Integer, and_, bindparam, case, func, literal, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from ..accounts.models import Occupation, User
from ..activities.models import Activity, ActivityKind, ActivityStatus, Question, QuestionKind, TimeSlot
from ..core.db import MAX_ID
from ..core.timeutil import now, utc_to_local
from ..extensions import db
from ..registrations.models import Registration, RegistrationState as S
from ..unions.models import UnionNode
from . import rules
from .models import (COUNTED_NEF, KIND_SET, ReachMeasure, ReportActivity, ReportDaily, ReportReach, ReportReachSpan,
                     SpanGrain, kinds_code)
from .services import Figure, extra_figures, settle_reach

#: How many activities the "top activities" list shows.
TOP_ACTIVITIES = 10
#: The longest range a report covers (a typing mistake in a year should not scan decades).
MAX_RANGE_DAYS = 366 * 5


def today() -> date:
    return utc_to_local(now()).date()


def quarter_of(day: date) -> tuple[date, date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = date(day.year + (first_month + 3 > 12), (first_month + 2) % 12 + 1, 1) - timedelta(days=1)
    return start, end


@dataclass
class ReportFilter:
    node: UnionNode
    date_from: date
    date_to: date
    kinds: list[ActivityKind] = field(default_factory=list)


# --------------------------------------------------------------------------- tree helpers

def _child_path(node: UnionNode):
    """SQL: the path of the child of ``node`` a descendant's path lies under (``node``'s own path
    for the node itself) — '/1/5/12/' under '/1/' gives '/1/5/'."""
    plen = len(node.path)
    rest = func.substr(UnionNode.path, plen + 1)
    slash = func.strpos(rest, "/") if db.session.get_bind().dialect.name == "postgresql" else func.instr(rest, "/")
    return func.substr(UnionNode.path, 1, plen + slash)


def _subtree_map(node: UnionNode):
    """Subquery (node_id, child_path) for every union in ``node``'s subtree."""
    return (select(UnionNode.id.label("node_id"), _child_path(node).label("child_path"))
            .where(UnionNode.path.startswith(node.path, autoescape=True)).subquery("subtree"))


def subtree_ids(node: UnionNode):
    return select(UnionNode.id).where(UnionNode.path.startswith(node.path, autoescape=True))


def children_of(node: UnionNode) -> list[UnionNode]:
    return list(db.session.scalars(select(UnionNode).where(UnionNode.parent_id == node.id)
                                   .order_by(UnionNode.name)))


# --------------------------------------------------------------------------- figures

#: Additive figures summed from report_daily.
PLACE_COLUMNS = ("confirmed", "attended")
STATE_NAMES = tuple(state.value for state in S)


@dataclass
class Figures:
    """The additive figures of one group (a kind, a child union, a month, or the whole report)."""

    activities_held: int = 0
    activities_cancelled: int = 0
    registrations: int = 0
    places: int = 0  # registrations holding a place now (confirmed or attended)
    attended: int = 0
    no_show: int = 0
    cancelled: int = 0
    waitlisted: int = 0
    pending: int = 0
    nef_registrations: int = 0
    # for the rates: activities that have already started (day <= today)
    held_places: int = 0  # confirmed + attended + no-show there
    held_attended: int = 0
    held_no_show: int = 0
    unique_participants: int | None = None
    unique_attendees: int | None = None
    unique_nef: int | None = None

    @property
    def attendance_rate(self) -> float | None:
        return self.held_attended / self.held_places if self.held_places else None

    @property
    def no_show_rate(self) -> float | None:
        return self.held_no_show / self.held_places if self.held_places else None

    def add(self, other: "Figures") -> None:
        for name in ("activities_held", "activities_cancelled", "registrations", "places", "attended", "no_show",
                     "cancelled", "waitlisted", "pending", "nef_registrations", "held_places", "held_attended",
                     "held_no_show"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _daily_columns(until: date) -> list:
    d = ReportDaily
    past = d.day <= until

    def past_sum(expr):
        return func.sum(case((past, expr), else_=0))

    return [
        func.sum(d.activities_held).label("activities_held"),
        func.sum(d.activities_cancelled).label("activities_cancelled"),
        func.sum(sum((getattr(d, name) for name in STATE_NAMES[1:]), getattr(d, STATE_NAMES[0])))
        .label("registrations"),
        func.sum(d.confirmed + d.attended).label("places"),
        func.sum(d.attended).label("attended"),
        func.sum(d.no_show).label("no_show"),
        func.sum(d.cancelled).label("cancelled"),
        func.sum(d.waitlisted).label("waitlisted"),
        func.sum(d.pending).label("pending"),
        func.sum(d.nef_registrations).label("nef_registrations"),
        past_sum(d.confirmed + d.attended + d.no_show).label("held_places"),
        past_sum(d.attended).label("held_attended"),
        past_sum(d.no_show).label("held_no_show"),
    ]


def _figures(row) -> Figures:
    return Figures(**{name: int(getattr(row, name) or 0) for name in (
        "activities_held", "activities_cancelled", "registrations", "places", "attended", "no_show", "cancelled",
        "waitlisted", "pending", "nef_registrations", "held_places", "held_attended", "held_no_show")})


def _daily_where(f: ReportFilter) -> list:
    where = [ReportDaily.day >= f.date_from, ReportDaily.day <= f.date_to]
    if f.kinds:
        where.append(ReportDaily.kind.in_(f.kinds))
    return where


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
    settle_reach()
    if kinds >= KIND_SET:
        return _unique_from_kind_set(f, child_ids, kinds)
    return _unique_from_spans(f, child_ids, kinds)


def _set_unique(figures: "Figures", unique: Unique | None) -> None:
    unique = unique or Unique()
    figures.unique_participants = unique.participants
    figures.unique_attendees = unique.attendees
    figures.unique_nef = unique.nef


@dataclass
class ChildRow:
    node: UnionNode
    own: bool  # the chosen node's own activities (not a child's)
    figures: Figures


@dataclass
class MonthRow:
    month: int  # yyyymm
    figures: Figures

    @property
    def label(self) -> str:
        return f"{self.month // 100}-{self.month % 100:02d}"


@dataclass
class TopActivity:
    id: int
    title: str
    node_name: str
    kind: ActivityKind
    day: date
    capacity: int
    places: int
    attended: int = 0
    registrations: int = 0


@dataclass
class Dashboard:
    filter: ReportFilter
    totals: Figures
    by_kind: list[tuple[ActivityKind, Figures]]
    by_child: list[ChildRow]
    by_month: list[MonthRow]
    top: list[TopActivity]
    extras: list[Figure]
    children: list[UnionNode]


def _months(date_from: date, date_to: date) -> list[int]:
    months, year, month = [], date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        months.append(year * 100 + month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def dashboard(f: ReportFilter) -> Dashboard:
    """Everything on the officer dashboard for one node, range and kinds: 6 statements + providers,
    +1 to look for report_reach rows to settle (+4 when there are, +5 on PostgreSQL); a choice of
    two to four kinds reads the ragged days of the range from report_reach (one more statement)."""
    node, until = f.node, today()
    children = children_of(node)                                                   # 1
    tree = _subtree_map(node)
    d = ReportDaily

    # One grouping by (kind, child, month) — at most kinds × (children + 1) × months rows — added up
    # here three ways.
    by_kind: dict[ActivityKind, Figures] = {}
    child_figures: dict[str, Figures] = {}
    month_figures: dict[int, Figures] = {}
    for row in db.session.execute(                                                 # 2
            select(d.kind, tree.c.child_path, d.month, *_daily_columns(until))
            .join(tree, tree.c.node_id == d.node_id).where(*_daily_where(f))
            .group_by(d.kind, tree.c.child_path, d.month)):
        figures = _figures(row)
        by_kind.setdefault(ActivityKind(row.kind), Figures()).add(figures)
        child_figures.setdefault(row.child_path, Figures()).add(figures)
        month_figures.setdefault(row.month, Figures()).add(figures)
    totals = Figures()
    for figures in by_kind.values():
        totals.add(figures)

    months = _months(f.date_from, f.date_to)
    unique, own_unique = unique_workers(f, [child.id for child in children])      # 3 (+1 to settle), 4
    _set_unique(totals, unique.get(node.id))
    own = child_figures.setdefault(node.path, Figures())
    _set_unique(own, own_unique)
    by_child = [ChildRow(node, True, own)]
    for child in children:
        figures = child_figures.get(child.path, Figures())
        _set_unique(figures, unique.get(child.id))
        by_child.append(ChildRow(child, False, figures))
    by_month = []
    for month in months:
        figures = month_figures.get(month, Figures())  # unique counts do not add up over months: none here
        by_month.append(MonthRow(month, figures))
    kinds = f.kinds or list(ActivityKind)
    return Dashboard(
        filter=f, totals=totals, by_kind=[(kind, by_kind.get(kind, Figures())) for kind in kinds],
        by_child=by_child, by_month=by_month, top=top_activities(f),                # 5, 6
        extras=extra_figures(subtree_ids(node), f.date_from, f.date_to, f.kinds), children=children)


def top_activities(f: ReportFilter, limit: int = TOP_ACTIVITIES) -> list[TopActivity]:
    """The activities with the most places taken in the subtree and range (two statements)."""
    ra = ReportActivity
    where = [ra.day >= f.date_from, ra.day <= f.date_to, ra.status == ActivityStatus.PUBLISHED,
             ra.node_id.in_(subtree_ids(f.node))]
    if f.kinds:
        where.append(ra.kind.in_(f.kinds))
    rows = db.session.execute(
        select(Activity.id, Activity.title, UnionNode.name, ra.kind, ra.day, Activity.capacity, Activity.taken)
        .select_from(ra).join(Activity, Activity.id == ra.activity_id).join(UnionNode, UnionNode.id == ra.node_id)
        .where(*where).order_by(Activity.taken.desc(), ra.day.desc(), Activity.id).limit(limit)).all()
    top = [TopActivity(id=r.id, title=r.title, node_name=r.name, kind=ActivityKind(r.kind), day=r.day,
                       capacity=r.capacity, places=r.taken) for r in rows]
    if top:
        by_id = {t.id: t for t in top}
        for activity_id, attended, total in db.session.execute(
                select(Registration.activity_id, func.sum(case((Registration.state == S.ATTENDED, 1), else_=0)),
                       func.count(Registration.id))
                .where(Registration.activity_id.in_(list(by_id))).group_by(Registration.activity_id)):
            by_id[activity_id].attended = int(attended or 0)
            by_id[activity_id].registrations = int(total)
    return top


# --------------------------------------------------------------------------- one activity

@dataclass
class QuestionSummary:
    question: Question
    answered: int
    counts: list[tuple[str, int]] = field(default_factory=list)  # choice (or yes/no) → answers
    mean: float | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class ActivityStats:
    activity: Activity
    by_state: list[tuple[S, int]]
    by_slot: list[dict[str, Any]]
    by_union: list[dict[str, Any]]
    by_occupation: list[dict[str, Any]]
    questions: list[QuestionSummary]
    total: int


#: Answers are summarised over the registrations that are (or were) taking part.
ANSWER_STATES = (S.PENDING, S.CONFIRMED, S.WAITLISTED, S.ATTENDED, S.NO_SHOW)


def _state_sums(state_column) -> list:
    return [func.count(Registration.id).label("registrations"),
            func.sum(case((state_column.in_((S.CONFIRMED, S.ATTENDED)), 1), else_=0)).label("places"),
            func.sum(case((state_column == S.ATTENDED, 1), else_=0)).label("attended"),
            func.sum(case((state_column == S.NO_SHOW, 1), else_=0)).label("no_show"),
            func.sum(case((state_column == S.WAITLISTED, 1), else_=0)).label("waitlisted"),
            func.sum(case((state_column == S.CANCELLED, 1), else_=0)).label("cancelled")]


def _counts(row) -> dict[str, int]:
    return {name: int(getattr(row, name) or 0)
            for name in ("registrations", "places", "attended", "no_show", "waitlisted", "cancelled")}


def activity_stats(activity: Activity) -> ActivityStats:
    """Statistics of one activity (six statements; the answers of one activity's registrations are
    summarised in Python because their JSON layout differs per question kind)."""
    r = Registration
    by_state = dict(db.session.execute(select(r.state, func.count(r.id)).where(r.activity_id == activity.id)
                                       .group_by(r.state)).all())
    states = [(state, int(by_state.get(state, 0))) for state in S]
    by_slot = [{"slot": slot, **_counts(row)} for row in db.session.execute(
        select(TimeSlot.id, *_state_sums(r.state)).join(r, and_(r.slot_id == TimeSlot.id), isouter=True)
        .where(TimeSlot.activity_id == activity.id).group_by(TimeSlot.id))
        for slot in [next((s for s in activity.slots if s.id == row.id), None)] if slot is not None]
    by_slot.sort(key=lambda item: item["slot"].starts_at)
    by_union = [{"name": row.name, **_counts(row)} for row in db.session.execute(
        select(func.coalesce(UnionNode.name, literal("")).label("name"), *_state_sums(r.state))
        .select_from(r).outerjoin(UnionNode, UnionNode.id == r.unit_node_id)
        .where(r.activity_id == activity.id).group_by(UnionNode.name).order_by(func.count(r.id).desc()))]
    by_occupation = [{"occupation": Occupation(row.occupation), **_counts(row)} for row in db.session.execute(
        select(User.occupation, *_state_sums(r.state)).join(User, User.id == r.user_id)
        .where(r.activity_id == activity.id).group_by(User.occupation).order_by(func.count(r.id).desc()))]
    questions = list(activity.questions)
    summaries = []
    if questions:
        answers = [a for a in db.session.scalars(select(r.answers).where(
            r.activity_id == activity.id, r.state.in_(ANSWER_STATES))) if a]
        summaries = [summarise_answers(q, answers) for q in questions]
    return ActivityStats(activity=activity, by_state=states, by_slot=by_slot, by_union=by_union,
                         by_occupation=by_occupation, questions=summaries, total=sum(by_state.values()))


YES = _l("Yes")
NO = _l("No")


def summarise_answers(question: Question, answers: list[dict]) -> QuestionSummary:
    """Counts per choice (or yes/no), mean/min/max of numbers, the number answered for text."""
    key = str(question.id)
    values = [a[key] for a in answers if key in a and a[key] not in (None, "", [])]
    summary = QuestionSummary(question=question, answered=len(values))
    if question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        counter: Counter = Counter()
        for value in values:
            counter.update(value if isinstance(value, list) else [value])
        choices = question.choice_list()
        summary.counts = [(choice, counter.get(choice, 0)) for choice in choices]
        summary.counts += [(str(other), n) for other, n in sorted(counter.items(), key=str)
                           if other not in choices]  # answers to a choice since removed
    elif question.kind == QuestionKind.YES_NO:
        summary.counts = [(str(YES), sum(1 for v in values if v is True)),
                          (str(NO), sum(1 for v in values if v is False))]
    elif question.kind == QuestionKind.NUMBER:
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers:
            summary.mean = sum(numbers) / len(numbers)
            summary.minimum, summary.maximum = min(numbers), max(numbers)
    return summary


# --------------------------------------------------------------------------- input and scope

def scope_tops(user) -> list[UnionNode]:
    from ..accounts.models import Role
    from ..core.permissions import scope_nodes

    return sorted(scope_nodes(user, Role.OFFICER), key=lambda n: n.path)


def parse_filter(args, user) -> tuple[ReportFilter, dict[str, list[str]]]:
    """The report filter from query arguments (``node``, ``from``, ``to``, ``kind`` repeated).

    Bad values give a message per field and fall back to the default (top of scope, this
    quarter, all kinds).  Raises NotFound for an unknown union and NotAllowed for one outside
    the user's officer scope.
    """
    from ..access import holds
    from ..accounts.models import Role
    from ..core.errors import NotAllowed, NotFound

    errors: dict[str, list[str]] = {}
    tops = scope_tops(user)
    if not tops:
        raise NotAllowed()
    node = tops[0]
    raw_node = (args.get("node") or "").strip()
    if raw_node:
        if not (raw_node.isascii() and raw_node.isdigit()) or int(raw_node) > MAX_ID:
            raise NotFound(_l("This union does not exist."))
        found = db.session.get(UnionNode, int(raw_node))
        if found is None:
            raise NotFound(_l("This union does not exist."))
        if not holds(user, [Role.OFFICER], node=found):
            raise NotAllowed(_l("This union is outside the unions you report on."))
        node = found
    default_from, default_to = quarter_of(today())
    dates = {}
    for name, default in (("from", default_from), ("to", default_to)):
        raw = (args.get(name) or "").strip()
        dates[name] = default
        if raw:
            try:
                dates[name] = date.fromisoformat(raw)
            except ValueError:
                errors[name] = [str(_l("Please enter a date like 2025-03-31."))]
    if dates["from"] > dates["to"]:
        errors["to"] = [str(_l("The end date must not be before the start date."))]
        dates["from"], dates["to"] = default_from, default_to
    elif (dates["to"] - dates["from"]).days > MAX_RANGE_DAYS:
        errors["to"] = [str(_l("A report can cover at most five years."))]
        dates["to"] = dates["from"] + timedelta(days=MAX_RANGE_DAYS)
    kinds = []
    raw_kinds = args.getlist("kind") if hasattr(args, "getlist") else args.get("kind") or []
    if isinstance(raw_kinds, str):
        raw_kinds = [raw_kinds]
    for raw in raw_kinds:
        for value in str(raw).split(","):
            value = value.strip()
            if not value:
                continue
            try:
                kind = ActivityKind(value)
            except ValueError:
                errors["kind"] = [str(_l("Please choose kinds of activity from the list."))]
                continue
            if kind not in kinds:
                kinds.append(kind)
    return ReportFilter(node=node, date_from=dates["from"], date_to=dates["to"], kinds=kinds), errors


def breadcrumbs(node: UnionNode, tops: list[UnionNode]) -> list[UnionNode]:
    """The node's ancestors the user may report on, top first, ending with the node (one query)."""
    ids = node.ancestor_ids()
    rows = {n.id: n for n in db.session.scalars(select(UnionNode).where(UnionNode.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows and any(rows[i].path.startswith(t.path) for t in tops)]
