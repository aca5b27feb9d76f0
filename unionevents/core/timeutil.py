"""One place for the clock, so tests can freeze it.

Datetimes are stored as naive UTC; forms take and pages show Asia/Shanghai.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
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


def local_day_start(day: date) -> datetime:
    """Midnight of ``day`` in Asia/Shanghai, as naive UTC.

    Days at the ends of the calendar (0001-01-01, 9999-12-31 from a filter) are pulled in a little:
    shifting them by the time zone would overflow ``datetime`` (a 500).
    """
    day = min(max(day, date(1, 1, 2)), date(9999, 12, 29))
    return local_to_utc(datetime.combine(day, time.min))


def local_day_end(day: date) -> datetime:
    """Midnight after ``day`` in Asia/Shanghai, as naive UTC: the exclusive end of a "to" date filter
    (safe at the end of the calendar, like ``local_day_start``)."""
    return local_day_start(min(day, date(9999, 12, 28)) + timedelta(days=1))
