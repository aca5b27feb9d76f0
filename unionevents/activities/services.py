"""Activities: listing for workers, and creation (used by the demo data, the CLI and organisers)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, format_datetime, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from ..accounts.models import Occupation, Role, User
from ..core.audit import log_action
from ..core.db import write_transaction
from ..core.errors import Conflict, DomainError, NotFound, ValidationFailed
from ..core.outbox import enqueue
from ..core.permissions import has_role, in_scope_clause
from ..core.timeutil import now, utc_to_local
from ..extensions import db
from ..unions.models import UnionNode
from .models import (
    Activity, ActivityEligibleNode, ActivityKind, ActivityOccupation, ActivityStatus, Question,
    QuestionKind, SignupMode, TimeSlot, UnitQuota, Visibility,
)
from ..registrations.models import TAKING_PART_STATES, Registration, RegistrationState
from ..reports.services import sync_activity


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


#: Upper bounds that keep typing mistakes (an extra zero or two) out of the data.
MAX_CAPACITY = 100_000
MAX_SLOTS = 300
MAX_CHOICES = 50
TITLE_MAX = 120
VENUE_MAX = 200
DESCRIPTION_MAX = 5000
QUESTION_LABEL_MAX = 200
CHOICE_MAX = 100


def validate_activity_fields(*, title: str, starts_at: datetime, ends_at: datetime,
                             signup_opens_at: datetime, signup_closes_at: datetime,
                             capacity: int, cancel_cutoff_at: datetime | None = None,
                             confirmed: int = 0, venue: str = "", description: str = "",
                             quota_total: int = 0,
                             slot_span: tuple[datetime, datetime] | None = None) -> dict[str, list[str]]:
    """Every rule on an activity's common fields, with a message per field.

    ``confirmed`` is the number of registrations holding a place, ``quota_total``
    the sum of the unit quotas and ``slot_span`` the (first start, last end) of
    its time slots: the capacity and the times may not be set below or around them.
    """
    errors: dict[str, list[str]] = {}

    def add(field, message):
        errors.setdefault(field, []).append(str(message))

    if not (title or "").strip():
        add("title", _l("Please enter a title."))
    elif len(title.strip()) > TITLE_MAX:
        add("title", _l("The title may have at most %(n)d characters.", n=TITLE_MAX))
    if len(venue or "") > VENUE_MAX:
        add("venue", _l("The venue may have at most %(n)d characters.", n=VENUE_MAX))
    if len(description or "") > DESCRIPTION_MAX:
        add("description", _l("The description may have at most %(n)d characters.", n=DESCRIPTION_MAX))
    if ends_at <= starts_at:
        add("ends_at", _l("The activity must end after it starts."))
    if signup_closes_at <= signup_opens_at:
        add("signup_closes_at", _l("Sign-up must close after it opens."))
    if signup_closes_at > starts_at:
        add("signup_closes_at", _l("Sign-up must close before the activity starts."))
    if capacity < 0:
        add("capacity", _l("The number of places cannot be negative."))
    elif capacity > MAX_CAPACITY:
        add("capacity", _l("The number of places can be at most %(n)d.", n=MAX_CAPACITY))
    elif capacity < confirmed:
        add("capacity", _l("There are already %(n)d confirmed places; the capacity cannot be lower.",
                           n=confirmed))
    elif capacity < quota_total:
        add("capacity", _l("The unit quotas add up to %(n)d places; the capacity cannot be lower.",
                           n=quota_total))
    if cancel_cutoff_at is not None and cancel_cutoff_at > starts_at:
        add("cancel_cutoff_at", _l("The cancellation deadline must be before the activity starts."))
    if slot_span is not None and (slot_span[0] < starts_at or slot_span[1] > ends_at):
        add("starts_at", _l("Some time slots would lie outside the activity's time. "
                            "Move the times or delete those slots first."))
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
    sync_activity(activity)
    log_action(created_by.id if created_by else None, "activity.create", activity)
    return activity


def _slot_errors(activity: Activity, spans: list[tuple[datetime, datetime]],
                 start_field: str) -> dict[str, list[str]]:
    """Rules for new slots: inside the activity's time, not overlapping each other or existing slots."""
    errors: dict[str, list[str]] = {}
    if any(start < activity.starts_at or end > activity.ends_at for start, end in spans):
        errors[start_field] = [str(_l("Time slots must lie within the activity's time (%(start)s to %(end)s).",
                                      start=_local_text(activity.starts_at), end=_local_text(activity.ends_at)))]
        return errors
    existing = list(activity.slots)
    for start, end in spans:
        clash = next((s for s in existing if s.starts_at < end and start < s.ends_at), None)
        if clash is not None:
            errors[start_field] = [str(_l("This overlaps the existing slot %(start)s–%(end)s.",
                                          start=_local_text(clash.starts_at, time_only=True),
                                          end=_local_text(clash.ends_at, time_only=True)))]
            return errors
    if len(existing) + len(spans) > MAX_SLOTS:
        errors[start_field] = [str(_l("An activity can have at most %(n)d time slots.", n=MAX_SLOTS))]
    return errors


