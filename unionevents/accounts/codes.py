"""One-time SMS codes: log in, verify a mobile number at sign-up, reset a password.

One service for every code (README "SMS codes", decisions.md):

* A code is 6 random digits, sent through the outbox at ``Priority.CODE`` (before any other message).
  The database keeps only an HMAC of it, keyed with the app's secret key and bound to the purpose and
  the mobile number, so a leaked table reveals no code and a code cannot be brute-forced offline.
* It works once, for ``CODE_TTL`` (5 minutes), for the purpose it was sent for; only the newest code
  of a number and purpose counts (asking again replaces the old one).  ``MAX_FAILURES`` (5) wrong
  tries kill it.  Wrong codes also count as guesses at the account, in the same per-account budget as
  wrong passwords (throttle.counted), across every login endpoint.
* Sends are limited per mobile number (one per ``SMS_CODE_RESEND_SECONDS``, ``SMS_CODE_MOBILE_DAILY_LIMIT``
  in any 24 hours) and per client address (``SMS_CODE_ADDRESS_DAILY_LIMIT``); a refused send raises
  ``CodeRateLimited`` (429).
* Nothing says whether a number has an account.  Every accepted request writes a code row, so the
  limits and the answers are the same for every number; a login or reset code for a number without
  an account is recorded but not queued (nobody is texted, nobody can use it), while a sign-up code
  is always sent (to the number itself: only its owner learns anything from it).

Accounts made on a worker's behalf (import, walk-in, enrolment) start without a password; the
worker gets a welcome SMS (no code: it would be stale by the time it is read) and logs in with a code
like everyone; the first code login activates the account.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app, url_for
from flask_babel import force_locale, gettext, lazy_gettext as _l
from sqlalchemy import delete, func, select, text, update

from ..core.audit import log_action
from ..core.db import is_sqlite, write_transaction
from ..core.errors import DomainError, ValidationFailed
from ..core.outbox import Priority, enqueue
from ..core.retention import retention_job
from ..core.timeutil import now
from ..extensions import db
from .models import CodePurpose, SmsCode, User
from .services import (find_by_mobile, hash_password, mobile_error, normalise_mobile, password_errors,
                       revoke_all_tokens)

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
MAX_FAILURES = 5
#: The window of the daily caps (rolling), and how long code rows are kept.
DAY = timedelta(hours=24)

#: Outbox kinds: the welcome SMS for accounts made on a worker's behalf, and one per code purpose.
OUTBOX_KIND = "account.activation"
CODE_KINDS = {CodePurpose.LOGIN: "code.login", CodePurpose.SIGNUP: "code.signup",
              CodePurpose.RESET: "code.reset"}

MSG_BAD_CODE = _l("The code is not correct or has expired. Please check it or ask for a new one.")


class CodeRateLimited(DomainError):
    """Too many codes asked for: this number's resend interval or daily cap, or this address's cap."""

    http_status = 429
    code = "too_many_codes"

    def __init__(self, message, retry_after: int):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = max(1, int(retry_after))


# --------------------------------------------------------------------------- digests


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(purpose: CodePurpose, mobile: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose.value}:{mobile}:{code.strip()}".encode(), hashlib.sha256).hexdigest()


def client_digest(address: str | None) -> str:
    """The per-address cap counts by a keyed digest of the address: the table holds no IP addresses."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"client:{address or '-'}".encode(), hashlib.sha256).hexdigest()[:32]


# --------------------------------------------------------------------------- messages


def login_url() -> str:
    """The code-login page's address; relative when no request or SERVER_NAME gives a host."""
    try:
        return url_for("accounts.code_login", _external=True)
    except RuntimeError:
        return "/account/login/code"


