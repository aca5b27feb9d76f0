"""What erasing an account does to its registrations: hooks ``accounts.privacy`` runs."""
from __future__ import annotations

from sqlalchemy import update

from ...accounts.privacy import register_erasure_hook
from ...extensions import db
from ..models import Registration


@register_erasure_hook
def _erase_checkin_override_reasons(user_id: int) -> None:
    """An organiser's free-text reason for this person's check-in goes too."""
    db.session.execute(update(Registration).where(Registration.user_id == user_id,
                                                  Registration.checkin_override_reason.is_not(None))
                       .values(checkin_override_reason=None).execution_options(synchronize_session=False))
