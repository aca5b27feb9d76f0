"""Check-in: the window, checking in (at the door, by ticket, offline), undoing it, no-shows."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ...accounts.models import User
from ...activities.models import Activity
from ...core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from ...core.metrics import CHECKINS
from ...core.timeutil import now
from ...core.text import NotText, clean_text
from ...core.quoting import quotable
from ...extensions import db
from .. import rules, ticket_codes
from ..models import CheckInReceipt, Registration, RegistrationState as S
from .decisions import _is_organiser
from .errors import IllegalTransition, _StaleState
from .own import registration_for_ticket
from .state import _change_state, _load_row
from .transactions import _in_write_transaction


MSG_CHECKIN_STATES = {
    S.CANCELLED: _l("This registration has been cancelled; it cannot be checked in."),
    S.WAITLISTED: _l("This worker is still on the waiting list and has no place; they cannot be checked in."),
    S.PENDING: _l("This application has not been accepted yet; it cannot be checked in."),
    S.REJECTED: _l("This application was rejected; it cannot be checked in."),
    S.NOT_DRAWN: _l("This worker was not drawn in the lottery; they cannot be checked in."),
}


class CheckInClosed(Conflict):
    """A check-in outside the check-in window (``code``: checkin_not_open or checkin_closed)."""
    code = "checkin_closed"

    def __init__(self, code: str, message, window: rules.CheckInWindow):
        super().__init__(message)
        self.code = code
        self.window = window


#: How far ahead of the server's clock a phone's recorded check-in time may be (clock skew).
RECORDED_CLOCK_SKEW = timedelta(minutes=5)


def checkin_window(starts_at: datetime, ends_at: datetime, slot: bool) -> rules.CheckInWindow:
    """The check-in window of an activity, or of a slot ticket, with the configured margins."""
    config = current_app.config
    return rules.checkin_window(
        starts_at, ends_at, slot=slot,
        opens_before=timedelta(minutes=config.get("CHECKIN_OPENS_BEFORE_MINUTES", 120)),
        slot_early=timedelta(minutes=config.get("CHECKIN_SLOT_EARLY_MINUTES", 30)),
        grace=timedelta(minutes=config.get("CHECKIN_GRACE_AFTER_END_MINUTES", 0)))


def registration_checkin_window(registration: Registration) -> rules.CheckInWindow:
    slot = registration.slot
    if slot is not None:
        return checkin_window(slot.starts_at, slot.ends_at, True)
    return checkin_window(registration.activity.starts_at, registration.activity.ends_at, False)


def checkin_refusal(registration: Registration, at: datetime | None = None):
    """The message refusing a check-in of ``registration`` now (or at ``at``), or None (for pages)."""
    refusal = rules.checkin_refusal(registration_checkin_window(registration), at or now())
    return refusal[1] if refusal else None


def clean_override_reason(reason: str | None) -> str | None:
    """None: no override asked.  A blank reason is refused: an override must say why."""
    if reason is None:
        return None
    try:  # the text rule every form and API field follows (the door page's sync sends raw JSON)
        reason = clean_text(str(reason))
    except NotText as error:
        raise ValidationFailed({"override_reason": [str(error.message)]}) from None
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed({"override_reason": [str(_l(
            "Please give the reason for checking in outside the check-in time."))]})
    if len(reason) > rules.OVERRIDE_REASON_MAX:
        raise ValidationFailed({"override_reason": [str(_l(
            "The reason may have at most %(n)d characters.", n=rules.OVERRIDE_REASON_MAX))]})
    return reason


def _checked_in_time(recorded_at: datetime | None) -> datetime:
    """When the check-in happened: now, or the time an offline phone recorded (checked here)."""
    current = now()
    if recorded_at is None:
        return current
    if recorded_at.tzinfo is not None:
        from datetime import timezone

        recorded_at = recorded_at.astimezone(timezone.utc).replace(tzinfo=None)
    if recorded_at > current + RECORDED_CLOCK_SKEW:
        raise ValidationFailed({"recorded_at": [str(_l(
            "The recorded time lies in the future. Please check the phone's clock."))]})
    max_age = timedelta(hours=current_app.config.get("CHECKIN_RECORDED_MAX_AGE_HOURS", 24))
    if recorded_at < current - max_age:
        raise ValidationFailed({"recorded_at": [str(_l(
            "This check-in was recorded more than %(n)d hours ago; please check the person in with a "
            "reason instead.", n=int(max_age.total_seconds() // 3600)))]})
    return min(recorded_at, current)


def check_in(registration_id: int, actor: User | None, *, override_reason: str | None = None,
             recorded_at: datetime | None = None, after_the_end: bool = False) -> Registration:
    """Mark a confirmed (or no-show) registration as attended.  Checking in twice changes nothing.

    Only inside the check-in window (``rules.checkin_window``; a slot ticket: its slot's), judged at
    ``recorded_at`` when an offline phone recorded the check-in earlier, else now.  Outside it an
    organiser may still check in with ``override_reason`` (stored on the registration; the audit row
    says ``override``).  ``after_the_end``: the roster copying a paper sign-in sheet after the event,
    so only the window's opening applies.  Raises CheckInClosed, IllegalTransition, ValidationFailed.
    """
    return _check_in(registration_id, actor, override_reason=override_reason, recorded_at=recorded_at,
                     after_the_end=after_the_end).registration


def _check_in(registration_id: int, actor: User | None, *, override_reason: str | None = None,
              recorded_at: datetime | None = None, after_the_end: bool = False,
              client_id: str | None = None) -> CheckInResult:
    """``check_in``, telling whether this call made the check-in (``already`` if not).  With
    ``client_id``, the scanning device's receipt is recorded in the same transaction, so a check-in
    and its receipt commit together (a second request with that id raises IntegrityError)."""
    actor_id = actor.id if actor is not None else None
    reason = clean_override_reason(override_reason)
    at = _checked_in_time(recorded_at)

    made = []  # one check-in made (not a repeat); counted once it has committed

    def tx():
        made.clear()
        change()
        if client_id is not None:  # after the locks, taken in the usual order: no deadlock with a scan
            db.session.add(CheckInReceipt(client_id=client_id, registration_id=registration_id,
                                          actor_id=actor_id))

    def change():
        for _attempt in range(3):
            row = _load_row(registration_id)
            if row.state == S.ATTENDED:
                return
            if row.state not in (S.CONFIRMED, S.NO_SHOW):
                raise IllegalTransition(MSG_CHECKIN_STATES.get(row.state, rules.STATE_EXPLANATIONS[row.state]))
            window = checkin_window(row.starts_at, row.ends_at, row.slot_id is not None)
            refusal = rules.checkin_refusal(window, at)
            if refusal is not None and after_the_end and refusal[0] == "checkin_closed":
                refusal = None
            if refusal is not None and reason is None:
                raise CheckInClosed(refusal[0], refusal[1], window)
            override = refusal is not None
            audit = {"override": True} if override else {}
            if recorded_at is not None:
                audit["recorded_offline"] = True
            try:
                _change_state(row, S.ATTENDED, actor_id=actor_id, action="registration.check_in",
                              checked_in_at=at, checkin_override_reason=reason if override else None,
                              checked_in_by_id=actor_id, audit=audit)
                made.append(override)
                return
            except _StaleState:
                continue
        raise IllegalTransition(_l("This registration was changed by someone else just now."))

    _in_write_transaction(tx)
    if made:
        CHECKINS.labels("offline" if recorded_at is not None else "online", "true" if made[0] else "false").inc()
    return CheckInResult(db.session.get(Registration, registration_id), already=not made)


def check_in_donor(registration_id: int, actor_id: int | None) -> bool:
    """Inside the caller's write transaction: a worker who hands over books at a swap's desk has
    taken part, so a confirmed registration becomes attended (no window: the desk saw them).  Any
    other state is left alone (the caller refuses donations without a place).  True if checked in.
    """
    row = _load_row(registration_id)
    if row.state != S.CONFIRMED:
        return False
    try:
        _change_state(row, S.ATTENDED, actor_id=actor_id, action="registration.check_in",
                      checked_in_at=now(), checked_in_by_id=actor_id, audit={"by_donation": True})
    except _StaleState:
        raise IllegalTransition(_l("This registration was changed by someone else just now.")) from None
    return True


def undo_check_in(registration_id: int, actor: User | None) -> Registration:
    """Put an attended registration back to confirmed (a check-in made by mistake)."""
    actor_id = actor.id if actor is not None else None

    def tx():
        row = _load_row(registration_id)
        if row.state == S.CONFIRMED:
            return
        if row.state != S.ATTENDED:
            raise IllegalTransition(_l("Only a checked-in registration can have its check-in undone."))
        try:
            _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.undo_check_in",
                          checked_in_at=None, checkin_override_reason=None, checked_in_by_id=None)
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now.")) from None

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)


def mark_no_show(registration_id: int, actor: User | None) -> Registration:
    """A confirmed worker did not come (frees the place; nobody is promoted once it has begun)."""
    actor_id = actor.id if actor is not None else None

    def tx():
        row = _load_row(registration_id)
        if row.state == S.NO_SHOW:
            return
        try:
            _change_state(row, S.NO_SHOW, actor_id=actor_id, action="registration.no_show")
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now.")) from None

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)


class WrongActivity(Conflict):
    code = "wrong_activity"
    default_message = _l("This ticket is for another activity; it cannot be checked in here.")


class UnknownTicket(NotFound):
    code = "unknown_ticket"
    default_message = _l("This ticket code is not known. Please check it, or search by name.")


@dataclass
class CheckInResult:
    registration: Registration
    already: bool  # it had been checked in before this request
    replay: bool = False  # answered from an earlier request with the same client id


def _registration_of_activity(activity_id: int, registration_id) -> Registration:
    registration = db.session.get(Registration, registration_id, options=[joinedload(Registration.user)]) \
        if isinstance(registration_id, int) and not isinstance(registration_id, bool) else None
    if registration is None or registration.activity_id != activity_id:
        raise NotFound(_l("This registration does not exist."))
    return registration


def check_in_registration(activity_id: int, registration_id: int, actor: User, *,
                          override_reason: str | None = None) -> CheckInResult:
    """Door check-in of one registration found by search; it must belong to ``activity_id``."""
    registration = _registration_of_activity(activity_id, registration_id)
    return _check_in(registration.id, actor, override_reason=override_reason)


class UndoRefused(Conflict):
    code = "undo_refused"


def refuse_guarded_undo(registration: Registration) -> None:
    """Raise UndoRefused when another domain's records rest on this check-in (``undo_guards``)."""
    from ..undo_guards import undo_refusal

    if registration.state == S.ATTENDED:
        message = undo_refusal(registration)
        if message is not None:
            raise UndoRefused(message)


def undo_check_in_registration(activity_id: int, registration_id: int, actor: User) -> Registration:
    """The organiser's undo from the door's name search (no time limit; guarded check-ins refused)."""
    registration = _registration_of_activity(activity_id, registration_id)
    refuse_guarded_undo(registration)
    return undo_check_in(registration.id, actor)


def ticket_digest(token: str) -> str:
    """SHA-256 of a ticket token: what an offline scanner caches instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_in_ticket(token: str | None, actor: User, *, activity_id: int | None = None,
                    client_id: str | None = None, override_reason: str | None = None,
                    recorded_at: datetime | None = None) -> CheckInResult:
    """Check in the registration a scanned ticket names.

    ``activity_id``: the activity being checked in at the door (a ticket of another one is refused).
    ``client_id``: a UUID the scanning device made for this request; sending it again returns the
    first answer and changes nothing (even if the check-in was undone since).  Two devices checking
    the same ticket in at once make one check-in: ``check_in`` changes only a row still confirmed.
    ``override_reason`` and ``recorded_at``: see ``check_in`` (the check-in window).
    """
    # Authorise first, a replay exactly like a new request: a client id is no credential, so sending
    # someone else's again must not return their attendee (issue 14, defect 8).
    registration = registration_for_ticket(token)
    if registration is None:
        raise UnknownTicket()
    organiser = _is_organiser(actor, registration.activity.node_id)
    if activity_id is not None and registration.activity_id != activity_id:
        if organiser:
            raise WrongActivity(_l("This ticket is for another activity: “%(title)s”. It cannot be "
                                   "checked in here.", title=quotable(registration.activity.title)))
        raise WrongActivity()
    if not organiser:
        raise NotAllowed(_l("You do not organise the activity this ticket is for."))
    replay = _replayed_check_in(client_id, registration)
    if replay is not None:
        return replay
    try:
        return _check_in(registration.id, actor, override_reason=override_reason, recorded_at=recorded_at,
                         client_id=client_id)
    except IntegrityError:
        # The same request arrived twice at once and the other one committed first: this one's
        # check-in and receipt were rolled back together; answer as the replay it is.
        replay = _replayed_check_in(client_id, db.session.get(Registration, registration.id))
        if replay is None:
            raise
        return replay


def _replayed_check_in(client_id: str | None, registration: Registration) -> CheckInResult | None:
    """The answer to a request whose ``client_id`` was seen before, or None for a new one."""
    if client_id is None:
        return None
    receipt = db.session.scalar(select(CheckInReceipt).where(CheckInReceipt.client_id == client_id))
    if receipt is None:
        return None
    if receipt.registration_id != registration.id:
        raise Conflict(_l("This request id was already used for another ticket."), field="client_id")
    return CheckInResult(registration, already=True, replay=True)


class UnknownTicketCode(UnknownTicket):
    """A typed short code that names no place in this activity: what the door's guess limit counts."""


def check_in_code(activity_id: int, code: str | None, actor: User, *, client_id: str | None = None,
                  override_reason: str | None = None, recorded_at: datetime | None = None) -> CheckInResult:
    """Check in the place whose short ticket code (``ticket_codes``) was typed at the door of ``activity_id``.

    Only an organiser of the activity may look a code up, asked before the code is (anyone else learns
    nothing about which codes exist).  Everything after the look-up — the check-in window, the
    override, a replayed ``client_id`` — is ``check_in_ticket``'s, reached with the place's own token:
    one rule set for a scan and a typed code.  Raises UnknownTicketCode (404) for a code that names
    no place here, whatever its shape.
    """
    activity = db.session.get(Activity, activity_id) \
        if isinstance(activity_id, int) and not isinstance(activity_id, bool) else None
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    if not _is_organiser(actor, activity.node_id):
        raise NotAllowed(_l("You do not organise this activity."))
    normalised = ticket_codes.normalise(code)
    token = db.session.scalar(select(Registration.ticket_secret).where(
        Registration.activity_id == activity.id, Registration.ticket_code == normalised)) if normalised else None
    if token is None:
        raise UnknownTicketCode()
    return check_in_ticket(token, actor, activity_id=activity.id, client_id=client_id,
                           override_reason=override_reason, recorded_at=recorded_at)


def check_in_offline(activity_id: int, actor: User, *, client_id: str, registration_id: int | None = None,
                     token: str | None = None, recorded_at: datetime | None = None,
                     override_reason: str | None = None) -> CheckInResult:
    """A check-in the door page recorded while offline, sent when the network returned.

    The phone's cached roster holds no ticket codes (only their digests), so a person found by name is
    sent as ``registration_id``; the ticket code is looked up here and the check-in goes through
    ``check_in_ticket`` — the same idempotent path as ``POST /api/v1/checkins``: the same ``client_id``
    twice is one check-in.  ``recorded_at``: when the phone recorded it; the check-in window is judged
    at that time (an offline check-in made at the door is not refused for arriving after the end).
    """
    if registration_id is not None:
        registration = _registration_of_activity(activity_id, registration_id)
        token = registration.ticket_secret
    return check_in_ticket(token, actor, activity_id=activity_id, client_id=client_id, recorded_at=recorded_at,
                           override_reason=override_reason)
