"""An activity's life as a whole: its common fields and their rules, creating it (demo data, CLI,
organisers), editing it, publishing and unpublishing it, and copying it.

Organiser use cases (the /manage pages) check their rules, write the audit log (ids only) and commit;
the views only parse, authorise and render.  Scope is checked by the view's loader; where a choice in
the data could leave the organiser's scope (the organising union) it is checked here.  While
registrations in TAKING_PART_STATES exist, an activity's kind and mode stay fixed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...accounts.models import Occupation, Role, User
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...core.permissions import has_role
from ...core.timeutil import now
from ...extensions import db
from ...notifications.reminders import notify_activity_changed
from ...reports.services import sync_activity
from ...unions.models import UnionNode
from ..models import (
    Activity, ActivityEligibleNode, ActivityKind, ActivityOccupation, ActivityStatus, Question,
    SignupMode, TimeSlot, UnitQuota, Visibility,
)
from ..draw import commit_seed
from .listing import confirmed_count, taking_part_count


#: Upper bounds that keep typing mistakes (an extra zero or two) out of the data.
MAX_CAPACITY = 100_000
TITLE_MAX = 120
VENUE_MAX = 200
DESCRIPTION_MAX = 5000


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
    commit_seed(activity)
    db.session.add(activity)
    db.session.flush()
    sync_activity(activity)
    log_action(created_by.id if created_by else None, "activity.create", activity)
    return activity


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
        activity = apply_update(actor, activity_id, data, node, eligible, errors)
    return activity


def apply_update(actor: User, activity_id: int, data: ActivityData, node, eligible,
                 errors: dict[str, list[str]] | None = None) -> Activity:
    """The body of ``update_activity``, inside the caller's write transaction (a series edit changes
    several occurrences in one).  ``node`` and ``eligible`` come from ``check_data``."""
    errors = errors if errors is not None else {}
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
    old_starts_at, old_venue = activity.starts_at, activity.venue or ""
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
    commit_seed(activity)
    sync_activity(activity)
    log_action(actor.id, "activity.update", activity)
    if activity.status == ActivityStatus.PUBLISHED:
        db.session.flush()
        notify_activity_changed(activity.id, old_starts_at, old_venue)
    if raised and not activity.slots and activity.status == ActivityStatus.PUBLISHED:
        from ...registrations.services import fill_free_places

        db.session.flush()  # the promotion's conditional UPDATE must see the new capacity
        fill_free_places(activity.id, actor.id)
    return activity


def check_data(actor: User, data: ActivityData) -> tuple[UnionNode | None, list]:
    """The union and eligible unions ``data`` names, checked (ValidationFailed when not)."""
    errors: dict[str, list[str]] = {}
    node, eligible = _check_data(actor, data, errors)
    if errors:
        raise ValidationFailed(errors)
    return node, eligible


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
        commit_seed(activity)
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


def copy_activity(actor: User, activity_id: int, starts_at: datetime | None = None) -> Activity:
    """A new draft with the same fields, slots, questions and quotas; every time moves with ``starts_at``."""
    with write_transaction():
        source = _lock_activity(activity_id)
        delta = (starts_at - source.starts_at) if starts_at is not None else timedelta(0)
        title = gettext("Copy of %(title)s", title=source.title)[:TITLE_MAX]
        copy = clone_activity(actor, source, delta, title=title, status=ActivityStatus.DRAFT)
        log_action(actor.id, "activity.copy", copy, source_id=source.id)
    return copy


def clone_activity(actor: User, source: Activity, delta: timedelta, *, title: str, status: ActivityStatus,
                   series_id: int | None = None) -> Activity:
    """``source``'s fields, slots, questions and quotas as a new activity, every time moved by ``delta``
    (inside the caller's write transaction; nobody signed up)."""
    copy = Activity(
        title=title, kind=source.kind, node_id=source.node_id, description=source.description,
        venue=source.venue, district=source.district, starts_at=source.starts_at + delta,
        ends_at=source.ends_at + delta, signup_opens_at=source.signup_opens_at + delta,
        signup_closes_at=source.signup_closes_at + delta,
        cancel_cutoff_at=source.cancel_cutoff_at + delta if source.cancel_cutoff_at else None,
        capacity=source.capacity, taken=0, waitlist_enabled=source.waitlist_enabled, mode=source.mode,
        visibility=source.visibility, members_only=source.members_only, status=status,
        created_by_id=actor.id, series_id=series_id,
    )
    copy.eligible_occupations = [ActivityOccupation(occupation=o) for o in source.occupation_codes]
    copy.eligible_nodes = [ActivityEligibleNode(node_id=row.node_id) for row in source.eligible_nodes]
    copy.slots = [TimeSlot(starts_at=s.starts_at + delta, ends_at=s.ends_at + delta, capacity=s.capacity)
                  for s in source.slots]
    copy.questions = [Question(position=q.position, label=q.label, kind=q.kind, required=q.required,
                               choices=list(q.choices) if q.choices else None) for q in source.questions]
    copy.unit_quotas = [UnitQuota(node_id=q.node_id, quota=q.quota, used=0) for q in source.unit_quotas]
    commit_seed(copy)  # a published lottery date (a series) shows its own seed's hash from the start
    db.session.add(copy)
    db.session.flush()
    sync_activity(copy)
    return copy
