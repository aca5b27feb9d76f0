"""When a message may go: the outbox's rules as pure functions (no database, no clock of their own).

- ``backoff_seconds``: how long a failed message waits before its next attempt (exponential, with
  jitter so that a relay outage's backlog does not come back all at the same second);
- ``quiet_hours_end``: organisers' bulk SMS wait through the night (22:00–07:00 Beijing time);
  codes and time-critical notices do not;
- ``bulk_hold_until``: at most N bulk messages to one recipient in an hour; the next one waits
  until the oldest of those leaves the window (deferred, never dropped).
"""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone
from typing import Callable, Iterable

from .timeutil import LOCAL_TZ


def backoff_seconds(attempts: int, base: float, cap: float,
                    rand: Callable[[], float] = random.random) -> float:
    """The wait after the ``attempts``-th failed attempt (1, 2, ...): ``base · 2^(attempts-1)``,
    at most ``cap``, of which a random half is taken off ("equal jitter": between half and all of it)."""
    delay = min(float(cap), float(base) * 2 ** max(attempts - 1, 0))
    return delay / 2 + rand() * delay / 2


def quiet_hours_end(at: datetime, start: time = time(22), end: time = time(7)) -> datetime | None:
    """If ``at`` (naive UTC) lies in the quiet hours (Beijing wall-clock ``start``..``end``, across
    midnight), the naive UTC time they end; otherwise None.  ``start == end`` switches them off."""
    if start == end:
        return None
    local = at.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ)
    clock = local.time().replace(tzinfo=None)
    crosses_midnight = start > end
    quiet = (clock >= start or clock < end) if crosses_midnight else (start <= clock < end)
    if not quiet:
        return None
    # Across midnight, the evening part ends the next morning.
    day = local.date() + timedelta(days=1) if crosses_midnight and clock >= start else local.date()
    ends = datetime.combine(day, end, tzinfo=LOCAL_TZ)
    return ends.astimezone(timezone.utc).replace(tzinfo=None)


def bulk_hold_until(sent_at: Iterable[datetime], at: datetime, limit: int,
                    window: timedelta = timedelta(hours=1)) -> datetime | None:
    """None when one more bulk message may go to a recipient who was sent bulk messages at
    ``sent_at`` (any order, older ones ignored); else the time the oldest of the last ``limit``
    in the window leaves it.  ``limit <= 0`` means no limit."""
    if limit <= 0:
        return None
    recent = sorted(t for t in sent_at if t > at - window)
    if len(recent) < limit:
        return None
    return recent[-limit] + window
