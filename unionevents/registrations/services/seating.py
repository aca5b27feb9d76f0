"""Delegation seating for meetings: the hall's layout, seats by unit from the unit quotas, and reads
for the chart, the tickets, the roster and the badges.  The placement itself is ``seating_rules``."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select

from ...accounts.models import Role, User
from ...activities.models import Activity, ActivityKind, UnitQuota
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from ...core.permissions import has_role
from ...core.timeutil import now
from ...extensions import db
from ...unions.models import UnionNode
from .. import seating_rules as rules
from ..models import PLACE_STATES, Registration, SeatAssignment, SeatingPlan
from .state import _lock_activity_row

__all__ = ["SeatingChart", "assign_seats", "badge_rows", "save_layout", "seat_labels", "seat_of",
           "seating_chart", "seating_plan"]


def _meeting_for_change(actor: User, activity_id: int) -> Activity:
    _lock_activity_row(activity_id=activity_id)
    activity = db.session.get(Activity, activity_id, populate_existing=True)
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    if not has_role(actor, Role.ORGANISER, node=activity.node):
        raise NotAllowed(_l("You can only organise activities for unions in your scope."))
    if activity.kind != ActivityKind.MEETING:
        raise Conflict(_l("Seating by delegation is for meetings only."))
    return activity


def _quotas(activity_id: int) -> list[UnitQuota]:
    return list(db.session.scalars(select(UnitQuota).where(UnitQuota.activity_id == activity_id)
                                   .order_by(UnitQuota.id)))


def seating_plan(activity_id: int) -> SeatingPlan | None:
    return db.session.get(SeatingPlan, activity_id)


def save_layout(actor: User, activity_id: int, rows: int, seats_per_row: int) -> SeatingPlan:
    """Set the hall's rows × seats.  Refused when the hall cannot hold every unit's quota.  Seats
    already given that no longer exist are dropped (the next ``assign_seats`` gives new ones)."""
    with write_transaction():
        activity = _meeting_for_change(actor, activity_id)
        total = sum(q.quota for q in _quotas(activity.id))
        refusal = rules.layout_refusal(rows, seats_per_row, total)
        if refusal == "layout_out_of_range":
            raise ValidationFailed({"rows": [str(_l(
                "Rows and seats per row must each be between 1 and %(n)d.", n=rules.MAX_ROWS))]})
        if refusal == "layout_too_small":
            raise ValidationFailed({"rows": [str(_l(
                "%(rows)d × %(seats)d seats cannot hold the units' quotas (%(total)d delegates).",
                rows=rows, seats=seats_per_row, total=total))]})
        plan = db.session.get(SeatingPlan, activity.id)
        if plan is None:
            plan = SeatingPlan(activity_id=activity.id, rows=rows, seats_per_row=seats_per_row)
            db.session.add(plan)
        else:
            plan.rows, plan.seats_per_row = rows, seats_per_row
        db.session.flush()
        log_action(actor.id, "seating.layout", activity, rows=rows, seats_per_row=seats_per_row)
    return plan


@dataclass
class AssignResult:
    seated: int
    moved: int
    unseated: int


def assign_seats(actor: User, activity_id: int) -> AssignResult:
    """Give every delegate holding a place a seat in their unit's block (``seating_rules.assign``).
    Those who have a seat in their block keep it; seats of people who no longer hold a place are freed."""
    with write_transaction():
        activity = _meeting_for_change(actor, activity_id)
        plan = db.session.get(SeatingPlan, activity.id)
        if plan is None:
            raise Conflict(_l("Set the hall's rows and seats first."))
        quotas = [(q.node_id, q.quota) for q in _quotas(activity.id)]
        if rules.layout_refusal(plan.rows, plan.seats_per_row, sum(q for _n, q in quotas)):
            raise Conflict(_l("The quotas have grown beyond the hall: add rows or seats first."))
        blocks = rules.seat_blocks(quotas, plan.rows, plan.seats_per_row)
        units = {node_id for node_id, _q in quotas}
        people = [(reg_id, unit if unit in units else rules.OTHERS) for reg_id, unit in db.session.execute(
            select(Registration.id, Registration.unit_node_id)
            .where(Registration.activity_id == activity.id, Registration.state.in_(PLACE_STATES))
            .order_by(Registration.created_at, Registration.id))]
        existing = {reg_id: rules.Seat(row, seat) for reg_id, row, seat in db.session.execute(
            select(SeatAssignment.registration_id, SeatAssignment.row, SeatAssignment.seat)
            .where(SeatAssignment.activity_id == activity.id))}
        seats, unseated = rules.assign(blocks, people, existing)
        changed = [reg_id for reg_id in existing if seats.get(reg_id) != existing[reg_id]]
        if changed:
            db.session.execute(delete(SeatAssignment).where(SeatAssignment.registration_id.in_(changed)))
        new = [{"activity_id": activity.id, "registration_id": reg_id, "row": seat.row, "seat": seat.seat}
               for reg_id, seat in seats.items() if existing.get(reg_id) != seat]
        if new:
            db.session.execute(insert(SeatAssignment), new)
        plan.assigned_at = now()
        moved = sum(1 for reg_id in changed if reg_id in seats)
        log_action(actor.id, "seating.assign", activity, seated=len(seats), new=len(new), moved=moved,
                   unseated=len(unseated))
    return AssignResult(seated=len(seats), moved=moved, unseated=len(unseated))


# --------------------------------------------------------------------------- reads

# A seat counts only while its registration holds a place: a delegate who cancelled (or was marked
# a no-show) has no seat on the ticket, the roster, its export, the chart or the API, even before the
# organiser assigns seats again (which deletes the row and may give the seat to someone else).

def seat_of(registration_id: int) -> rules.Seat | None:
    row = db.session.execute(select(SeatAssignment.row, SeatAssignment.seat)
                             .join(Registration, Registration.id == SeatAssignment.registration_id)
                             .where(SeatAssignment.registration_id == registration_id,
                                    Registration.state.in_(PLACE_STATES))).first()
    return rules.Seat(*row) if row else None


def seat_labels(activity_id: int) -> dict[int, rules.Seat]:
    """Seat per registration id holding a place, for the roster and its export (one query)."""
    return {reg_id: rules.Seat(row, seat) for reg_id, row, seat in db.session.execute(
        select(SeatAssignment.registration_id, SeatAssignment.row, SeatAssignment.seat)
        .join(Registration, Registration.id == SeatAssignment.registration_id)
        .where(SeatAssignment.activity_id == activity_id, Registration.state.in_(PLACE_STATES)))}


@dataclass
class ChartSeat:
    seat: int
    unit_index: int | None   # the unit's number in the legend (its colour on screen), None: others
    name: str = ""           # the delegate's name; "" for an empty seat


@dataclass
class LegendEntry:
    index: int | None
    name: str
    quota: int
    seated: int
    first: rules.Seat | None
    last: rules.Seat | None


@dataclass
class SeatingChart:
    rows: int
    seats_per_row: int
    assigned_at: object
    grid: list[list[ChartSeat]] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)
    without_seat: int = 0


def seating_chart(activity_id: int) -> SeatingChart | None:
    """The chart: every row's seats with the unit block they belong to and who sits there (names only)."""
    plan = db.session.get(SeatingPlan, activity_id)
    if plan is None:
        return None
    quotas = _quotas(activity_id)
    blocks = rules.seat_blocks([(q.node_id, q.quota) for q in quotas], plan.rows, plan.seats_per_row) \
        if not rules.layout_refusal(plan.rows, plan.seats_per_row, sum(q.quota for q in quotas)) else {}
    names = {rules.Seat(r, s): (name, unit) for r, s, name, unit in db.session.execute(
        select(SeatAssignment.row, SeatAssignment.seat, User.name, Registration.unit_node_id)
        .join(Registration, Registration.id == SeatAssignment.registration_id)
        .join(User, User.id == Registration.user_id)
        .where(SeatAssignment.activity_id == activity_id,
               # a seat whose holder cancelled is free on the chart before seats are assigned again
               Registration.state.in_(PLACE_STATES)))}
    index_of_seat: dict[rules.Seat, int | None] = {}
    legend = []
    for index, quota in enumerate(quotas, start=1):
        seats = blocks.get(quota.node_id, [])
        for seat in seats:
            index_of_seat[seat] = index
        span = rules.block_span(seats)
        legend.append(LegendEntry(index, quota.node.name, quota.quota, sum(1 for s in seats if s in names),
                                  *(span or (None, None))))
    others = blocks.get(rules.OTHERS, [])
    if others:
        span = rules.block_span(others)
        legend.append(LegendEntry(None, str(_l("Other delegates")), len(others),
                                  sum(1 for s in others if s in names), *span))
    grid = [[ChartSeat(s, index_of_seat.get(rules.Seat(r, s)), names.get(rules.Seat(r, s), ("", None))[0])
             for s in range(1, plan.seats_per_row + 1)] for r in range(1, plan.rows + 1)]
    holding = db.session.scalar(select(db.func.count(Registration.id)).where(
        Registration.activity_id == activity_id, Registration.state.in_(PLACE_STATES))) or 0
    return SeatingChart(plan.rows, plan.seats_per_row, plan.assigned_at, grid, legend,
                        without_seat=max(holding - len(names), 0))


@dataclass(frozen=True)
class BadgeRow:
    name: str
    unit: str
    seat: rules.Seat | None


def badge_rows(activity_id: int) -> list[BadgeRow]:
    """One badge per delegate holding a place, in seat order (unseated last, by name)."""
    rows = db.session.execute(
        select(User.name, UnionNode.name, SeatAssignment.row, SeatAssignment.seat)
        .select_from(Registration)
        .join(User, User.id == Registration.user_id)
        .outerjoin(UnionNode, UnionNode.id == db.func.coalesce(Registration.unit_node_id, User.union_id))
        .outerjoin(SeatAssignment, SeatAssignment.registration_id == Registration.id)
        .where(Registration.activity_id == activity_id, Registration.state.in_(PLACE_STATES)))
    badges = [BadgeRow(name or "", unit or "", rules.Seat(r, s) if r else None) for name, unit, r, s in rows]
    return sorted(badges, key=lambda b: (b.seat is None, b.seat or rules.Seat(0, 0), b.name))
