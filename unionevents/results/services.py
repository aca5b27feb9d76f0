"""Class feedback and attendance by unit: the only code that writes feedback.

Decisions: feedback is for classes (``rules.FEEDBACK_KINDS``), once per registration (a UNIQUE
constraint backs it), only after the worker attended, and cannot be edited.  Organisers see the
ratings and comments without names (people write more honestly, and it is all they need).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..accounts.models import User
from ..activities.models import Activity, UnitQuota
from ..core.audit import log_action
from ..core.db import write_transaction
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..registrations.models import PLACE_STATES, Registration, RegistrationState as S
from ..unions.models import UnionNode
from . import rules
from .models import Feedback


class FeedbackNotOpen(Conflict):
    code = "feedback_not_open"
    default_message = _l("You can leave feedback once you have attended the class.")


class FeedbackNotAsked(Conflict):
    code = "feedback_not_asked"
    default_message = _l("Feedback is only collected for classes.")


class FeedbackAlreadyGiven(Conflict):
    code = "feedback_given"
    default_message = _l("You have already left feedback for this class. Thank you!")


def _own_registration(user: User, registration_id: int) -> Registration:
    registration = None
    if isinstance(registration_id, int) and not isinstance(registration_id, bool):
        registration = db.session.get(Registration, registration_id,
                                      options=[joinedload(Registration.activity)])
    if registration is None or user is None or registration.user_id != getattr(user, "id", None):
        raise NotFound(_l("This registration does not exist."))
    return registration


def feedback_of(registration_id: int) -> Feedback | None:
    return db.session.scalar(select(Feedback).where(Feedback.registration_id == registration_id))


def feedback_refusal(registration: Registration) -> Conflict | None:
    """Why this registration cannot (yet) be given feedback, or None."""
    if registration.activity.kind not in rules.FEEDBACK_KINDS:
        return FeedbackNotAsked()
    if registration.state != S.ATTENDED:
        return FeedbackNotOpen()
    if feedback_of(registration.id) is not None:
        return FeedbackAlreadyGiven()
    return None


def registration_for_feedback(user: User, registration_id: int) -> tuple[Registration, Feedback | None]:
    registration = _own_registration(user, registration_id)
    return registration, feedback_of(registration.id)


def leave_feedback(user: User, registration_id: int, rating, comment) -> Feedback:
    """The worker rates a class they attended (1–5) with an optional comment (≤ 500 characters), once."""
    registration = _own_registration(user, registration_id)
    refusal = feedback_refusal(registration)
    if refusal is not None:
        raise refusal
    cleaned, errors = rules.clean_feedback(rating, comment)
    if errors:
        raise ValidationFailed({k: [str(m) for m in v] for k, v in errors.items()})
    value, text = cleaned
    try:
        with write_transaction():
            feedback = Feedback(registration_id=registration.id, activity_id=registration.activity_id,
                                rating=value, comment=text)
            db.session.add(feedback)
            db.session.flush()
            log_action(user.id, "feedback.create", feedback, registration_id=registration.id,
                       activity_id=registration.activity_id)
    except IntegrityError:
        raise FeedbackAlreadyGiven() from None
    return feedback


@dataclass
class FeedbackItem:
    registration: Registration
    feedback: Feedback | None


def my_feedback(user: User) -> list[FeedbackItem]:
    """The worker's attended classes, each with their feedback if given (newest class first)."""
    stmt = (select(Registration, Feedback).outerjoin(Feedback, Feedback.registration_id == Registration.id)
            .join(Activity, Activity.id == Registration.activity_id)
            .where(Registration.user_id == user.id, Registration.state == S.ATTENDED,
                   Activity.kind.in_(rules.FEEDBACK_KINDS))
            .options(joinedload(Registration.activity)).order_by(Activity.starts_at.desc(), Registration.id))
    return [FeedbackItem(registration, feedback) for registration, feedback in db.session.execute(stmt)]


@dataclass
class FeedbackSummary:
    count: int
    attended: int
    average: Decimal | None
    distribution: dict[int, int]
    comments: list[tuple[datetime, int, str]]


