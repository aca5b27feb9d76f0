"""Settings from the environment: one prefix, typed, checked.

Every setting of the config classes can be given as ``UNIONEVENTS_<NAME>`` (``UNIONEVENTS_HEALTH_RETENTION_DAYS=180``).
The value is parsed by the type of the setting — its annotation, else its default's type: ``int``,
``float``, ``bool`` (1/0, true/false, yes/no, on/off), ``str``, ``list`` (JSON array, or comma-separated)
and ``dict`` (JSON object) — and checked (``CHECKS``).  A value that does not parse, or fails its check,
stops the start with a ``SettingError`` naming the variable: ``PROXY_FIX_HOPS=one`` is an error, never 0.
An unknown ``UNIONEVENTS_`` name is an error too (a typo must not pass silently).

The unprefixed names of earlier releases (``DATABASE_URL``, ``SECRET_KEY``, ``REDIS_URL``,
``PROXY_FIX_HOPS``, …: ``LEGACY_NAMES``) still work and are checked the same way; the prefixed name wins
when both are set.  Values from ``instance/config.py`` given as strings are parsed the same way, and any
value there of the wrong type is refused.  Empty values count as unset.
"""
from __future__ import annotations

import json
import math
import typing
from collections.abc import Callable, Mapping

PREFIX = "UNIONEVENTS_"

#: Environment variables with the prefix that are not settings.
NOT_SETTINGS = frozenset({"UNIONEVENTS_ENV"})

#: Settings that are not taken from the environment (the class is chosen by UNIONEVENTS_ENV).
INTERNAL = frozenset({"ENV_NAME", "TESTING"})

