"""The officer dashboard: additive figures summed from ``report_daily`` (grouped by kind, child
union and month in one statement), the unique workers (``reach``), the top activities, and other
domains' figures.  A fixed number of statements whatever the data size (a test counts them); no
statement writes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select

from ...activities.models import Activity, ActivityKind, ActivityStatus
from ...extensions import db
from ...registrations.models import Registration, RegistrationState as S
from ...unions.models import UnionNode
from ..models import ReportActivity, ReportDaily
from ..services import Figure, Freshness, extra_figures, freshness
from .filters import TOP_ACTIVITIES, ReportFilter, _subtree_map, children_of, subtree_ids, today
from .reach import Unique, unique_workers

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
    #: how current the unique counts are (``services.settle``): the page says so while changes wait
    freshness: Freshness


def _months(date_from: date, date_to: date) -> list[int]:
    months, year, month = [], date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        months.append(year * 100 + month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def dashboard(f: ReportFilter) -> Dashboard:
    """Everything on the officer dashboard for one node, range and kinds: 6 statements, every figure
    provider's included (a choice of two to four kinds reads the ragged days of the range from
    report_reach: one more), none of which writes.  The unique counts are as of the last settle
    (``freshness``)."""
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
    unique, own_unique = unique_workers(f, [child.id for child in children])      # 3 (+1: kind set)
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
        by_child=by_child, by_month=by_month, top=top_activities(f),                # 4
        extras=extra_figures(subtree_ids(node), f.date_from, f.date_to, f.kinds),   # 5
        children=children, freshness=freshness())                                 # 6


def top_activities(f: ReportFilter, limit: int = TOP_ACTIVITIES) -> list[TopActivity]:
    """The activities with the most places taken in the subtree and range, with their registrations
    counted (one statement: the top ``limit`` first, then a GROUP BY over their registrations)."""
    ra = ReportActivity
    where = [ra.day >= f.date_from, ra.day <= f.date_to, ra.status == ActivityStatus.PUBLISHED,
             ra.node_id.in_(subtree_ids(f.node))]
    if f.kinds:
        where.append(ra.kind.in_(f.kinds))
    top = (select(Activity.id, Activity.title, UnionNode.name.label("node_name"), ra.kind, ra.day,
                  Activity.capacity, Activity.taken)
           .select_from(ra).join(Activity, Activity.id == ra.activity_id).join(UnionNode, UnionNode.id == ra.node_id)
           .where(*where).order_by(Activity.taken.desc(), ra.day.desc(), Activity.id).limit(limit)
           .subquery("top"))
    rows = db.session.execute(
        select(top, func.sum(case((Registration.state == S.ATTENDED, 1), else_=0)).label("attended"),
               func.count(Registration.id).label("registrations"))
        .select_from(top).outerjoin(Registration, Registration.activity_id == top.c.id)
        .group_by(*top.c).order_by(top.c.taken.desc(), top.c.day.desc(), top.c.id)).all()
    return [TopActivity(id=r.id, title=r.title, node_name=r.node_name, kind=ActivityKind(r.kind), day=r.day,
                        capacity=r.capacity, places=r.taken, attended=int(r.attended or 0),
                        registrations=int(r.registrations)) for r in rows]
