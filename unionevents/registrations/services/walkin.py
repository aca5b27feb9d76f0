"""Walk-ins: registering someone at the door by mobile number (an account made when needed)."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ...accounts.models import User
from ...activities.models import ActivityKind, SignupMode
from ...core.db import write_transaction
from ...core.errors import ValidationFailed
from ...extensions import db
from ..models import Registration, RegistrationState as S
from .checkin import CheckInClosed, check_in, clean_override_reason
from .decisions import approve
from .door import MSG_FULL_NEEDS_OVERRIDE, add_place_over_capacity, admit_over_capacity
from .errors import ActivityFull, AlreadyRegistered, IllegalTransition, NotEligible
from .signup import _activity_facts, _activity_for_signup, _unit_for, _validate_signup, _worker_facts, register


@dataclass
class WalkInResult:
    registration: Registration
    created_account: bool
    existing_registration: bool
    checked_in: bool
    check_in_refused: str | None = None  # why the asked-for check-in did not happen
    over_capacity: bool = False  # admitted to a full activity on the organiser's recorded override


def walk_in(activity_id: int, *, mobile: str, name: str | None, actor: User, slot_id=None,
            answers: dict | None = None, check_in_now: bool = False,
            full_override_reason: str | None = None) -> WalkInResult:
    """Register someone at the door by mobile number, making an unactivated account (with the name the
    organiser gives) when the number has none; optionally check them in at once.

    Every sign-up rule holds except the window (``register(entered_by=...)``).  An application to an
    approval activity is approved on the spot.  Someone already registered is not registered again:
    their registration is used (and checked in when asked).

    A full activity: without ``full_override_reason`` the walk-in joins the waiting list (or, with no
    list, is refused with ``MSG_FULL_NEEDS_OVERRIDE``) and is not admitted.  With it, an organiser's
    recorded reason, the activity gets one more place for them (``door.admit_over_capacity`` /
    ``door.add_place_over_capacity``: counters stay exact, the reason is audited).
    """
    from ...accounts.codes import send_welcome
    from ...accounts.services import create_user, find_by_mobile, mobile_error, normalise_mobile

    mobile = normalise_mobile(mobile)
    error = mobile_error(mobile)
    if error:
        raise ValidationFailed({"mobile": [error]})
    reason = clean_full_override_reason(full_override_reason)  # before any account is made
    user = find_by_mobile(mobile)
    created = False
    if user is None:
        if not (name or "").strip():
            raise ValidationFailed({"name": [str(_l(
                "No account has this mobile number yet. Please enter the worker's name to make one."))]})
        # Refuse what register() would refuse anyway before making the account: a refused walk-in
        # must leave nothing behind.
        activity = _activity_for_signup(activity_id)
        if activity.kind == ActivityKind.HEALTH:
            raise NotEligible(_l("A health service needs the worker's own consent, so nobody can be signed up "
                                 "for one by someone else."))
        _cleaned, slot = _validate_signup(activity, slot_id=slot_id or None, answers=answers, health_consent=False)
        slot_full = slot is not None and slot.taken >= slot.capacity
        if (activity.places_left <= 0 or slot_full) and not activity.waitlist_enabled and reason is None:
            raise ActivityFull(MSG_FULL_NEEDS_OVERRIDE)
        try:
            with write_transaction():
                user = create_user(mobile, name, None, created_by=actor, activated=False)
                send_welcome(user)  # the worker logs in with an SMS code, which activates the account
            created = True
        except IntegrityError:
            db.session.rollback()  # another volunteer made it a moment ago
            user = find_by_mobile(mobile)
            if user is None:
                raise
    existing = over = False
    for _attempt in range(3):
        try:
            registration = register(user, activity_id, slot_id=slot_id or None, answers=answers, entered_by=actor)
        except AlreadyRegistered as already:
            registration = db.session.get(Registration, already.registration_id)
            existing = True
        except ActivityFull as full:  # no waiting list: nothing was written
            if reason is None:
                raise ActivityFull(MSG_FULL_NEEDS_OVERRIDE) from None
            # Raise the counter that was full, the worker's unit quota included.
            quota_unit = quota_unit_of(user, activity_id) if full.counter == "quota" else None
            if not add_place_over_capacity(activity_id, slot_id or None, actor, reason, quota_node_id=quota_unit):
                raise ActivityFull(MSG_FULL_NEEDS_OVERRIDE) from None
            over = True
            continue  # the place just added is claimed by the sign-up (or, rarely, by someone faster)
        break
    else:
        raise ActivityFull(MSG_FULL_NEEDS_OVERRIDE)
    if registration.state == S.PENDING and registration.activity.mode == SignupMode.APPROVAL:
        registration, added = _approve_walk_in(registration, actor, reason)
        over = over or added
    if registration.state == S.WAITLISTED and reason is not None:
        registration = admit_over_capacity(registration.id, actor, reason)
        over = True
    checked_in, refused = False, None
    if check_in_now:
        try:
            registration = check_in(registration.id, actor)
            checked_in = True
        except (IllegalTransition, CheckInClosed) as error:  # e.g. waiting list, or not yet the day
            refused = str(MSG_FULL_NEEDS_OVERRIDE if registration.state == S.WAITLISTED else error.message)
    return WalkInResult(registration, created_account=created, existing_registration=existing,
                        checked_in=checked_in, check_in_refused=refused, over_capacity=over)


def _approve_walk_in(registration: Registration, actor: User, reason: str | None) -> tuple[Registration, bool]:
    """Approve a walk-in's application; when approval finds no place and the organiser gave a reason,
    add the place (audited, ``add_place_over_capacity``) and approve again.  True when a place was added."""
    try:
        return approve(registration.id, actor), False
    except ActivityFull as full:
        if reason is None:
            raise
        quota_unit = registration.unit_node_id if full.counter == "quota" else None
        if not add_place_over_capacity(registration.activity_id, registration.slot_id, actor, reason,
                                       quota_node_id=quota_unit):
            raise
        return approve(registration.id, actor), True


def clean_full_override_reason(reason: str | None) -> str | None:
    """None when no override is asked (blank counts as none on the walk-in form: the field is optional,
    and the refusal then says what to do); the check-in override's text rules otherwise."""
    if reason is None or not str(reason).strip():
        return None
    try:
        return clean_override_reason(reason)
    except ValidationFailed as error:
        raise ValidationFailed({"full_override_reason": error.errors.get("override_reason", [])}) from None


def quota_unit_of(user: User, activity_id: int) -> int | None:
    """The unit quota a sign-up of ``user`` would count against (None when the activity has no quotas)."""
    activity = _activity_for_signup(activity_id)
    if activity.mode != SignupMode.QUOTA:
        return None
    return _unit_for(_worker_facts(user), _activity_facts(activity), None)
