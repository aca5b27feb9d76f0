"""Activities: listing for workers, and creation (used by the demo data, the CLI and organisers)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.models import Occupation, User
from ..core.audit import log_action
from ..core.errors import NotFound, ValidationFailed
from ..core.timeutil import now
from ..extensions import db
from ..unions.models import UnionNode
from .models import (
    Activity, ActivityEligibleNode, ActivityKind, ActivityOccupation, ActivityStatus, Question,
    QuestionKind, SignupMode, TimeSlot, UnitQuota, Visibility,
)


def upcoming_activities(limit: int = 12) -> list[Activity]:
    """Published activities that have not ended, soonest first."""
    stmt = (
        select(Activity)
        .where(Activity.status == ActivityStatus.PUBLISHED, Activity.ends_at >= now(),
               Activity.visibility != Visibility.INVITATION)
        .order_by(Activity.starts_at, Activity.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def get_activity(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    return activity


def validate_activity_fields(*, title: str, starts_at: datetime, ends_at: datetime,
                             signup_opens_at: datetime, signup_closes_at: datetime,
                             capacity: int, cancel_cutoff_at: datetime | None = None,
                             confirmed: int = 0) -> dict[str, list[str]]:
    """Every rule on an activity's common fields, with a message per field."""
    errors: dict[str, list[str]] = {}

    def add(field, message):
        errors.setdefault(field, []).append(str(message))

    if not (title or "").strip():
        add("title", _l("Please enter a title."))
    elif len(title.strip()) > 120:
        add("title", _l("The title may have at most 120 characters."))
    if ends_at < starts_at:
        add("ends_at", _l("The activity must end after it starts."))
    if signup_closes_at <= signup_opens_at:
        add("signup_closes_at", _l("Sign-up must close after it opens."))
    if signup_closes_at > starts_at:
        add("signup_closes_at", _l("Sign-up must close before the activity starts."))
    if capacity < 0:
        add("capacity", _l("The number of places cannot be negative."))
    elif capacity < confirmed:
        add("capacity", _l("There are already %(n)d confirmed places; the capacity cannot be lower.",
                           n=confirmed))
    if cancel_cutoff_at is not None and cancel_cutoff_at > starts_at:
        add("cancel_cutoff_at", _l("The cancellation deadline must be before the activity starts."))
    return errors


def create_activity(*, title: str, kind: ActivityKind, node: UnionNode, starts_at: datetime,
                    ends_at: datetime, signup_opens_at: datetime, signup_closes_at: datetime,
                    capacity: int, description: str = "", venue: str = "",
                    mode: SignupMode = SignupMode.FIRST_COME, visibility: Visibility = Visibility.PUBLIC,
                    waitlist_enabled: bool = True, members_only: bool = False,
                    occupations: list[Occupation] | tuple = (), eligible_nodes: list[UnionNode] | tuple = (),
                    cancel_cutoff_at: datetime | None = None, publish: bool = False,
                    created_by: User | None = None) -> Activity:
    """Create an activity (a draft unless ``publish``); raises ValidationFailed with per-field messages."""
    errors = validate_activity_fields(title=title, starts_at=starts_at, ends_at=ends_at,
                                      signup_opens_at=signup_opens_at, signup_closes_at=signup_closes_at,
                                      capacity=capacity, cancel_cutoff_at=cancel_cutoff_at)
    if errors:
        raise ValidationFailed(errors)
    activity = Activity(
        title=title.strip(), kind=kind, node=node, description=description, venue=venue,
        district=node.district, starts_at=starts_at, ends_at=ends_at, signup_opens_at=signup_opens_at,
        signup_closes_at=signup_closes_at, cancel_cutoff_at=cancel_cutoff_at, capacity=capacity,
        mode=mode, visibility=visibility, waitlist_enabled=waitlist_enabled, members_only=members_only,
        status=ActivityStatus.PUBLISHED if publish else ActivityStatus.DRAFT,
        created_by_id=created_by.id if created_by else None,
    )
    activity.eligible_occupations = [ActivityOccupation(occupation=o) for o in dict.fromkeys(occupations)]
    activity.eligible_nodes = [ActivityEligibleNode(node_id=n.id) for n in eligible_nodes]
    db.session.add(activity)
    db.session.flush()
    log_action(created_by.id if created_by else None, "activity.create", activity)
    return activity


def add_slots(activity: Activity, first_start: datetime, last_end: datetime, minutes: int,
              capacity_each: int) -> list[TimeSlot]:
    """Bulk-generate slots: from ``first_start`` every ``minutes`` until ``last_end``, ``capacity_each`` places."""
    errors: dict[str, list[str]] = {}
    if minutes <= 0:
        errors["minutes"] = [str(_l("The slot length must be at least one minute."))]
    if capacity_each <= 0:
        errors["capacity_each"] = [str(_l("Each slot needs at least one place."))]
    if first_start < activity.starts_at or last_end > activity.ends_at or last_end <= first_start:
        errors["first_start"] = [str(_l("Slots must lie within the activity's time."))]
    if errors:
        raise ValidationFailed(errors)
    slots = []
    start = first_start
    while start + timedelta(minutes=minutes) <= last_end:
        slot = TimeSlot(activity=activity, starts_at=start, ends_at=start + timedelta(minutes=minutes),
                        capacity=capacity_each)
        db.session.add(slot)
        slots.append(slot)
        start += timedelta(minutes=minutes)
    # With slots the activity's capacity is the sum of the slots' places.
    activity.capacity = sum(s.capacity for s in activity.slots)
    return slots


def add_question(activity: Activity, label: str, kind: QuestionKind, required: bool = False,
                 choices: list[str] | None = None) -> Question:
    label = (label or "").strip()
    if not label:
        raise ValidationFailed({"label": [str(_l("Please enter the question."))]})
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE) and len(choices or []) < 2:
        raise ValidationFailed({"choices": [str(_l("A choice question needs at least two choices."))]})
    question = Question(activity=activity, label=label[:200], kind=kind, required=required,
                        choices=list(choices) if choices else None,
                        position=len(activity.questions))
    db.session.add(question)
    return question


def set_unit_quota(activity: Activity, node: UnionNode, quota: int) -> UnitQuota:
    if quota < 0:
        raise ValidationFailed({"quota": [str(_l("A quota cannot be negative."))]})
    for existing in activity.unit_quotas:
        if existing.node_id == node.id:
            existing.quota = quota
            return existing
    row = UnitQuota(activity=activity, node=node, quota=quota)
    db.session.add(row)
    return row


def get_visible_activity(activity_id: int) -> Activity:
    """An activity a worker may look at: published (drafts are only for organisers)."""
    activity = db.session.get(Activity, activity_id)
    if activity is None or activity.status == ActivityStatus.DRAFT:
        raise NotFound(_l("This activity does not exist."))
    return activity