def _in_site_language(render: Callable[[], str]) -> str:
    """SMS text in the site's default language (the recipient may have chosen none)."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return render()


def code_message(purpose: CodePurpose, code: str) -> str:
    minutes = int(CODE_TTL.total_seconds() // 60)
    if purpose is CodePurpose.SIGNUP:
        return _in_site_language(lambda: gettext(
            "Your code to sign up for union activities is %(code)s (valid for %(minutes)d minutes). "
            "Do not tell it to anyone.", code=code, minutes=minutes))
    if purpose is CodePurpose.RESET:
        return _in_site_language(lambda: gettext(
            "Your code to reset your password for union activities is %(code)s (valid for %(minutes)d "
            "minutes). Do not tell it to anyone.", code=code, minutes=minutes))
    return _in_site_language(lambda: gettext(
        "Your login code for union activities is %(code)s (valid for %(minutes)d minutes). "
        "Do not tell it to anyone.", code=code, minutes=minutes))


def welcome_message(url: str | None = None) -> str:
    """The SMS to a worker whose union made the account: where and how to log in (no code in it)."""
    return _in_site_language(lambda: gettext(
        "Your union has made you an account for union activities. Log in at %(url)s with your mobile "
        "number and a code sent to it by SMS.", url=url or login_url()))


def send_welcome(user: User) -> None:
    """Queue the welcome SMS in the caller's transaction (walk-ins, enrolment; imports queue in bulk)."""
    enqueue(user.id, OUTBOX_KIND, welcome_message())


# --------------------------------------------------------------------------- sending


def _lock_number(mobile: str) -> None:
    """Serialise sends to one number (SQLite: the write transaction's BEGIN IMMEDIATE already does)."""
    if not is_sqlite():
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"sms:{mobile}"})


def _retry_after(until: datetime, at: datetime) -> int:
    return max(1, math.ceil((until - at).total_seconds()))


def _check_limits(mobile: str, client: str, at: datetime) -> None:
    config = current_app.config
    resend = timedelta(seconds=int(config["SMS_CODE_RESEND_SECONDS"]))
    last = db.session.scalar(select(func.max(SmsCode.sent_at)).where(SmsCode.mobile == mobile))
    if last is not None and at - last < resend:
        raise CodeRateLimited(_l("A code was sent to this number a moment ago. Please wait %(seconds)d "
                                 "seconds before asking for another.",
                                 seconds=_retry_after(last + resend, at)), _retry_after(last + resend, at))
    since = at - DAY
    for column, value, cap, message in (
        (SmsCode.mobile, mobile, config["SMS_CODE_MOBILE_DAILY_LIMIT"],
         _l("Too many codes have been asked for this number today. Please try again tomorrow.")),
        (SmsCode.client, client, config["SMS_CODE_ADDRESS_DAILY_LIMIT"],
         _l("Too many codes have been asked for from this network today. Please try again later.")),
    ):
        count, oldest = db.session.execute(
            select(func.count(), func.min(SmsCode.sent_at)).where(column == value, SmsCode.sent_at > since)
        ).one()
        if count >= int(cap):
            raise CodeRateLimited(message, _retry_after(oldest + DAY, at))


def send_code(mobile: str, purpose: CodePurpose, client_address: str | None) -> None:
    """Send a fresh code for ``purpose`` to ``mobile`` (see the module's docstring for who is texted).

    ValidationFailed for a malformed number; CodeRateLimited when a limit refuses the send.  The
    answer is the same whether or not the number has an account.
    """
    mobile = normalise_mobile(mobile)
    if mobile_error(mobile):
        raise ValidationFailed({"mobile": [mobile_error(mobile)]})
    purpose = CodePurpose(purpose)
    code = new_code()
    client = client_digest(client_address)
    with write_transaction():
        at = now()
        _lock_number(mobile)
        _check_limits(mobile, client, at)
        db.session.add(SmsCode(mobile=mobile, purpose=purpose, digest=code_digest(purpose, mobile, code),
                               client=client, sent_at=at, expires_at=at + CODE_TTL, failures=0))
        if purpose is CodePurpose.SIGNUP:
            # To the number, not to an account: the same text whether or not one exists.
            enqueue(None, CODE_KINDS[purpose], code_message(purpose, code), priority=Priority.CODE,
                    address=mobile)
        else:
            user_id = db.session.scalar(select(User.id).where(User.mobile == mobile,
                                                              User.erased_at.is_(None)))
            if user_id is not None:
                enqueue(user_id, CODE_KINDS[purpose], code_message(purpose, code), priority=Priority.CODE)


# --------------------------------------------------------------------------- checking


def _wrong() -> ValidationFailed:
    return ValidationFailed({"code": [str(MSG_BAD_CODE)]})


