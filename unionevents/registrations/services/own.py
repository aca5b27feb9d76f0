"""A worker's own registrations and tickets (read only)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import contains_eager, joinedload

from ...accounts.models import User
from ...activities.models import Activity, TimeSlot
from ...core.errors import NotFound
from ...core.timeutil import now
from ...extensions import db
from ..models import Registration

#: Length of a ticket secret from ``secrets.token_urlsafe(32)``.
TICKET_LENGTH = 43


def _times():
    """When a registration's part starts and ends: its time slot's, else the activity's (SQL)."""
    return (func.coalesce(TimeSlot.starts_at, Activity.starts_at), func.coalesce(TimeSlot.ends_at, Activity.ends_at))


def my_registrations(user: User) -> list[Registration]:
    """The worker's registrations by when things happen: upcoming ones (not ended) soonest first, then
    past ones, latest first.  A time-slot registration goes by its slot.  HTML and API list this order."""
    starts, ends = _times()
    current = now()
    past = case((ends < current, 1), else_=0)
    stmt = (select(Registration).join(Registration.activity).outerjoin(Registration.slot)
            .where(Registration.user_id == user.id)
            .options(contains_eager(Registration.activity), contains_eager(Registration.slot))
            .order_by(past, case((ends >= current, starts)), starts.desc(), Registration.id.desc()))
    return list(db.session.scalars(stmt))


def is_upcoming(registration: Registration, at: datetime) -> bool:
    """Not ended yet at ``at`` (its time slot's end when it has one): the split ``my_registrations`` sorts by."""
    slot = registration.slot
    return (slot.ends_at if slot is not None else registration.activity.ends_at) >= at


def get_own_registration(user: User, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id, options=[
        joinedload(Registration.activity), joinedload(Registration.slot)]) \
        if isinstance(registration_id, int) else None
    if registration is None or user is None or registration.user_id != getattr(user, "id", None):
        raise NotFound(_l("This registration does not exist."))
    return registration


def ticket_token(registration: Registration) -> str:
    """The secret a ticket's QR code carries; it identifies the registration and nothing else."""
    return registration.ticket_secret


def registration_for_ticket(token: str | None) -> Registration | None:
    if not isinstance(token, str) or len(token.strip()) != TICKET_LENGTH:
        return None
    return db.session.scalar(select(Registration).where(Registration.ticket_secret == token.strip())
                             .options(joinedload(Registration.activity), joinedload(Registration.user)))
