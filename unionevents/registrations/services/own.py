"""A worker's own registrations and tickets (read only)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ...accounts.models import User
from ...core.errors import NotFound
from ...extensions import db
from ..models import Registration

#: Length of a ticket secret from ``secrets.token_urlsafe(32)``.
TICKET_LENGTH = 43


def my_registrations(user: User) -> list[Registration]:
    stmt = (select(Registration).where(Registration.user_id == user.id)
            .options(joinedload(Registration.activity), joinedload(Registration.slot))
            .order_by(Registration.created_at.desc(), Registration.id.desc()))
    return list(db.session.scalars(stmt))


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
