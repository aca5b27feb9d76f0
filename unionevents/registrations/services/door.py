"""The door kit: one verdict per scanned or typed ticket, undoing a recent check-in, and admitting a
walk-in to a full activity on an organiser's recorded override.

Every state change still goes through ``check_in`` / ``undo_check_in`` / ``_change_state``; this module
only decides what the door is told, and keeps the capacity counters exact when an organiser admits
someone over capacity (the capacity is raised by the one place given, in the same transaction).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ...accounts.models import User
from ...activities.models import Activity, TimeSlot, UnitQuota
from ...core.audit import Ref, log_action
from ...core.errors import Conflict, DomainError, NotAllowed, NotFound
from ...core.timeutil import now
from ...extensions import db
from .. import ticket_codes
from ..models import Registration, RegistrationState as S
from .checkin import (CheckInResult, UnknownTicketCode, _registration_of_activity, check_in_code,
                      check_in_ticket, refuse_guarded_undo, undo_check_in)
from .decisions import _is_organiser
from .errors import ActivityFull, IllegalTransition, _StaleState
from .own import registration_for_ticket
from .state import _change_state, _load_row
from .transactions import _in_write_transaction


class UndoTooLate(Conflict):
    code = "undo_too_late"


def undo_minutes() -> int:
    """How long after a check-in the door may undo it (``CHECKIN_UNDO_MINUTES``, 10)."""
    return int(current_app.config.get("CHECKIN_UNDO_MINUTES", 10))


def undo_door_check_in(activity_id: int, registration_id: int, actor: User) -> Registration:
    """Undo a check-in made at the door a moment ago (a wrong person, a double tap on the wrong card).

    Only someone with door rights for the activity (an organiser whose scope covers it), only within
    ``undo_minutes()`` of the check-in (judged by its ``checked_in_at``: an offline check-in recorded
    earlier may already be too old), and through ``undo_check_in`` (the audit row says who and when).
    Undoing a registration that is no longer checked in changes nothing.
    """
    registration = _registration_of_activity(activity_id, registration_id)
    if not _is_organiser(actor, registration.activity.node_id):
        raise NotAllowed(_l("You do not organise this activity."))
    if registration.state == S.ATTENDED:
        limit = undo_minutes()
        at = registration.checked_in_at
        if at is None or now() - at > timedelta(minutes=limit):
            raise UndoTooLate(_l("A check-in can be undone only within %(n)d minutes. To undo an older one, "
                                 "an organiser finds the person by name on the check-in page.", n=limit))
    refuse_guarded_undo(registration)
    return undo_check_in(registration.id, actor)


# --------------------------------------------------------------------------- scan verdicts

ADMITTED, ALREADY, REFUSED = "admitted", "already", "refused"


@dataclass
class DoorVerdict:
    """What the door shows for one ticket: green (admitted), amber (already), red (refused)."""

    outcome: str
    message: str
    name: str = ""
    registration_id: int | None = None
    code: str = ""
    http_status: int = 200
    result: CheckInResult | None = None


def _name_here(activity_id: int, text: str) -> tuple[str, int | None]:
    """The name on a refused ticket, only when it is a place of this very activity."""
    registration = registration_for_ticket(text)
    if registration is None:
        code = ticket_codes.normalise(text)
        registration = db.session.scalar(select(Registration).where(
            Registration.activity_id == activity_id, Registration.ticket_code == code)) if code else None
    if registration is None or registration.activity_id != activity_id:
        return "", None
    return registration.user.name, registration.id


def door_scan(activity_id: int, text: str | None, actor: User, *, client_id: str | None = None) -> DoorVerdict:
    """Check in what the door read — a QR token or a typed short code — and say how it went.

    The rules are ``check_in_ticket``'s (one rule set for scan, code and search); refusals become a red
    verdict with the reason instead of an error, so a scanner can show it and go on.  Raises only
    ``UnknownTicketCode`` (the view counts it against the guess limit) and NotAllowed (no door rights).
    """
    text = (text or "").strip()
    try:
        if ticket_codes.looks_like_code(text):
            result = check_in_code(activity_id, text, actor, client_id=client_id)
        else:
            result = check_in_ticket(text, actor, activity_id=activity_id, client_id=client_id)
    except (UnknownTicketCode, NotAllowed):
        raise
    except DomainError as error:
        db.session.rollback()
        name, registration_id = _name_here(activity_id, text)
        return DoorVerdict(REFUSED, str(error.message), name, registration_id, error.code, error.http_status)
    registration = result.registration
    if result.already:
        return DoorVerdict(ALREADY, str(_l("Already checked in")), registration.user.name, registration.id,
                           "already_checked_in", result=result)
    return DoorVerdict(ADMITTED, str(_l("Admitted")), registration.user.name, registration.id, "admitted",
                       result=result)


# --------------------------------------------------------------------------- over capacity

MSG_FULL_NEEDS_OVERRIDE = _l("The activity is full, so this walk-in was not admitted. To admit them anyway, an "
                             "organiser gives the reason in “Admit over capacity” and sends the form again.")


def _raise_full_counters(activity_id: int, slot_id: int | None, quota_node_id: int | None) -> list[str]:
    """Add one place to each counter that is full (activity, then slot, then quota: the lock order).

    A slot that gets a place gives the activity one too, even when the activity was not full: its
    capacity is the sum of the slots' places and every sign-up also takes an activity place, so
    otherwise the extra place would be taken from the other slots."""
    raised = []
    activity, slot = Activity.__table__, TimeSlot.__table__
    # Lock the activity row first (the lock order; every claim of a slot place holds it too), then look.
    db.session.execute(update(activity).where(activity.c.id == activity_id).values(capacity=activity.c.capacity))
    slot_full = slot_id is not None and bool(db.session.scalar(
        select(slot.c.taken >= slot.c.capacity).where(slot.c.id == slot_id)))
    activity_full = bool(db.session.scalar(
        select(activity.c.taken >= activity.c.capacity).where(activity.c.id == activity_id)))
    if activity_full or slot_full:
        db.session.execute(update(activity).where(activity.c.id == activity_id)
                           .values(capacity=activity.c.capacity + 1))
        raised.append("activity")
    if slot_full:
        db.session.execute(update(slot).where(slot.c.id == slot_id).values(capacity=slot.c.capacity + 1))
        raised.append("slot")
    if quota_node_id is not None:
        quota = UnitQuota.__table__
        if db.session.execute(update(quota).where(quota.c.activity_id == activity_id, quota.c.node_id == quota_node_id,
                                                  quota.c.used >= quota.c.quota)
                              .values(quota=quota.c.quota + 1)).rowcount:
            raised.append("quota")
    return raised


def admit_over_capacity(registration_id: int, actor: User, reason: str) -> Registration:
    """Give a waiting walk-in a place on a full activity, on the organiser's recorded reason.

    In one transaction: each full counter gets one more place, the registration goes from the waiting
    list to confirmed through ``_change_state`` (which takes that place), and an audit row
    ``activity.capacity_override`` records who, when, why and which counters grew — so ``taken`` still
    equals the places held and never exceeds the capacity.  Only an organiser of the activity.
    """
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise NotFound(_l("This registration does not exist."))
    if not _is_organiser(actor, registration.activity.node_id):
        raise NotAllowed(_l("You do not organise this activity."))
    actor_id = actor.id

    def tx():
        row = _load_row(registration_id)
        if row.state in (S.CONFIRMED, S.ATTENDED):
            return
        if row.state != S.WAITLISTED:
            raise IllegalTransition(_l("Only someone on the waiting list can be given a place."))
        raised = _raise_full_counters(row.activity_id, row.slot_id, row.quota_node_id)
        try:
            _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.promote",
                          audit={"override": "capacity"})
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now.")) from None
        log_action(actor_id, "activity.capacity_override", Ref("activity", row.activity_id),
                   registration_id=row.id, raised=raised, reason=reason)

    _in_write_transaction(tx)
    db.session.expire_all()
    return db.session.get(Registration, registration_id)


def add_place_over_capacity(activity_id: int, slot_id: int | None, actor: User, reason: str, *,
                            quota_node_id: int | None = None) -> list[str]:
    """Raise each full counter — the activity, its slot, the walk-in's unit quota (``quota_node_id``) —
    by one place for a walk-in, audited with the reason (only when a counter grew).

    Used when the walk-in has no registration to promote (no waiting list), or an application that
    approval refused for lack of a place: the sign-up or approval that follows takes the place."""
    activity = db.session.get(Activity, activity_id)
    if activity is None or not _is_organiser(actor, activity.node_id):
        raise NotAllowed(_l("You do not organise this activity."))
    raised: list[str] = []

    def tx():
        raised[:] = _raise_full_counters(activity_id, slot_id, quota_node_id)
        if raised:
            log_action(actor.id, "activity.capacity_override", Ref("activity", activity_id),
                       raised=list(raised), reason=reason)

    _in_write_transaction(tx)
    db.session.expire_all()
    return raised


__all__ = ["ADMITTED", "ALREADY", "REFUSED", "ActivityFull", "DoorVerdict", "MSG_FULL_NEEDS_OVERRIDE",
           "UndoTooLate", "add_place_over_capacity", "admit_over_capacity", "door_scan", "undo_door_check_in",
           "undo_minutes"]