#: Unprefixed variable → the settings it sets.
LEGACY_NAMES: dict[str, tuple[str, ...]] = {
    "SECRET_KEY": ("SECRET_KEY",),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI",),
    "REDIS_URL": ("REDIS_URL",),
    "SESSION_COOKIE_SECURE": ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"),
    "PROXY_FIX_HOPS": ("PROXY_FIX_HOPS",),
    "OUTBOX_SENDER": ("OUTBOX_SENDER",),
    "OUTBOX_FILE": ("OUTBOX_FILE",),
    "OUTBOX_WEBHOOK_URL": ("OUTBOX_WEBHOOK_URL",),
    "OUTBOX_WEBHOOK_TOKEN": ("OUTBOX_WEBHOOK_TOKEN",),
    "OUTBOX_RETENTION_DAYS": ("OUTBOX_RETENTION_DAYS",),
    "BACKUP_DIR": ("BACKUP_DIR",),
    "UPLOAD_DIR": ("UPLOAD_DIR",),
    "SIGNUP_RATE_LIMIT": ("SIGNUP_RATE_LIMIT",),
    "PASSWORD_HASH_METHOD": ("PASSWORD_HASH_METHOD",),
    "METRICS_TOKEN": ("METRICS_TOKEN",),
    "SENTRY_DSN": ("SENTRY_DSN",),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingError(RuntimeError):
    """A setting's value is unusable; the message names the variable and what it needs."""


def _rate_limit(value) -> str | None:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        return 'a rate limit such as "10 per 5 minutes"'
    return None


def _one_of(*choices: str) -> Callable[[object], str | None]:
    def check(value) -> str | None:
        return None if value in choices else "one of " + ", ".join(choices)
    return check


def _at_least(minimum: float) -> Callable[[object], str | None]:
    def check(value) -> str | None:
        return None if value is None or value >= minimum else f"at least {minimum:g}"
    return check


def _at_most(maximum: float) -> Callable[[object], str | None]:
    def check(value) -> str | None:
        return None if value is None or value <= maximum else f"at most {maximum:g}"
    return check


#: name → check returning what the value must be, or None when it is fine.  Numbers are never negative
#: (every int and float setting); these add what a type cannot say.
CHECKS: dict[str, Callable[[object], str | None]] = {
    "HEALTH_RETENTION_DAYS": _at_least(1),
    "OUTBOX_RETENTION_DAYS": _at_least(1),
    "SMS_CODE_RETENTION_DAYS": _at_least(1),
    "DB_POOL_SIZE": _at_least(1),
    "SENTRY_TRACES_SAMPLE_RATE": _at_most(1),
    "DB_POOL_TIMEOUT": _at_least(1),
    "API_TOKEN_LIFETIME_DAYS": _at_least(1),
    "SQLITE_SYNCHRONOUS": _one_of("OFF", "NORMAL", "FULL", "EXTRA"),
    "OUTBOX_SENDER": _one_of("log", "file", "webhook"),
    "SESSION_COOKIE_SAMESITE": _one_of("Lax", "Strict", "None"),
    "LOGIN_ACCOUNT_FAILURE_LIMIT": _rate_limit,
    "LOGIN_ACCOUNT_HARD_LIMIT": _rate_limit,
    "LOGIN_ADDRESS_FAILURE_LIMIT": _rate_limit,
    "SIGNUP_RATE_LIMIT": _rate_limit,
    "CHECKIN_CODE_GUESS_LIMIT": _rate_limit,
}


def setting_types(config_class: type) -> dict[str, type]:
    """Every setting of ``config_class`` (upper-case attributes) and the type its values must have."""
    hints: dict[str, object] = {}
    for klass in reversed(config_class.__mro__):
        try:
            hints.update(typing.get_type_hints(klass))
        except Exception:  # noqa: BLE001 - an annotation that does not evaluate: fall back to the default's type
            pass
    types: dict[str, type] = {}
    for name in dir(config_class):
        if not name.isupper() or name.startswith("_") or name in INTERNAL:
            continue
        types[name] = _base_type(hints.get(name), getattr(config_class, name))
    return types


def _base_type(hint, default) -> type:
    if hint is not None:
        origin = typing.get_origin(hint)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            hint = args[0] if len(args) == 1 else str
            origin = typing.get_origin(hint)
        hint = origin or hint
        if isinstance(hint, type):
            return hint
    if default is None:
        return str
    if isinstance(default, tuple):
        return list
    return type(default)


def parse(name: str, raw: str, kind: type, variable: str | None = None):
    """``raw`` (a string from the environment) as a value of ``kind``; SettingError naming ``variable``."""
    variable = variable or name
    text = raw.strip()

    def fail(needs: str) -> typing.NoReturn:
        raise SettingError(f"{variable}={raw!r}: {name} must be {needs}.")

    if kind is bool:
        if text.lower() in _TRUE:
            value: object = True
        elif text.lower() in _FALSE:
            value = False
        else:
            fail("a boolean (1/0, true/false, yes/no, on/off)")
    elif kind is int:
        try:
            value = int(text, 10)
        except ValueError:
            fail("a whole number")
    elif kind is float:
        try:
            value = float(text)
        except ValueError:
            fail("a number")
        if not math.isfinite(value):  # type: ignore[arg-type]
            fail("a finite number")
    elif kind in (list, tuple):
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                fail("a JSON array or a comma-separated list")
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    elif kind is dict:
        try:
            value = json.loads(text)
        except ValueError:
            fail("a JSON object")
        if not isinstance(value, dict):
            fail("a JSON object")
    else:
        value = raw
    check(name, value, kind, variable)
    return value


def check(name: str, value, kind: type, variable: str | None = None) -> None:
    variable = variable or name
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise SettingError(f"{variable}={value!r}: {name} must not be negative.")
    rule = CHECKS.get(name)
    needs = rule(value) if rule else None
    if needs:
        raise SettingError(f"{variable}={value!r}: {name} must be {needs}.")


def from_environ(config_class: type, environ: Mapping[str, str]) -> dict[str, object]:
    """The settings the environment gives, parsed and checked (SettingError on the first bad one)."""
    types = setting_types(config_class)
    found: dict[str, object] = {}
    for variable, names in LEGACY_NAMES.items():
        raw = environ.get(variable, "")
        if raw.strip():
            for name in names:
                found[name] = parse(name, raw, types.get(name, str), variable)
    for variable, raw in sorted(environ.items()):
        if not variable.startswith(PREFIX) or variable in NOT_SETTINGS:
            continue
        name = variable[len(PREFIX):]
        if name not in types:
            raise SettingError(f"{variable}: there is no setting {name} (see unionevents/config.py; "
                               "settings of Flask's extensions go in instance/config.py).")
        if raw.strip():
            found[name] = parse(name, raw, types[name], variable)
            if name == "SESSION_COOKIE_SECURE":
                found["REMEMBER_COOKIE_SECURE"] = found[name]
    return found


def checked_file_values(config_class: type, values: Mapping[str, object], source: str) -> dict[str, object]:
    """Values read from instance/config.py: strings parsed by the setting's type (``PROXY_FIX_HOPS = "one"``
    is refused), a boolean where a number belongs refused, numbers range-checked.  Other Python values
    pass as they are (a ``timedelta`` lifetime, a bytes secret key: Flask takes those)."""
    types = setting_types(config_class)
    result: dict[str, object] = {}
    for name, value in values.items():
        kind = types.get(name)
        label = f"{name} in {source}"
        if kind is not None and isinstance(value, str) and kind is not str:
            value = parse(name, value, kind, label)
        elif kind in (int, float) and isinstance(value, bool):
            raise SettingError(f"{label}: {name} must be a {kind.__name__}, not a boolean.")
        elif kind is not None and (isinstance(value, (int, float, str)) and not isinstance(value, bool)):
            check(name, value, kind, label)
        result[name] = value
    return result
