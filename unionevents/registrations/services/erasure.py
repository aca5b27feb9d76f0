"""What erasing an account does to its registrations: hooks ``accounts.privacy`` runs (handed to it by
``registrations.init_app`` at start-up).

* before the erasure transaction (``cancel_live_registrations``): live registrations are cancelled
  through ``cancel`` — places freed, waiting lists promoted, the same audit as any cancellation.  One
  past its cancellation cut-off keeps its state (the place stays taken, like a no-show);
* inside it (``anonymise_registrations``, ``erase_checkin_override_reasons``): every registration keeps its state, activity, slot and unit
  (the reports count them) but loses its answers and any check-in override reason, and gets a fresh
  ticket secret (an old QR code stops working) and ticket code.
"""
from __future__ import annotations

import secrets

from sqlalchemy import select, update

from ...accounts.models import User
from ...extensions import db
from .. import ticket_codes
from ..models import Registration
from .decisions import cancel
from .errors import CancellationClosed, IllegalTransition


def cancel_live_registrations(user: User) -> None:
    live = db.session.scalars(
        select(Registration.id).where(Registration.user_id == user.id, Registration.is_live)
        .order_by(Registration.id)
    ).all()
    db.session.rollback()  # end the read: cancel() takes the write lock itself
    for registration_id in live:
        try:
            cancel(registration_id, user)
        except (CancellationClosed, IllegalTransition):
            continue  # past the cut-off: the place stays taken, the row is anonymised below


def anonymise_registrations(user_id: int) -> None:
    for registration in db.session.scalars(select(Registration).where(Registration.user_id == user_id)):
        registration.answers = None
        registration.ticket_secret = secrets.token_urlsafe(32)
        registration.ticket_code = ticket_codes.new_code()


def erase_checkin_override_reasons(user_id: int) -> None:
    """An organiser's free-text reason for this person's check-in goes too."""
    db.session.execute(update(Registration).where(Registration.user_id == user_id,
                                                  Registration.checkin_override_reason.is_not(None))
                       .values(checkin_override_reason=None).execution_options(synchronize_session=False))
