"""Login and account-creation throttling (Flask-Limiter and its storage: Redis when ``REDIS_URL`` is set).

Two counts guard the password (docs/design-decisions.md, "Login throttling"):

* **Per account, across every login endpoint** (the HTML login, ``POST /api/v1/tokens``, the
  activation form, and the password asked again to change it or delete the account): wrong guesses at one mobile number, whoever makes them.  Once the account has had
  ``LOGIN_ACCOUNT_FAILURE_LIMIT`` of them in the window it is *guarded*: a client that has itself guessed
  wrong ``LOGIN_GUARDED_CLIENT_FAILURES`` times at it is refused (429) until the window ends, before its
  password is even checked.  A client that has not been guessing -- the owner's phone -- still gets in
  with the right password: someone else's guesses never lock the owner out.  A client is the address
  plus the browser's User-Agent, so the owner behind the attacker's NAT on another device is not
  refused either.
* **Per address, failures only** (``LOGIN_ADDRESS_FAILURE_LIMIT``, one count shared by the login
  endpoints): a venue's Wi-Fi or a carrier NAT full of workers logging in correctly is never refused,
  while one address spraying wrong passwords over many accounts is.

Account creation is limited per address at ``SIGNUP_RATE_LIMIT`` (every attempt, set high enough for a
venue).  Activity sign-ups are never limited per address (a whole workplace may sign up from one
network at the same minute).
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from flask import Response, current_app, request
from flask_babel import lazy_gettext as _l
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from ..core.errors import DomainError, ValidationFailed
from ..extensions import limiter
from .models import User
from .services import authenticate, normalise_mobile

log = logging.getLogger(__name__)
T = TypeVar("T")

ACCOUNT_SCOPE = "login-account"
CLIENT_SCOPE = "login-client"
ADDRESS_SCOPE = "login-address"

# When the shared storage (Redis) is down, keep counting in this process rather than failing logins.
_fallback: RateLimiter = FixedWindowRateLimiter(MemoryStorage())
_last_storage_warning = 0.0


class LoginThrottled(DomainError):
    """This client guessed wrong too often at a guarded account: refused before the password is checked."""

    http_status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(_l("Too many wrong attempts at this account from this device. "
                            "Please try again in %(minutes)d minutes.", minutes=minutes),
                         retry_after=retry_after)
        self.retry_after = retry_after


# --------------------------------------------------------------------------- Flask-Limiter decorations

def login_address_failure_limit() -> str:
    return current_app.config["LOGIN_ADDRESS_FAILURE_LIMIT"]


def signup_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


def is_failed_guess(response: Response) -> bool:
    """A wrong password or code (HTML 422, API 401/422); a 429 refusal or a success is not counted."""
    return response.status_code in (401, 422)


def address_failures():
    """The per-address limit on failed logins, one count shared by every login endpoint."""
    return limiter.shared_limit(login_address_failure_limit, scope=ADDRESS_SCOPE, methods=["POST"],
                                deduct_when=is_failed_guess)


# --------------------------------------------------------------------------- the per-account guard

def client_key() -> str:
    """The client making the request: its address (after the trusted proxies) and its browser."""
    raw = f"{request.remote_addr or ''}|{request.headers.get('User-Agent', '')[:300]}"
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED")) and limiter.enabled


def _prefix() -> str:
    return current_app.config.get("RATELIMIT_KEY_PREFIX") or ""


class _Guard:
    """The counts for one mobile number and one client, in the limiter's storage."""

    def __init__(self, mobile: str):
        config = current_app.config
        self.account_limit = parse(config["LOGIN_ACCOUNT_FAILURE_LIMIT"])
        window = self.account_limit.get_expiry()
        self.client_limit = parse(f"{int(config['LOGIN_GUARDED_CLIENT_FAILURES'])} per {window} seconds")
        mobile = normalise_mobile(mobile if isinstance(mobile, str) else "")[:20] or "-"
        self.account_ids = (_prefix(), ACCOUNT_SCOPE, mobile)
        self.client_ids = (_prefix(), CLIENT_SCOPE, mobile, client_key())

    def _run(self, action):
        global _last_storage_warning
        try:
            return action(limiter.limiter)
        except Exception:  # noqa: BLE001 - storage down: count in this process instead
            if time.monotonic() - _last_storage_warning > 60:
                _last_storage_warning = time.monotonic()
                log.warning("rate-limit storage unreachable: login guard counting in this process",
                            exc_info=True)
            return action(_fallback)

    def check(self) -> None:
        """Raise LoginThrottled when the account is guarded and this client has guessed wrong too often."""
        def refused(strategy: RateLimiter) -> int | None:
            if strategy.test(self.account_limit, *self.account_ids):
                return None  # not guarded
            if strategy.test(self.client_limit, *self.client_ids):
                return None  # this client has not been guessing
            reset_at = strategy.get_window_stats(self.client_limit, *self.client_ids).reset_time
            return max(1, int(math.ceil(reset_at - time.time())))

        retry_after = self._run(refused)
        if retry_after is not None:
            raise LoginThrottled(retry_after)

    def failed(self) -> None:
        """Count one wrong guess against the account and against this client."""
        def hit(strategy: RateLimiter) -> None:
            strategy.hit(self.account_limit, *self.account_ids)
            strategy.hit(self.client_limit, *self.client_ids)

        self._run(hit)


@contextmanager
def guarded(mobile: str) -> Iterator[_Guard | None]:
    """Refuse a throttled client at once (LoginThrottled); the block reports a wrong guess with
    ``guard.failed()`` (when rate limits are off the guard is None)."""
    if not _enabled():
        yield None
        return
    guard = _Guard(mobile)
    guard.check()
    yield guard


def counted(mobile: str, field: str, action: Callable[..., T], *args, **kwargs) -> T:
    """Run ``action`` under the account's guard: a ValidationFailed on ``field`` (the secret the form
    asked for) counts as a wrong guess; LoginThrottled when this client may not try now."""
    with guarded(mobile) as guard:
        try:
            return action(*args, **kwargs)
        except ValidationFailed as error:
            if guard is not None and field in error.errors:
                guard.failed()
            raise


def guarded_activation(mobile: str, code: str, password: str, *, accept_privacy: bool) -> User:
    """``activation.activate_account`` with its wrong codes counted as guesses at the account."""
    from .activation import activate_account

    return counted(mobile, "code", activate_account, mobile, code, password, accept_privacy=accept_privacy)


def password_login(mobile: str, password: str) -> User | None:
    """The user for these credentials or None (a wrong guess, counted); LoginThrottled when this client
    may not try this account now.  Used by the HTML login and ``POST /api/v1/tokens`` alike."""
    with guarded(mobile) as guard:
        user = authenticate(mobile, password)
        if user is None and guard is not None:
            guard.failed()
        return user
