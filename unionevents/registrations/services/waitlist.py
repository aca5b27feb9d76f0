"""The waiting list: its order, a worker's position, and promotion when a place frees up."""
from __future__ import annotations

import functools
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, and_, bindparam, func, or_, select

from ...accounts.models import User
from ...activities.models import Activity
from ...core.outbox import Priority
from ...core.timeutil import now
from ...extensions import db
from .. import rules
from ..models import Registration, RegistrationState as S
from .errors import ActivityFull, IllegalTransition, _StaleState
from .notices import _send, accept_path
from .state import _change_state, _load_row, _lock_activity_row, _reg_rows
from .transactions import _in_write_transaction

#: How many waiting-list entries one freed place looks at before giving up.
PROMOTION_SCAN_LIMIT = 200


def _position(row_id: int, activity_id: int, slot_id: int | None) -> int:
    return waitlist_position_by_id(row_id, activity_id, slot_id) or 0


def _promote(activity_id: int, slot_id: int | None, actor_id: int | None) -> int | None:
    """Offer a freed place to the first in line who can still take it; the id offered, or None.

    Order: lottery rank (unranked last), then first come, then id.  A candidate who is no longer
    waiting, or whose unit's quota is used up, is skipped; a full activity or slot ends the search.

    The place is *offered*: the registration is confirmed (so the place is held and counted like
    any other: it cannot be sold twice) with ``offer_expires_at`` set; the worker accepts with one
    tap (``offers.accept_offer``) or the place passes to the next in line when the deadline comes
    (``offers.expire_offers``).  The deadline is the activity's ``offer_hours``, shortened near the
    start (``rules.offer_deadline``).
    """
    where = [Registration.activity_id == activity_id, Registration.state == S.WAITLISTED]
    if slot_id is not None:
        where.append(Registration.slot_id == slot_id)
    candidates = _reg_rows(*where, order_by=(Registration.queue_rank.asc().nulls_last(),
                                             Registration.created_at, Registration.id),
                           limit=PROMOTION_SCAN_LIMIT)
    offer_hours = None
    for row in candidates:
        if offer_hours is None:
            offer_hours = db.session.scalar(select(Activity.offer_hours).where(Activity.id == activity_id))
        at = now()
        deadline = rules.offer_deadline(at, row.starts_at, offer_hours)
        try:
            _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.offer",
                          offer_expires_at=deadline)
        except _StaleState:
            continue
        except ActivityFull as full:
            if full.counter == "quota":
                continue
            return None
        _send("offered", row.user_id, row.locale, row.title, row.starts_at, activity_id=activity_id,
              priority=Priority.TIMELY, deadline=rules.local_time(deadline)[5:], accept=accept_path(row.id))
        return row.id
    return None


def fill_free_places(activity_id: int, actor_id: int | None) -> list[int]:
    """Promote from the waiting list until the free places are used; call inside a write transaction.

    For a capacity raised by the organiser: everyone who now fits moves up, in waiting-list order.
    """
    _lock_activity_row(activity_id=activity_id)
    promoted: list[int] = []
    while (registration_id := _promote(activity_id, None, actor_id)) is not None:
        promoted.append(registration_id)
    return promoted


def waitlist_length(activity_id: int, slot_id: int | None = None) -> int:
    where = [Registration.activity_id == activity_id, Registration.state == S.WAITLISTED]
    if slot_id is not None:
        where.append(Registration.slot_id == slot_id)
    return db.session.scalar(select(func.count(Registration.id)).where(*where)) or 0


def waitlist_position_by_id(registration_id: int, activity_id: int, slot_id: int | None) -> int | None:
    """1 + the number of waitlisted registrations ahead in the order of ``rules.waitlist_sort_key``.

    Two indexed statements whatever the queue's length: the sign-up rush calls this for every
    waitlisted worker, so the queue is never read into Python.
    """
    me = db.session.execute(
        select(Registration.queue_rank, Registration.created_at, Registration.state)
        .where(Registration.id == registration_id)
    ).first()
    if me is None or me.state != S.WAITLISTED:
        return None
    return _place_in_queue(registration_id, activity_id, slot_id, me.queue_rank, me.created_at)


def _place_in_queue(registration_id: int, activity_id: int, slot_id: int | None,
                    queue_rank: int | None, created_at: datetime) -> int:
    """One indexed COUNT of those ahead of a waitlisted registration whose sort key is known."""
    stmt = _queue_ahead_statement(ranked=queue_rank is not None, slotted=slot_id is not None)
    params = {"activity_id": activity_id, "registration_id": registration_id, "created_at": created_at,
              "queue_rank": queue_rank, "slot_id": slot_id}
    return (db.session.scalar(stmt, params) or 0) + 1


@functools.cache
def _queue_ahead_statement(ranked: bool, slotted: bool):
    """Built once per shape, values bound per call; over the table (Core): it loads no objects
    (docs/performance.md, "Why the code is shaped this way")."""
    R = Registration.__table__.c
    created_at, rank = bindparam("created_at", type_=R.created_at.type), bindparam("queue_rank", type_=Integer)
    same_rank_earlier = or_(R.created_at < created_at,
                            and_(R.created_at == created_at, R.id < bindparam("registration_id")))
    if not ranked:  # ranked entries come first, then unranked by arrival
        ahead = or_(R.queue_rank.is_not(None), and_(R.queue_rank.is_(None), same_rank_earlier))
    else:
        ahead = and_(R.queue_rank.is_not(None),
                     or_(R.queue_rank < rank, and_(R.queue_rank == rank, same_rank_earlier)))
    where = [R.activity_id == bindparam("activity_id"), R.state == S.WAITLISTED, ahead]
    if slotted:
        where.append(R.slot_id == bindparam("slot_id"))
    return select(func.count(R.id)).where(*where)


def waitlist_position(registration: Registration) -> int | None:
    """1 for the first in line (within the slot for slotted activities); None when not waiting."""
    if registration.state != S.WAITLISTED:
        return None
    return waitlist_position_by_id(registration.id, registration.activity_id, registration.slot_id)


def promote(registration_id: int, actor: User) -> Registration:
    """An organiser gives a place to this person on the waiting list (not necessarily the first in
    line); refused with ActivityFull when no place is free."""
    actor_id = actor.id if actor is not None else None

    def tx():
        row = _load_row(registration_id)
        if row.state != S.WAITLISTED:
            raise IllegalTransition(_l("Only someone on the waiting list can be given a place."))
        try:
            _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.promote")
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now.")) from None
        except ActivityFull as full:
            raise ActivityFull(_l("No place is free. Raise the number of places or cancel a registration "
                                  "first."), counter=full.counter) from None
        _send("promoted", row.user_id, row.locale, row.title, row.starts_at, activity_id=row.activity_id,
              registration_id=row.id)

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)