def _local_text(value: datetime, time_only: bool = False) -> str:
    local = utc_to_local(value)
    return local.strftime("%H:%M") if time_only else local.strftime("%Y-%m-%d %H:%M")


def _sync_capacity_with_slots(activity: Activity) -> None:
    """With slots the activity's capacity is the sum of the slots' places."""
    activity.capacity = sum(s.capacity for s in activity.slots)


def add_slots(activity: Activity, first_start: datetime, last_end: datetime, minutes: int,
              capacity_each: int) -> list[TimeSlot]:
    """Bulk-generate slots: from ``first_start`` every ``minutes`` until ``last_end``, ``capacity_each`` places.

    Slots lie inside the activity's time and overlap neither each other nor the
    slots already there; the activity's capacity becomes the sum of its slots.
    Does not commit (see ``generate_slots``).
    """
    errors: dict[str, list[str]] = {}
    if minutes <= 0:
        errors["minutes"] = [str(_l("The slot length must be at least one minute."))]
    elif last_end > first_start and first_start + timedelta(minutes=minutes) > last_end:
        errors["minutes"] = [str(_l("The time range is shorter than one slot."))]
    if capacity_each <= 0:
        errors["capacity_each"] = [str(_l("Each slot needs at least one place."))]
    elif capacity_each > MAX_CAPACITY:
        errors["capacity_each"] = [str(_l("The number of places can be at most %(n)d.", n=MAX_CAPACITY))]
    if last_end <= first_start:
        errors["last_end"] = [str(_l("The last slot must end after the first one starts."))]
    if errors:
        raise ValidationFailed(errors)
    spans = []
    start = first_start
    while start + timedelta(minutes=minutes) <= last_end and len(spans) <= MAX_SLOTS:
        spans.append((start, start + timedelta(minutes=minutes)))
        start += timedelta(minutes=minutes)
    errors = _slot_errors(activity, spans, "first_start")
    if errors:
        raise ValidationFailed(errors)
    slots = []
    for start, end in spans:
        slot = TimeSlot(activity=activity, starts_at=start, ends_at=end, capacity=capacity_each)
        db.session.add(slot)
        slots.append(slot)
    _sync_capacity_with_slots(activity)
    return slots


def clean_choices(raw: list[str] | str | None) -> list[str]:
    """Choices from a list or from text with one choice per line, stripped, blanks dropped."""
    if isinstance(raw, str):
        raw = raw.splitlines()
    return [c.strip() for c in (raw or []) if c and c.strip()]