def feedback_summary(activity_id: int) -> FeedbackSummary:
    rows = db.session.execute(select(Feedback.created_at, Feedback.rating, Feedback.comment)
                              .where(Feedback.activity_id == activity_id)
                              .order_by(Feedback.created_at.desc(), Feedback.id.desc())).all()
    ratings = [row.rating for row in rows]
    attended = db.session.scalar(select(func.count(Registration.id)).where(
        Registration.activity_id == activity_id, Registration.state == S.ATTENDED)) or 0
    return FeedbackSummary(count=len(rows), attended=attended, average=rules.average(ratings),
                           distribution=rules.distribution(ratings),
                           comments=[(row.created_at, row.rating, row.comment)
                                     for row in rows if row.comment])


def ratings_for_activities(activity_ids) -> dict[int, dict]:
    """For reports: ``{activity_id: {"count": n, "average": Decimal | None}}``."""
    ids = [i for i in dict.fromkeys(activity_ids or []) if isinstance(i, int)]
    result = {i: {"count": 0, "average": None} for i in ids}
    if ids:
        stmt = (select(Feedback.activity_id, func.count(Feedback.id), func.sum(Feedback.rating))
                .where(Feedback.activity_id.in_(ids)).group_by(Feedback.activity_id))
        for activity_id, count, total in db.session.execute(stmt):
            result[activity_id] = {"count": int(count),
                                   "average": (Decimal(int(total)) / int(count)).quantize(Decimal("0.1"))}
    return result


# --------------------------------------------------------------------------- attendance by unit

@dataclass
class UnitAttendance:
    node_id: int | None
    name: str
    path: str
    quota: int | None
    registered: int   # holding a place (confirmed or attended)
    attended: int
    no_show: int

    @property
    def attendance_rate(self) -> Decimal | None:
        return rules.rate(self.attended, self.quota if self.quota else self.registered)


@dataclass
class AttendanceReport:
    units: list[UnitAttendance]
    quota: int
    registered: int
    attended: int
    no_show: int

    @property
    def attendance_rate(self) -> Decimal | None:
        return rules.rate(self.attended, self.quota or self.registered)


def attendance_by_unit(activity_id: int) -> AttendanceReport:
    """Per unit: its quota (if any), how many hold a place, how many attended and did not come.

    Units are the registrations' units (the quota unit in quota mode, else the worker's union at
    sign-up) and every unit with a quota, even one nobody registered for.
    """
    counts = db.session.execute(
        select(Registration.unit_node_id,
               func.sum(case((Registration.state.in_(PLACE_STATES), 1), else_=0)),
               func.sum(case((Registration.state == S.ATTENDED, 1), else_=0)),
               func.sum(case((Registration.state == S.NO_SHOW, 1), else_=0)))
        .where(Registration.activity_id == activity_id,
               Registration.state.in_(PLACE_STATES + (S.NO_SHOW,)))
        .group_by(Registration.unit_node_id)).all()
    quotas = {q.node_id: q.quota for q in db.session.scalars(
        select(UnitQuota).where(UnitQuota.activity_id == activity_id))}
    by_node = {node_id: (int(reg or 0), int(att or 0), int(ns or 0)) for node_id, reg, att, ns in counts}
    node_ids = [n for n in set(by_node) | set(quotas) if n is not None]
    nodes = {n.id: n for n in db.session.scalars(select(UnionNode).where(UnionNode.id.in_(node_ids)))} \
        if node_ids else {}
    units = []
    for node_id in set(by_node) | set(quotas):
        registered, attended, no_show = by_node.get(node_id, (0, 0, 0))
        node = nodes.get(node_id)
        units.append(UnitAttendance(node_id=node_id, name=node.name if node else "",
                                    path=node.path if node else "~",
                                    quota=quotas.get(node_id), registered=registered, attended=attended,
                                    no_show=no_show))
    units.sort(key=lambda u: (u.path, u.name))
    return AttendanceReport(units=units, quota=sum(quotas.values()),
                            registered=sum(u.registered for u in units),
                            attended=sum(u.attended for u in units), no_show=sum(u.no_show for u in units))


def erase_feedback_comments(user_id: int) -> None:
    """Ratings stay in the class's average; the worker's own words go with their account."""
    mine = select(Registration.id).where(Registration.user_id == user_id)
    db.session.execute(update(Feedback).where(Feedback.registration_id.in_(mine)).values(comment=""))
