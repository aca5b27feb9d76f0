"""Login and account-creation throttling (Flask-Limiter and its storage: Redis when ``REDIS_URL`` is set).

Guesses at a password are counted three ways (docs/design-decisions.md, "Login throttling"):

* **Known devices.**  A successful password login leaves a signed *device cookie* naming the mobile
  numbers that logged in from this browser or app (OWASP's "device cookies").  A request that carries
  one for the number it tries has a budget of its own (``LOGIN_ACCOUNT_FAILURE_LIMIT``): nobody else's
  guesses ever refuse the owner's own phone, and the per-address limit does not apply to it.
* **Unknown clients, per account, across every login endpoint** (the HTML password and code logins,
  ``POST /api/v1/tokens`` with a password or a code, the sign-up and password-reset codes, and the
  password asked again to change it or delete the account): a wrong SMS code is a guess like a wrong
  password.  Up to
  ``LOGIN_ACCOUNT_FAILURE_LIMIT`` wrong guesses in the window anyone may try.  Past that the account is
  *guarded*: a client (address plus User-Agent) that itself guessed wrong
  ``LOGIN_GUARDED_CLIENT_FAILURES`` times is refused, so the owner on a fresh phone still gets in; and
  at ``LOGIN_ACCOUNT_HARD_LIMIT`` wrong guesses from unknown clients, however many addresses and
  User-Agents they rotate through, every unknown client is refused until the window ends.  That bounds
  the guesses at one account; the owner's known devices still log in.
* **SMS codes** count in the same budget (a wrong code is a guess), and a client that guessed wrong
  at a guarded account is refused a code try as it is a password.  The hard limit alone does not
  refuse a code: a code proves the phone is in hand, each one dies after 5 wrong tries and only 10 are
  sent a day, so the owner on a never-used phone still gets in with a code during an attack that
  keeps every unknown client's password out (decisions.md: never refuse the owner because of others'
  guesses).
* **Per address, failures only** (``LOGIN_ADDRESS_FAILURE_LIMIT``, one count shared by the login
  endpoints, known devices exempt): a venue's Wi-Fi full of workers logging in correctly is never
  refused, while one address spraying wrong passwords over many accounts is.

A guess is counted *before* the password is checked (an atomic increment, given back when the password
was right or the attempt was refused), so parallel guesses cannot slip past the count.

Account creation is limited per address at ``SIGNUP_RATE_LIMIT`` (every attempt, set high enough for a
venue).  Activity sign-ups are never limited per address (a whole workplace may sign up from one
network at the same minute).
"""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from flask import Response, after_this_request, current_app, request
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
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
DEVICE_SCOPE = "login-device"
HARD_SCOPE = "login-account-hard"

DEVICE_COOKIE = "ue_device"
DEVICE_COOKIE_DAYS = 365
#: Mobile numbers one device cookie remembers (a shared family phone, a door tablet).
DEVICE_COOKIE_NUMBERS = 5

# When the shared storage (Redis) is down, keep counting in this process rather than failing logins.
_fallback: RateLimiter = FixedWindowRateLimiter(MemoryStorage())
_last_storage_warning = 0.0


class LoginThrottled(DomainError):
    """This client guessed wrong too often at a guarded account: refused before the password is checked."""

    http_status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int, *, account_wide: bool = False):
        minutes = max(1, math.ceil(retry_after / 60))
        if account_wide:
            message = _l("This account has had too many wrong attempts. Please try again in %(minutes)d "
                         "minutes, or log in on a device you have used before.", minutes=minutes)
        else:
            message = _l("Too many wrong attempts at this account from this device. "
                         "Please try again in %(minutes)d minutes.", minutes=minutes)
        super().__init__(message, retry_after=retry_after)
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
    """The per-address limit on failed logins, one count shared by every login endpoint; a request from
    a known device of the number it tries is exempt (its own budget guards it)."""
    return limiter.shared_limit(login_address_failure_limit, scope=ADDRESS_SCOPE, methods=["POST"],
                                deduct_when=is_failed_guess, exempt_when=_from_a_known_device)


# --------------------------------------------------------------------------- device cookies

def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="login-device")


def _number_digest(mobile: str) -> str:
    """The cookie names numbers by a keyed digest, not in clear text."""
    key = f"{current_app.secret_key}|{normalise_mobile(mobile)}".encode("utf-8", "replace")
    return hashlib.sha256(key).hexdigest()[:20]