def use_code(mobile: str, purpose: CodePurpose, code: str) -> None:
    """Use up the newest code sent to ``mobile`` for ``purpose``, or raise ValidationFailed on "code"
    (wrong, expired, used, killed by wrong tries, or never sent: one message for all).  A wrong code
    adds one to its failures, counted in SQL so parallel tries all count."""
    mobile = normalise_mobile(mobile)
    code = (code or "").strip()
    at = now()
    row = db.session.execute(
        select(SmsCode.id, SmsCode.digest, SmsCode.failures, SmsCode.expires_at, SmsCode.used_at)
        .where(SmsCode.mobile == mobile, SmsCode.purpose == purpose)
        .order_by(SmsCode.id.desc()).limit(1)
    ).first()
    if row is None or row.used_at is not None or row.failures >= MAX_FAILURES or row.expires_at <= at:
        raise _wrong()
    if not (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()) \
            or not hmac.compare_digest(row.digest, code_digest(purpose, mobile, code)):
        with write_transaction():
            db.session.execute(update(SmsCode).where(SmsCode.id == row.id)
                               .values(failures=SmsCode.failures + 1)
                               .execution_options(synchronize_session=False))
        raise _wrong()
    with write_transaction():
        # Conditional: of two tabs sending the same code at once, one wins.
        used = db.session.execute(
            update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None),
                                  SmsCode.failures < MAX_FAILURES, SmsCode.expires_at > at)
            .values(used_at=at).execution_options(synchronize_session=False))
    if used.rowcount != 1:
        raise _wrong()


def _account(mobile: str) -> User:
    """The account a used code was for (a code for an unknown number is never sent, so never right)."""
    user = db.session.scalar(select(User).where(User.mobile == normalise_mobile(mobile),
                                                User.erased_at.is_(None))
                             .execution_options(populate_existing=True))
    if user is None:
        raise _wrong()
    return user


def login_with_code(mobile: str, code: str) -> User:
    """Log in with a login code: the account, activated if its union made it (audited, nothing revoked)."""
    use_code(mobile, CodePurpose.LOGIN, code)
    with write_transaction():
        user = _account(mobile)
        first = not user.activated
        user.activated = True
        log_action(user.id, "user.login_code", user, first_login=first)
    return user


def reset_password(mobile: str, code: str, new_password: str) -> User:
    """Set a new password with a reset code.  Like any password change it ends the other sessions and
    revokes the API tokens; audited.  A bad new password is reported before the code is used."""
    errors = password_errors(new_password)
    if errors:
        raise ValidationFailed({"password": errors})
    use_code(mobile, CodePurpose.RESET, code)
    new_hash = hash_password(new_password)
    with write_transaction():
        user = _account(mobile)
        user.password_hash = new_hash
        user.activated = True
        user.session_version += 1
        revoked = revoke_all_tokens(user.id)
        log_action(user.id, "user.reset_password", user, tokens_revoked=revoked)
    return user


def verify_signup(mobile: str, code: str) -> User | None:
    """Use up a sign-up code.  The number is then proven to be the caller's: returns its existing
    account (activated, audited as a code login) or None when a new one may be made."""
    use_code(mobile, CodePurpose.SIGNUP, code)
    existing = find_by_mobile(mobile)
    if existing is None or existing.erased_at is not None:
        return None
    with write_transaction():
        user = _account(mobile)
        first = not user.activated
        user.activated = True
        log_action(user.id, "user.login_code", user, first_login=first, via="signup")
    return user


# --------------------------------------------------------------------------- retention


@retention_job("sms-codes", "Delete SMS code rows older than SMS_CODE_RETENTION_DAYS (default 1: the daily caps' window).",
               setting="SMS_CODE_RETENTION_DAYS", tables=("sms_code",))
def purge_codes(at: datetime) -> int:
    keep = timedelta(days=current_app.config["SMS_CODE_RETENTION_DAYS"])
    return db.session.execute(delete(SmsCode).where(SmsCode.sent_at < at - keep)).rowcount or 0


def forget_number(mobile: str) -> None:
    """Erasure: the codes sent to a number go with the account (in the caller's transaction)."""
    db.session.execute(delete(SmsCode).where(SmsCode.mobile == mobile))
