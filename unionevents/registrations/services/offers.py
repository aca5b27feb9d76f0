"""Waiting-list offers that expire: accepting one, and passing the unanswered ones on.

An offer is a confirmed registration with ``offer_expires_at`` set (made by ``waitlist._promote``):
the place is held by the ordinary place counters, so it is never sold twice on either engine.
Accepting clears the deadline (the state does not change: it already holds the place).  When the
deadline passes, ``expire_offers`` cancels the registration through ``_change_state`` — the place
is released — and offers it to the next in line in the same transaction, so no sign-up can slip in
between.  Declining is the ordinary cancel (the "release my place" link).
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ...accounts.models import User
from ...core.audit import Ref, log_action
from ...activities.models import Activity
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...core.outbox import Priority
from ...core.timeutil import now
from ...extensions import db
from ..models import Registration, RegistrationState as S
from .errors import _StaleState
from .notices import _send
from .state import _change_state, _load_row
from .transactions import _in_write_transaction
from .waitlist import _promote

#: How many expired offers one run passes on at most (each in its own short transaction).
EXPIRE_BATCH = 500

MSG_NO_OFFER = _l("There is no open offer on this registration.")
MSG_OFFER_EXPIRED = _l("This offer has run out and passed to the next in line.")


def open_offer(registration: Registration) -> datetime | None:
    """The deadline of the registration's open offer, or None."""
    if registration.state != S.CONFIRMED or registration.offer_expires_at is None:
        return None
    return registration.offer_expires_at


def accept_offer(registration_id: int, user: User) -> Registration:
    """The worker takes the place offered to them (their own registration only: 404 otherwise).

    Conflict when there is no open offer (already accepted, cancelled) or its deadline has passed
    (it is passed on at once then, rather than waiting for the next run of the job)."""
    current = db.session.get(Registration, registration_id)
    if current is None or user is None or current.user_id != user.id:
        raise NotFound(_l("This registration does not exist."))

    def tx():
        row = _load_row(registration_id)
        expires_at = db.session.scalar(select(Registration.offer_expires_at)
                                       .where(Registration.id == registration_id))
        if row.state != S.CONFIRMED or expires_at is None:
            raise Conflict(MSG_NO_OFFER)
        if expires_at <= now():
            return "expired"
        done = db.session.execute(
            update(Registration).where(Registration.id == registration_id, Registration.state == S.CONFIRMED,
                                       Registration.offer_expires_at.is_not(None))
            .values(offer_expires_at=None, updated_at=now()).execution_options(synchronize_session=False)).rowcount
        if done != 1:
            raise Conflict(MSG_NO_OFFER)
        log_action(user.id, "registration.offer_accept", Ref("registration", row.id), activity_id=row.activity_id)
        _send("offer_accepted", row.user_id, row.locale, row.title, row.starts_at, activity_id=row.activity_id,
              registration_id=row.id)
        return "accepted"

    if _in_write_transaction(tx) == "expired":
        _in_write_transaction(_expire_one, registration_id, now())
        raise Conflict(MSG_OFFER_EXPIRED)
    registration = db.session.get(Registration, registration_id, populate_existing=True)
    return registration


def _expire_one(registration_id: int, at: datetime) -> bool:
    """Inside a write transaction: pass one expired offer on.  False when it was no longer open."""
    row = _load_row(registration_id)
    expires_at = db.session.scalar(select(Registration.offer_expires_at).where(Registration.id == registration_id))
    if row.state != S.CONFIRMED or expires_at is None or expires_at > at:
        return False
    try:
        _change_state(row, S.CANCELLED, actor_id=None, action="registration.offer_expire", offer_expires_at=None)
    except _StaleState:
        return False
    _send("offer_expired", row.user_id, row.locale, row.title, row.starts_at, activity_id=row.activity_id,
          priority=Priority.TIMELY)
    if at < row.activity_starts_at:
        _promote(row.activity_id, row.slot_id, None)
    return True


def expire_offers(at: datetime | None = None, limit: int = EXPIRE_BATCH) -> int:
    """Pass every offer whose deadline has come to the next in line; returns how many expired.

    Run by ``flask notifications expire-offers`` (a timer every minute).  Each offer is one short
    transaction (the activity locked, as every change of its places); two runs at once skip what
    the other already did (``_change_state`` refuses a row no longer in the state read)."""
    at = at or now()
    due = list(db.session.scalars(
        select(Registration.id).where(Registration.offer_expires_at <= at, Registration.state == S.CONFIRMED)
        .order_by(Registration.offer_expires_at, Registration.id).limit(limit)))
    db.session.rollback()  # end the read before the writes (SQLite: BEGIN IMMEDIATE next)
    expired = 0
    for registration_id in due:
        if _in_write_transaction(_expire_one, registration_id, at):
            expired += 1
    return expired


MAX_OFFER_HOURS = 168


def set_offer_hours(actor: User, activity_id: int, hours: int) -> int:
    """The organiser (the caller checked they organise the activity) sets how long an offer from
    the waiting list waits for an answer; offers already made keep their deadline.  Audited."""
    if not isinstance(hours, int) or not 1 <= hours <= MAX_OFFER_HOURS:
        raise ValidationFailed({"offer_hours": [str(_l("Give whole hours between 1 and %(max)d.",
                                                       max=MAX_OFFER_HOURS))]})
    with write_transaction():
        db.session.execute(update(Activity).where(Activity.id == activity_id).values(offer_hours=hours)
                           .execution_options(synchronize_session=False))
        log_action(actor.id, "activity.offer_hours", Ref("activity", activity_id), hours=hours)
    return hours
