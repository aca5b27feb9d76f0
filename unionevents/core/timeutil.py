"""One place for the clock, so tests can freeze it.

Datetimes are stored as naive UTC; forms take and pages show Asia/Shanghai.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

_frozen: datetime | None = None


def now() -> datetime:
    """The current time as naive UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc).replace(tzinfo=None)


def freeze(at: datetime | None) -> None:
    """Tests only: pin ``now()`` to ``at`` (naive UTC), or release it with None."""
    global _frozen
    _frozen = at


def local_to_utc(value: datetime) -> datetime:
    """A naive Asia/Shanghai wall-clock time from a form, as naive UTC."""
    return value.replace(tzinfo=LOCAL_TZ).astimezone(timezone.utc).replace(tzinfo=None)


def utc_to_local(value: datetime) -> datetime:
    """Naive UTC from the database as naive Asia/Shanghai wall-clock time."""
    return value.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).replace(tzinfo=None)
