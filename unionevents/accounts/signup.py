"""A worker's own sign-up: every field checked, then the number proven by the sign-up code.

Its own module because it joins the account services and the code service (``codes`` builds on
``services``; putting this in either would tie the two in a circle).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..core.db import write_transaction
from ..core.errors import Conflict, ValidationFailed
from .codes import verify_signup
from .models import Occupation, User
from .services import (MSG_MOBILE_TAKEN, _chosen_union, accept_privacy_notice, create_user, needs_privacy_consent,
                       signup_errors)


def register_worker(*, mobile: str, name: str, password: str, union_id: int | None,
                    occupation: Occupation, district: str | None = None,
                    member_card_no: str | None = None, accept_privacy: bool,
                    code: str) -> tuple[User, bool]:
    """Self sign-up by a worker, the mobile number proven by the sign-up code sent to it.

    Every field is checked before the code is used (a typo elsewhere does not burn it).  Returns
    ``(user, True)`` for a new account.  When the proven number already has an account (a walk-in or
    an imported worker signing up), that account is returned as ``(user, False)`` -- its owner just
    proved the number, exactly as a code login does -- and nothing else changes but the privacy notice
    they accepted on the form.
    """
    errors = signup_errors(mobile=mobile, name=name, password=password, union_id=union_id,
                           member_card_no=member_card_no, accept_privacy=accept_privacy)
    if not (code or "").strip():
        errors["code"] = [str(_l("Please enter the code we sent to your mobile number."))]
    if errors:
        raise ValidationFailed(errors)
    existing = verify_signup(mobile, code)
    if existing is not None:
        if needs_privacy_consent(existing):
            accept_privacy_notice(existing)  # they ticked the notice on this form
        return existing, False
    union = _chosen_union(union_id)
    try:
        with write_transaction():
            user = create_user(mobile, name, password, union=union, occupation=occupation, district=district,
                               member_card_no=member_card_no, accept_privacy=True)
    except IntegrityError:
        # Two sign-ups with one number at the same moment: the unique index decides.
        raise Conflict(MSG_MOBILE_TAKEN, field="mobile") from None
    return user, True
