"""Activation codes for accounts made on a worker's behalf (import, walk-in, enrolment).

Such accounts start without a password and unactivated. A random code goes to the
worker by SMS through the outbox; the database keeps only an HMAC of it (keyed with
the app's secret key and bound to the mobile number), so a leaked table does not
reveal codes and a six-digit code cannot be brute-forced offline.  After
``MAX_FAILURES`` wrong tries the code is void and a new one must be issued.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Callable

from flask import current_app, url_for
from flask_babel import force_locale, gettext, lazy_gettext as _l
from sqlalchemy import select, update

from ..core.audit import log_action
from ..core.db import write_transaction
from ..core.errors import ValidationFailed
from ..core.outbox import enqueue
from ..core.timeutil import now
from ..extensions import db
from .models import User
from .services import hash_password, normalise_mobile, password_errors

CODE_DIGITS = 6
MAX_FAILURES = 5
OUTBOX_KIND = "account.activation"

MSG_BAD_CODE = _l("The mobile number or activation code is not correct.")


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(mobile: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{mobile}:{code.strip()}".encode(), hashlib.sha256).hexdigest()


def activation_url() -> str:
    """The activation page's address; relative when no request or SERVER_NAME gives a host."""
    try:
        return url_for("accounts.activate", _external=True)
    except RuntimeError:
        return "/account/activate"


_CODE_SLOT = "\x00code\x00"


def activation_message_maker(url: str | None = None) -> Callable[[str], str]:
    """A function code → SMS text, in the site's default language (the worker has chosen none yet).

    The text is translated once, so a bulk import does not translate it per row.
    """
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        text = gettext("Your union has made you an account for union activities. Activation code: "
                       "%(code)s. Open %(url)s to set your password.", code=_CODE_SLOT,
                       url=url or activation_url())
    return lambda code: text.replace(_CODE_SLOT, code)


def activation_message(code: str, url: str | None = None) -> str:
    return activation_message_maker(url)(code)


def issue_code(user: User) -> str:
    """Give ``user`` a fresh code and queue the SMS in the caller's transaction; returns the code."""
    code = new_code()
    user.activation_code_hash = code_digest(user.mobile, code)
    user.activation_failures = 0
    db.session.flush()
    enqueue(user.id, OUTBOX_KIND, activation_message(code))
    return code


def activate_account(mobile: str, code: str, password: str, *, accept_privacy: bool = True) -> User:
    """Set the first password of an unactivated account with the code from its SMS.

    Wrong code, unknown mobile and already active account give the same message, so
    the page does not tell which mobile numbers have accounts.
    """
    mobile = normalise_mobile(mobile)
    code = (code or "").strip()
    user = db.session.scalar(select(User).where(User.mobile == mobile))
    if user is None or user.activated or not user.activation_code_hash or not code:
        raise ValidationFailed({"code": [str(MSG_BAD_CODE)]})
    if not hmac.compare_digest(user.activation_code_hash, code_digest(mobile, code)):
        _count_failure(user)
        raise ValidationFailed({"code": [str(MSG_BAD_CODE)]})
    errors = password_errors(password)
    if errors:
        raise ValidationFailed({"password": errors})
    if not accept_privacy:
        raise ValidationFailed({"accept_privacy": [str(_l("Please read and accept the privacy notice."))]})
    password_hash = hash_password(password)
    with write_transaction():
        # Read again under the write lock: a second tab may have activated (or voided) meanwhile.
        user = db.session.get(User, user.id, populate_existing=True)
        if user.activated or not user.activation_code_hash \
                or not hmac.compare_digest(user.activation_code_hash, code_digest(mobile, code)):
            raise ValidationFailed({"code": [str(MSG_BAD_CODE)]})
        user.password_hash = password_hash
        user.activated = True
        user.activation_code_hash = None
        user.activation_failures = 0
        user.session_version += 1
        user.privacy_version = current_app.config["PRIVACY_NOTICE_VERSION"]
        user.privacy_accepted_at = now()
        log_action(user.id, "user.activate", user)
    return user


def _count_failure(user: User) -> None:
    """One more wrong code; the MAX_FAILURES-th voids it (counted in SQL: parallel tries all count)."""
    user_id = user.id
    with write_transaction():
        db.session.execute(update(User).where(User.id == user_id)
                           .values(activation_failures=User.activation_failures + 1)
                           .execution_options(synchronize_session=False))
        user = db.session.get(User, user_id, populate_existing=True)
        if user.activation_failures >= MAX_FAILURES and user.activation_code_hash is not None:
            user.activation_code_hash = None  # void: an organiser must issue a new code
            log_action(None, "user.activation_voided", user)
