"""What the organiser pages list and count: the activities in scope (paginated), the unions one may
organise for, and per-activity registration counts."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from ...accounts.models import Role, User
from ...core.permissions import in_scope_clause
from ...core.timeutil import now
from ...extensions import db
from ...registrations.models import TAKING_PART_STATES, Registration, RegistrationState
from ...unions.models import UnionNode
from ..models import Activity, ActivityKind, ActivityStatus


#: Activities per page on the organiser's list.
MANAGE_PAGE_SIZE = 20


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total


def nodes_in_scope(user: User) -> list[UnionNode]:
    """The unions whose activities ``user`` may organise, in tree order."""
    return list(db.session.scalars(
        select(UnionNode).where(in_scope_clause(user, Role.ORGANISER, UnionNode.id)).order_by(UnionNode.path)
    ))


def confirmed_count(activity_id: int) -> int:
    """Registrations holding a place (confirmed or attended)."""
    return db.session.scalar(select(func.count(Registration.id)).where(
        Registration.activity_id == activity_id, Registration.holds_place)) or 0


def taking_part_count(activity_id: int) -> int:
    return db.session.scalar(select(func.count(Registration.id)).where(
        Registration.activity_id == activity_id, Registration.state.in_(TAKING_PART_STATES))) or 0


def registration_counts(activity_id: int) -> dict[RegistrationState, int]:
    """How many registrations are in each state (states with none are left out)."""
    rows = db.session.execute(
        select(Registration.state, func.count(Registration.id))
        .where(Registration.activity_id == activity_id).group_by(Registration.state)
    ).all()
    return {RegistrationState(state): count for state, count in rows}


def slot_booking_counts(activity_id: int) -> dict[int, int]:
    """Per slot id: how many people taking part booked it."""
    rows = db.session.execute(
        select(Registration.slot_id, func.count(Registration.id))
        .where(Registration.activity_id == activity_id, Registration.slot_id.is_not(None),
               Registration.state.in_(TAKING_PART_STATES))
        .group_by(Registration.slot_id)
    ).all()
    return {slot_id: count for slot_id, count in rows}


def answered_question_ids(activity_id: int) -> set[int]:
    """Ids of the activity's questions that someone has answered (answers are keyed by str(question id))."""
    answered: set[int] = set()
    for answers in db.session.scalars(select(Registration.answers).where(Registration.activity_id == activity_id)):
        if isinstance(answers, dict):
            for key, value in answers.items():
                if value not in (None, "", [], {}) and str(key).isdigit():
                    answered.add(int(key))
    return answered


def managed_activities(user: User, *, status: ActivityStatus | None = None, kind: ActivityKind | None = None,
                       node: UnionNode | None = None, page: int = 1,
                       per_page: int = MANAGE_PAGE_SIZE) -> Page:
    """Activities of the unions in ``user``'s organiser scope: coming ones soonest first, then past ones."""
    stmt = select(Activity).where(in_scope_clause(user, Role.ORGANISER, Activity.node_id))
    if status is not None:
        stmt = stmt.where(Activity.status == status)
    if kind is not None:
        stmt = stmt.where(Activity.kind == kind)
    if node is not None:
        stmt = stmt.where(Activity.node_id.in_(node.subtree_ids_select()))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    past = case((Activity.ends_at < now(), 1), else_=0)
    stmt = stmt.order_by(past, case((Activity.ends_at >= now(), Activity.starts_at)), Activity.starts_at.desc(),
                         Activity.id.desc())
    page = min(max(page, 1), 10_000)  # a huge page number would overflow the OFFSET
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items=items, total=total, page=page, per_page=per_page)