def _question_errors(label: str, kind: QuestionKind, choices: list[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not label:
        errors["label"] = [str(_l("Please enter the question."))]
    elif len(label) > QUESTION_LABEL_MAX:
        errors["label"] = [str(_l("The question may have at most %(n)d characters.", n=QUESTION_LABEL_MAX))]
    if kind in CHOICE_KINDS:
        seen: set[str] = set()
        repeated = [c for c in choices if c in seen or seen.add(c)]
        if repeated:
            errors["choices"] = [str(_l("Each choice must be different: “%(choice)s” appears more than once.",
                                        choice=repeated[0]))]
        elif len(choices) < 2:
            errors["choices"] = [str(_l("A choice question needs at least two different choices, "
                                        "one per line."))]
        elif len(choices) > MAX_CHOICES:
            errors["choices"] = [str(_l("A question can have at most %(n)d choices.", n=MAX_CHOICES))]
        elif any(len(c) > CHOICE_MAX for c in choices):
            errors["choices"] = [str(_l("Each choice may have at most %(n)d characters.", n=CHOICE_MAX))]
    return errors


CHOICE_KINDS = (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)


def add_question(activity: Activity, label: str, kind: QuestionKind, required: bool = False,
                 choices: list[str] | str | None = None) -> Question:
    """Append a question to the sign-up form (does not commit; see ``create_question``)."""
    label = (label or "").strip()
    choices = clean_choices(choices)
    errors = _question_errors(label, kind, choices)
    if errors:
        raise ValidationFailed(errors)
    position = max((q.position for q in activity.questions), default=-1) + 1
    question = Question(activity=activity, label=label, kind=kind, required=required,
                        choices=choices if kind in CHOICE_KINDS else None, position=position)
    db.session.add(question)
    return question


def set_unit_quota(activity: Activity, node: UnionNode, quota: int) -> UnitQuota:
    """Set how many delegates ``node`` may register (does not commit; see ``save_unit_quota``).

    Refused when the quotas would add up to more than the activity's places, or
    when the unit has already used more than the new quota.
    """
    if quota < 0:
        raise ValidationFailed({"quota": [str(_l("A quota cannot be negative."))]})
    existing = next((row for row in activity.unit_quotas if row.node_id == node.id), None)
    others = sum(row.quota for row in activity.unit_quotas if row is not existing)
    if others + quota > activity.capacity:
        raise ValidationFailed({"quota": [str(_l(
            "The quotas would add up to %(total)d places, more than the activity's %(capacity)d. "
            "Lower a quota or raise the capacity first.", total=others + quota, capacity=activity.capacity))]})
    if existing is not None:
        if quota < existing.used:
            raise ValidationFailed({"quota": [str(_l(
                "This unit has already registered %(n)d delegates; the quota cannot be lower.",
                n=existing.used))]})
        existing.quota = quota
        return existing
    row = UnitQuota(activity=activity, node=node, quota=quota)
    db.session.add(row)
    return row


class LoginNeeded(DomainError):
    """An anonymous visitor asked for something only some logged-in people may see (HTML views send
    them to the login page; the API answers 401)."""
    http_status = 401
    code = "login_required"
    default_message = _l("Please log in first.")


def get_visible_activity(activity_id: int, viewer: User | None) -> Activity:
    """An activity ``viewer`` (None: anonymous) may look at: published or cancelled (drafts are only for
    organisers), and for an invitation-only one, only someone ``may_see_invitation`` allows.

    Raises NotFound — also when a logged-in person may not see it, so nobody learns it exists — or
    LoginNeeded for an anonymous visitor asking for an invitation-only activity.
    """
    activity = db.session.get(Activity, activity_id)
    if activity is None or activity.status == ActivityStatus.DRAFT:
        raise NotFound(_l("This activity does not exist."))
    if activity.visibility == Visibility.INVITATION and not may_see_invitation(viewer, activity):
        if viewer is None:
            raise LoginNeeded()
        raise NotFound(_l("This activity does not exist."))
    return activity


def may_see_invitation(user: User | None, activity: Activity) -> bool:
    """May ``user`` see invitation-only ``activity`` (docs/design-decisions.md, "Activities")?

    Yes for: organisers and officers whose scope covers the activity's union (admins everywhere); anyone
    holding a role for this activity (medical staff, judges); workers whose union is an invited unit or
    lies inside one; organisers of an invited unit, of a union above one, or of a union inside one (they
    enrol their members); and anyone registered for it.  Invited units are the unit quotas and the
    eligible unions.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if has_role(user, Role.ORGANISER, node=activity.node) or has_role(user, Role.OFFICER, node=activity.node):
        return True
    if any(grant.activity_id == activity.id for grant in user.grants):
        return True
    invited = [quota.node.path for quota in activity.unit_quotas] + \
              [eligible.node.path for eligible in activity.eligible_nodes]
    union = user.union
    if union is not None and any(union.path.startswith(path) for path in invited):
        return True
    for grant in user.grants:
        if grant.role == Role.ORGANISER and grant.node is not None and any(
                grant.node.path.startswith(path) or path.startswith(grant.node.path) for path in invited):
            return True
    return db.session.scalar(select(Registration.id).where(
        Registration.activity_id == activity.id, Registration.user_id == user.id).limit(1)) is not None


# ---------------------------------------------------------------------------
# Organiser use cases (the /manage pages). Each one checks its rules, writes
# the audit log (ids only) and commits; the views only parse, authorise and
# render. Scope is checked by the view's loader; where a choice in the data
# could leave the organiser's scope (the organising union) it is checked here.
# ---------------------------------------------------------------------------

# While registrations in TAKING_PART_STATES exist, an activity's kind and mode stay fixed and a slot
# cannot go.

#: Activities per page on the organiser's list.
MANAGE_PAGE_SIZE = 20


@dataclass
class ActivityData:
    """An activity's common fields as plain data (times naive UTC), from a form, the API or the CLI."""

    title: str
    kind: ActivityKind
    node_id: int | None
    starts_at: datetime
    ends_at: datetime
    signup_opens_at: datetime
    signup_closes_at: datetime
    capacity: int | None = None
    description: str = ""
    venue: str = ""
    cancel_cutoff_at: datetime | None = None
    waitlist_enabled: bool = True
    mode: SignupMode = SignupMode.FIRST_COME
    visibility: Visibility = Visibility.PUBLIC
    members_only: bool = False
    occupations: list[Occupation] = field(default_factory=list)
    eligible_node_ids: list[int] = field(default_factory=list)

    @classmethod
    def from_activity(cls, activity: Activity) -> "ActivityData":
        return cls(
            title=activity.title, kind=activity.kind, node_id=activity.node_id,
            starts_at=activity.starts_at, ends_at=activity.ends_at,
            signup_opens_at=activity.signup_opens_at, signup_closes_at=activity.signup_closes_at,
            capacity=activity.capacity, description=activity.description or "", venue=activity.venue or "",
            cancel_cutoff_at=activity.cancel_cutoff_at, waitlist_enabled=activity.waitlist_enabled,
            mode=activity.mode, visibility=activity.visibility, members_only=activity.members_only,
            occupations=sorted(activity.occupation_codes, key=lambda o: o.value),
            eligible_node_ids=[row.node_id for row in activity.eligible_nodes],
        )


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


def _merge(errors: dict[str, list[str]], more: dict[str, list[str]]) -> None:
    for key, messages in more.items():
        errors.setdefault(key, []).extend(messages)


def _lock_activity(activity_id: int) -> Activity:
    """Load the activity for a change, row-locked on PostgreSQL (SQLite: the write transaction locks)."""
    activity = db.session.execute(
        select(Activity).where(Activity.id == activity_id).with_for_update(of=Activity)
        .execution_options(populate_existing=True)
    ).unique().scalar_one_or_none()
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    return activity


def _ensure_changeable(activity: Activity) -> None:
    if activity.status == ActivityStatus.CANCELLED:
        raise Conflict(_l("This activity has been cancelled and can no longer be changed. "
                          "Copy it to run it again."))


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


def _check_data(actor: User, data: ActivityData, errors: dict[str, list[str]]) -> tuple[UnionNode | None,
                                                                                       list[UnionNode]]:
    """Resolve the organising union (in the actor's scope) and the eligible unions (any union)."""
    node = db.session.get(UnionNode, data.node_id) if data.node_id else None
    if node is None:
        errors.setdefault("node_id", []).append(str(_l("Please choose the organising union.")))
    elif not has_role(actor, Role.ORGANISER, node=node):
        errors.setdefault("node_id", []).append(str(_l("You can only organise activities for unions in your scope.")))
    eligible = []
    for node_id in dict.fromkeys(data.eligible_node_ids or []):
        eligible_node = db.session.get(UnionNode, node_id)
        if eligible_node is None:
            errors.setdefault("eligible_node_ids", []).append(str(_l("Please choose unions from the list.")))
            break
        eligible.append(eligible_node)
    return node, eligible


def _capacity_from(data: ActivityData, activity: Activity | None, errors: dict[str, list[str]]) -> int:
    if activity is not None and activity.slots:
        return sum(s.capacity for s in activity.slots)  # slots decide; the field is ignored
    if data.capacity is None:
        if data.kind == ActivityKind.HEALTH:
            return 0  # the time slots added next give the places
        errors.setdefault("capacity", []).append(str(_l("Please enter the number of places.")))
        return 0
    return data.capacity


def create_managed_activity(actor: User, data: ActivityData) -> Activity:
    """An organiser creates a draft activity for a union in their scope."""
    errors: dict[str, list[str]] = {}
    node, eligible = _check_data(actor, data, errors)
    capacity = _capacity_from(data, None, errors)
    _merge(errors, validate_activity_fields(
        title=data.title, starts_at=data.starts_at, ends_at=data.ends_at, signup_opens_at=data.signup_opens_at,
        signup_closes_at=data.signup_closes_at, capacity=capacity, cancel_cutoff_at=data.cancel_cutoff_at,
        venue=data.venue, description=data.description))
    if errors:
        raise ValidationFailed(errors)
    with write_transaction():
        activity = create_activity(
            title=data.title, kind=data.kind, node=node, starts_at=data.starts_at, ends_at=data.ends_at,
            signup_opens_at=data.signup_opens_at, signup_closes_at=data.signup_closes_at, capacity=capacity,
            description=(data.description or "").strip(), venue=(data.venue or "").strip(), mode=data.mode,
            visibility=data.visibility, waitlist_enabled=data.waitlist_enabled, members_only=data.members_only,
            occupations=data.occupations, eligible_nodes=eligible, cancel_cutoff_at=data.cancel_cutoff_at,
            created_by=actor)
    return activity


def update_activity(actor: User, activity_id: int, data: ActivityData) -> Activity:
    """Change an activity's common fields; the capacity never drops below the places already taken."""
    errors: dict[str, list[str]] = {}
    node, eligible = _check_data(actor, data, errors)
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        if taking_part_count(activity.id):
            if data.kind != activity.kind:
                errors.setdefault("kind", []).append(str(_l(
                    "People have already signed up, so the kind of activity can no longer change.")))
            if data.mode != activity.mode:
                errors.setdefault("mode", []).append(str(_l(
                    "People have already signed up, so the sign-up mode can no longer change.")))
        capacity = _capacity_from(data, activity, errors)
        slot_span = ((min(s.starts_at for s in activity.slots), max(s.ends_at for s in activity.slots))
                     if activity.slots else None)
        quota_total = sum(q.quota for q in activity.unit_quotas) if data.mode == SignupMode.QUOTA else 0
        _merge(errors, validate_activity_fields(
            title=data.title, starts_at=data.starts_at, ends_at=data.ends_at,
            signup_opens_at=data.signup_opens_at, signup_closes_at=data.signup_closes_at, capacity=capacity,
            cancel_cutoff_at=data.cancel_cutoff_at, venue=data.venue, description=data.description,
            confirmed=max(confirmed_count(activity.id), activity.taken), quota_total=quota_total,
            slot_span=slot_span))
        if errors:
            raise ValidationFailed(errors)
        raised = capacity > activity.capacity
        activity.title = data.title.strip()
        activity.kind = data.kind
        activity.node = node
        activity.district = node.district
        activity.description = (data.description or "").strip()
        activity.venue = (data.venue or "").strip()
        activity.starts_at, activity.ends_at = data.starts_at, data.ends_at
        activity.signup_opens_at, activity.signup_closes_at = data.signup_opens_at, data.signup_closes_at
        activity.cancel_cutoff_at = data.cancel_cutoff_at
        activity.capacity = capacity
        activity.waitlist_enabled = data.waitlist_enabled
        activity.mode = data.mode
        activity.visibility = data.visibility
        activity.members_only = data.members_only
        _replace_eligibility(activity, data.occupations, eligible)
        sync_activity(activity)
        log_action(actor.id, "activity.update", activity)
        if raised and not activity.slots and activity.status == ActivityStatus.PUBLISHED:
            from ..registrations.services import fill_free_places

            db.session.flush()  # the promotion's conditional UPDATE must see the new capacity
            fill_free_places(activity.id, actor.id)
    return activity


def _replace_eligibility(activity: Activity, occupations, eligible: list[UnionNode]) -> None:
    """Update the eligibility rows in place (keeping unchanged rows avoids delete+insert of one key)."""
    wanted_occupations = list(dict.fromkeys(occupations or []))
    for row in list(activity.eligible_occupations):
        if row.occupation not in wanted_occupations:
            activity.eligible_occupations.remove(row)
    have = activity.occupation_codes
    activity.eligible_occupations.extend(ActivityOccupation(occupation=o) for o in wanted_occupations
                                         if o not in have)
    wanted_nodes = [n.id for n in eligible]
    for row in list(activity.eligible_nodes):
        if row.node_id not in wanted_nodes:
            activity.eligible_nodes.remove(row)
    have_nodes = {row.node_id for row in activity.eligible_nodes}
    activity.eligible_nodes.extend(ActivityEligibleNode(node_id=i) for i in wanted_nodes if i not in have_nodes)


def publish_problems(activity: Activity) -> list[str]:
    """What still stops ``activity`` from being published (empty when it may be)."""
    problems: list[str] = []
    if activity.status == ActivityStatus.CANCELLED:
        problems.append(str(_l("A cancelled activity cannot be published again. Copy it instead.")))
        return problems
    if activity.ends_at <= now():
        problems.append(str(_l("This activity has already ended.")))
    elif activity.signup_closes_at <= now():
        problems.append(str(_l("Sign-up has already closed. Move the sign-up window first.")))
    if activity.capacity <= 0:
        if activity.uses_slots:
            problems.append(str(_l("Add time slots first: they give the places.")))
        else:
            problems.append(str(_l("Set the number of places first.")))
    if activity.mode == SignupMode.QUOTA and not activity.unit_quotas:
        problems.append(str(_l("In the quota mode, give at least one unit a quota first.")))
    if activity.visibility == Visibility.INVITATION and not (activity.unit_quotas or activity.eligible_nodes):
        problems.append(str(_l("Choose the invited units first (eligible unions or unit quotas).")))
    return problems


def publish(actor: User, activity_id: int) -> Activity:
    """Make a draft visible to workers (so they can sign up when the window opens)."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        if activity.status == ActivityStatus.PUBLISHED:
            return activity
        problems = publish_problems(activity)
        if problems:
            raise ValidationFailed({"publish": problems}, message=problems[0])
        activity.status = ActivityStatus.PUBLISHED
        sync_activity(activity)
        log_action(actor.id, "activity.publish", activity)
    return activity


def unpublish(actor: User, activity_id: int) -> Activity:
    """Take a published activity back to draft, as long as nobody has signed up."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        if activity.status == ActivityStatus.DRAFT:
            return activity
        if taking_part_count(activity.id):
            raise Conflict(_l("People have already signed up, so the activity cannot go back to draft. "
                              "Cancel it instead: everyone who signed up is then told."))
        activity.status = ActivityStatus.DRAFT
        sync_activity(activity)
        log_action(actor.id, "activity.unpublish", activity)
    return activity


CANCEL_REASON_MAX = 200


def cancel_activity(actor: User, activity_id: int, reason: str = "") -> int:
    """Cancel the activity and every live registration; each registrant gets a message.

    Returns how many registrations were cancelled.
    """
    reason = (reason or "").strip()
    if len(reason) > CANCEL_REASON_MAX:
        raise ValidationFailed({"reason": [str(_l("The reason may have at most %(n)d characters.",
                                                  n=CANCEL_REASON_MAX))]})
    with write_transaction():
        activity = _lock_activity(activity_id)
        if activity.status == ActivityStatus.CANCELLED:
            raise Conflict(_l("This activity is already cancelled."))
        if activity.ends_at <= now():
            raise Conflict(_l("This activity has already ended, so it cannot be cancelled."))
        cancelled = cancel_live_registrations(actor, activity)
        activity.status = ActivityStatus.CANCELLED
        sync_activity(activity)
        log_action(actor.id, "activity.cancel", activity, registrations=len(cancelled))
        for registration in cancelled:
            _notify_activity_cancelled(registration, activity, reason)
    return len(cancelled)


def cancel_live_registrations(actor: User, activity: Activity) -> list:
    """Cancel every live registration of ``activity`` through the registration engine, inside the
    caller's transaction: the same audit row, place counters and report counts as any cancellation."""
    from ..registrations.services import cancel_for_activity

    return cancel_for_activity(activity.id, actor.id)


def _notify_activity_cancelled(registration: Registration, activity: Activity, reason: str) -> None:
    user = db.session.get(User, registration.user_id)
    locale = (user.locale if user else None) or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        subject = gettext("Cancelled: %(title)s", title=activity.title)
        body = gettext("The activity “%(title)s” on %(when)s has been cancelled by %(organiser)s. "
                       "Your registration is cancelled; you do not need to do anything.",
                       title=activity.title, when=format_datetime(activity.starts_at, "short"),
                       organiser=activity.node.name)
        if reason:
            body += " " + gettext("Reason: %(reason)s", reason=reason)
    enqueue(registration.user_id, "activity_cancelled", body, subject=subject)


def copy_activity(actor: User, activity_id: int, starts_at: datetime | None = None) -> Activity:
    """A new draft with the same fields, slots, questions and quotas; every time moves with ``starts_at``."""
    with write_transaction():
        source = _lock_activity(activity_id)
        delta = (starts_at - source.starts_at) if starts_at is not None else timedelta(0)
        title = gettext("Copy of %(title)s", title=source.title)[:TITLE_MAX]
        copy = Activity(
            title=title, kind=source.kind, node_id=source.node_id, description=source.description,
            venue=source.venue, district=source.district, starts_at=source.starts_at + delta,
            ends_at=source.ends_at + delta, signup_opens_at=source.signup_opens_at + delta,
            signup_closes_at=source.signup_closes_at + delta,
            cancel_cutoff_at=source.cancel_cutoff_at + delta if source.cancel_cutoff_at else None,
            capacity=source.capacity, taken=0, waitlist_enabled=source.waitlist_enabled, mode=source.mode,
            visibility=source.visibility, members_only=source.members_only, status=ActivityStatus.DRAFT,
            created_by_id=actor.id,
        )
        copy.eligible_occupations = [ActivityOccupation(occupation=o) for o in source.occupation_codes]
        copy.eligible_nodes = [ActivityEligibleNode(node_id=row.node_id) for row in source.eligible_nodes]
        copy.slots = [TimeSlot(starts_at=s.starts_at + delta, ends_at=s.ends_at + delta, capacity=s.capacity)
                      for s in source.slots]
        copy.questions = [Question(position=q.position, label=q.label, kind=q.kind, required=q.required,
                                   choices=list(q.choices) if q.choices else None) for q in source.questions]
        copy.unit_quotas = [UnitQuota(node_id=q.node_id, quota=q.quota, used=0) for q in source.unit_quotas]
        db.session.add(copy)
        db.session.flush()
        sync_activity(copy)
        log_action(actor.id, "activity.copy", copy, source_id=source.id)
    return copy


def _slot_of(activity: Activity, slot_id: int) -> TimeSlot:
    slot = next((s for s in activity.slots if s.id == slot_id), None)
    if slot is None:
        raise NotFound(_l("This time slot does not exist."))
    return slot


def generate_slots(actor: User, activity_id: int, first_start: datetime, last_end: datetime, minutes: int,
                   capacity_each: int) -> list[TimeSlot]:
    """E.g. 09:00–12:00 every 20 minutes with 3 places each; the capacity becomes the sum of the slots."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        slots = add_slots(activity, first_start, last_end, minutes, capacity_each)
        db.session.flush()
        log_action(actor.id, "slot.generate", activity, count=len(slots), slot_ids=[s.id for s in slots])
    return slots


def add_slot(actor: User, activity_id: int, starts_at: datetime, ends_at: datetime, capacity: int) -> TimeSlot:
    """Add one time slot; it lies inside the activity's time and overlaps no other slot."""
    errors: dict[str, list[str]] = {}
    if ends_at <= starts_at:
        errors["ends_at"] = [str(_l("The slot must end after it starts."))]
    if capacity <= 0:
        errors["capacity"] = [str(_l("Each slot needs at least one place."))]
    elif capacity > MAX_CAPACITY:
        errors["capacity"] = [str(_l("The number of places can be at most %(n)d.", n=MAX_CAPACITY))]
    if errors:
        raise ValidationFailed(errors)
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        errors = _slot_errors(activity, [(starts_at, ends_at)], "starts_at")
        if errors:
            raise ValidationFailed(errors)
        slot = TimeSlot(activity=activity, starts_at=starts_at, ends_at=ends_at, capacity=capacity)
        db.session.add(slot)
        _sync_capacity_with_slots(activity)
        db.session.flush()
        log_action(actor.id, "slot.add", slot, activity_id=activity.id)
    return slot


def delete_slot(actor: User, activity_id: int, slot_id: int) -> None:
    """Delete a time slot nobody has booked; the capacity shrinks by its places."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        slot = _slot_of(activity, slot_id)
        booked = max(slot_booking_counts(activity.id).get(slot.id, 0), slot.taken)
        if booked:
            raise Conflict(_l("%(n)d people have booked this slot, so it cannot be deleted.", n=booked))
        activity.slots.remove(slot)
        _sync_capacity_with_slots(activity)
        log_action(actor.id, "slot.delete", activity, slot_id=slot_id)


def _question_of(activity: Activity, question_id: int) -> Question:
    question = next((q for q in activity.questions if q.id == question_id), None)
    if question is None:
        raise NotFound(_l("This question does not exist."))
    return question


def create_question(actor: User, activity_id: int, label: str, kind: QuestionKind, required: bool = False,
                    choices: list[str] | str | None = None) -> Question:
    """Add a question at the end of the sign-up form."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        question = add_question(activity, label, kind, required, choices)
        db.session.flush()
        log_action(actor.id, "question.add", question, activity_id=activity.id)
    return question


def update_question(actor: User, activity_id: int, question_id: int, label: str, kind: QuestionKind,
                    required: bool = False, choices: list[str] | str | None = None) -> Question:
    """Change a question. Its kind stays fixed once someone has answered it (their answers would not fit)."""
    label = (label or "").strip()
    choices = clean_choices(choices)
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        question = _question_of(activity, question_id)
        errors = _question_errors(label, kind, choices)
        if kind != question.kind and question.id in answered_question_ids(activity.id):
            errors.setdefault("kind", []).append(str(_l(
                "People have already answered this question, so its kind cannot change: their answers "
                "would no longer fit. Add a new question instead.")))
        if errors:
            raise ValidationFailed(errors)
        question.label = label
        question.kind = kind
        question.required = required
        question.choices = choices if kind in CHOICE_KINDS else None
        log_action(actor.id, "question.update", question, activity_id=activity.id)
    return question


def move_question(actor: User, activity_id: int, question_id: int, direction: str) -> Question:
    """Swap the question with the one above (``"up"``) or below (``"down"``)."""
    if direction not in ("up", "down"):
        raise ValidationFailed({"direction": [str(_l("Choose up or down."))]})
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        question = _question_of(activity, question_id)
        ordered = sorted(activity.questions, key=lambda q: q.position)
        index = ordered.index(question)
        other_index = index - 1 if direction == "up" else index + 1
        if 0 <= other_index < len(ordered):
            other = ordered[other_index]
            mine, theirs = question.position, other.position
            # (activity, position) is unique: park one question out of the way first.
            question.position = -1 - max(abs(mine), abs(theirs))
            db.session.flush()
            other.position = mine
            db.session.flush()
            question.position = theirs
            log_action(actor.id, "question.move", question, activity_id=activity.id, direction=direction)
    return question


def delete_question(actor: User, activity_id: int, question_id: int) -> None:
    """Delete a question nobody has answered (answers would otherwise be thrown away)."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        question = _question_of(activity, question_id)
        if question.id in answered_question_ids(activity.id):
            raise Conflict(_l("People have already answered this question. Deleting it would throw their "
                              "answers away, so it cannot be deleted; you can make it optional instead."))
        activity.questions.remove(question)
        db.session.flush()
        for position, remaining in enumerate(sorted(activity.questions, key=lambda q: q.position)):
            if remaining.position != position:
                remaining.position = position
                db.session.flush()  # one at a time: positions are unique per activity
        log_action(actor.id, "question.delete", activity, question_id=question_id)


def _quota_of(activity: Activity, quota_id: int) -> UnitQuota:
    row = next((q for q in activity.unit_quotas if q.id == quota_id), None)
    if row is None:
        raise NotFound(_l("This unit quota does not exist."))
    return row


def save_unit_quota(actor: User, activity_id: int, node_id: int | None, quota: int) -> UnitQuota:
    """Give a unit (any union, usually one below the organiser) a number of delegate places, or change it."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        if activity.mode != SignupMode.QUOTA:
            raise Conflict(_l("Unit quotas only apply in the “quota per unit” sign-up mode. "
                              "Change the mode first."))
        node = db.session.get(UnionNode, node_id) if node_id else None
        if node is None:
            raise ValidationFailed({"node_id": [str(_l("Please choose a union from the list."))]})
        row = set_unit_quota(activity, node, quota)
        db.session.flush()
        log_action(actor.id, "quota.set", row, activity_id=activity.id, node_id=node.id, quota=quota)
    return row


def remove_unit_quota(actor: User, activity_id: int, quota_id: int) -> None:
    """Remove a unit's quota, unless the unit has already registered delegates."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        row = _quota_of(activity, quota_id)
        used = max(row.used, db.session.scalar(select(func.count(Registration.id)).where(
            Registration.activity_id == activity.id, Registration.unit_node_id == row.node_id,
            Registration.state.in_(TAKING_PART_STATES))) or 0)
        if used:
            raise Conflict(_l("This unit has already registered %(n)d delegates, so its quota cannot be "
                              "removed.", n=used))
        activity.unit_quotas.remove(row)
        log_action(actor.id, "quota.remove", activity, quota_id=quota_id, node_id=row.node_id)