def _device() -> dict | None:
    """This request's device cookie ({"id": ..., "numbers": [digest, ...]}) when it is ours and intact."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 1024:
        return None
    try:
        device = _device_serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(device, dict) or not isinstance(device.get("id"), str) \
            or not isinstance(device.get("numbers"), list):
        return None
    return device


def _known_device_id(mobile: str) -> str | None:
    device = _device()
    if device is None or not isinstance(mobile, str) or not mobile:
        return None
    return device["id"] if _number_digest(mobile) in device["numbers"] else None


def _submitted_mobile() -> str:
    mobile = request.form.get("mobile")
    if mobile is None and request.is_json:
        body = request.get_json(silent=True)
        mobile = body.get("mobile") if isinstance(body, dict) else None
    return mobile if isinstance(mobile, str) else ""


def _from_a_known_device() -> bool:
    return _known_device_id(_submitted_mobile()) is not None


def remember_device(mobile: str) -> None:
    """After a successful password login: the response carries a device cookie that knows this number."""
    device = _device() or {"id": secrets.token_hex(12), "numbers": []}
    digest = _number_digest(mobile)
    numbers = [n for n in device["numbers"] if n != digest][-(DEVICE_COOKIE_NUMBERS - 1):] + [digest]
    value = _device_serializer().dumps({"id": device["id"], "numbers": numbers})
    config = current_app.config

    @after_this_request
    def _set_cookie(response: Response) -> Response:
        response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_COOKIE_DAYS * 24 * 3600, httponly=True,
                            secure=bool(config.get("SESSION_COOKIE_SECURE")), samesite="Lax")
        return response


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
    """The counts for one mobile number and this client, in the limiter's storage."""

    def __init__(self, mobile: str, *, possession: bool = False):
        config = current_app.config
        self.possession = possession  # an SMS code: the hard limit counts it but does not refuse it
        mobile = mobile if isinstance(mobile, str) else ""
        self.account_limit = parse(config["LOGIN_ACCOUNT_FAILURE_LIMIT"])
        window = self.account_limit.get_expiry()
        self.client_limit = parse(f"{int(config['LOGIN_GUARDED_CLIENT_FAILURES'])} per {window} seconds")
        self.hard_limit = parse(config["LOGIN_ACCOUNT_HARD_LIMIT"])
        number = normalise_mobile(mobile)[:20] or "-"
        device_id = _known_device_id(mobile)
        if device_id is not None:  # the owner's known device: a budget nobody else's guesses touch
            self.buckets = [(self.account_limit, (_prefix(), DEVICE_SCOPE, number, device_id))]
        else:
            self.buckets = [(self.hard_limit, (_prefix(), HARD_SCOPE, number)),
                            (self.account_limit, (_prefix(), ACCOUNT_SCOPE, number)),
                            (self.client_limit, (_prefix(), CLIENT_SCOPE, number, client_key()))]
        self.reserved = False

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

    def reserve(self) -> None:
        """Count this attempt as a guess before the secret is checked (so parallel guesses cannot pass
        the count), or raise LoginThrottled -- and count nothing -- when it may not be made now."""
        def take(strategy: RateLimiter) -> LoginThrottled | None:
            within = [strategy.hit(limit, *ids) for limit, ids in self.buckets]
            if len(within) == 1:
                exhausted = [] if within[0] else [0]
            elif not within[0] and not self.possession:  # unknown clients used up the hard limit
                exhausted = [0]
            elif not within[1] and not within[2]:  # guarded account, and this client has been guessing
                exhausted = [2]
            else:
                exhausted = []
            if not exhausted:
                return None
            for limit, ids in self.buckets:  # a refused attempt is no guess
                strategy.hit(limit, *ids, cost=-1)
            limit, ids = self.buckets[exhausted[0]]
            reset_at = strategy.get_window_stats(limit, *ids).reset_time
            retry_after = max(1, int(math.ceil(reset_at - time.time())))
            return LoginThrottled(retry_after, account_wide=len(self.buckets) > 1 and exhausted[0] == 0)

        refusal = self._run(take)
        if refusal is not None:
            raise refusal
        self.reserved = True

    def give_back(self) -> None:
        """The attempt was no wrong guess (the secret was right, or something else failed)."""
        if not self.reserved:
            return
        self.reserved = False

        def refund(strategy: RateLimiter) -> None:
            for limit, ids in self.buckets:
                strategy.hit(limit, *ids, cost=-1)

        self._run(refund)


@contextmanager
def guarded(mobile: str, *, possession: bool = False) -> Iterator[_Guard | None]:
    """Count an attempt at ``mobile``'s secret: LoginThrottled at once when this client may not try now.
    The attempt counts as a wrong guess unless the block calls ``guard.give_back()`` or raises anything
    but ValidationFailed (when rate limits are off the guard is None).  ``possession``: the secret is an
    SMS code (see the module's docstring)."""
    if not _enabled():
        yield None
        return
    guard = _Guard(mobile, possession=possession)
    guard.reserve()
    try:
        yield guard
    except ValidationFailed:
        raise
    except BaseException:
        guard.give_back()
        raise


def counted(mobile: str, field: str, action: Callable[..., T], *args, **kwargs) -> T:
    """Run ``action`` under the account's guard: a ValidationFailed on ``field`` (the secret the form
    asked for; "code" for an SMS code) counts as a wrong guess, anything else does not; LoginThrottled
    when this client may not try now."""
    with guarded(mobile, possession=field == "code") as guard:
        try:
            result = action(*args, **kwargs)
        except ValidationFailed as error:
            if guard is not None and field not in error.errors:
                guard.give_back()
            raise
        if guard is not None:
            guard.give_back()
        return result


def code_login(mobile: str, code: str) -> User:
    """``codes.login_with_code`` with a wrong code counted as a guess at the account (ValidationFailed on
    "code"); LoginThrottled when this client may not try this account now.  The HTML code login and
    ``POST /api/v1/tokens`` with a code.  A right code makes this a known device, as a password does."""
    from .codes import login_with_code

    user = counted(mobile, "code", login_with_code, mobile, code)
    remember_device(mobile)
    return user


def password_login(mobile: str, password: str) -> User | None:
    """The user for these credentials or None (a wrong guess, counted); LoginThrottled when this client
    may not try this account now.  Used by the HTML login and ``POST /api/v1/tokens`` alike."""
    with guarded(mobile) as guard:
        user = authenticate(mobile, password)
        if user is not None:
            if guard is not None:
                guard.give_back()
            remember_device(mobile)
        return user
