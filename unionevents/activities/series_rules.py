"""The dates of a series, as pure functions (no database, no clock): Beijing wall-clock times.

Three ways to say them: explicit dates ("2027-01-05 14:00", one a line), weekly ("every Tuesday 14:00
for 8 weeks") and monthly ("the 31st, 14:00, for 6 months").  A monthly day past a month's end falls
on that month's last day (31 → 28 February, 30 April), never into the next month.  Asia/Shanghai has
no daylight saving, so a wall-clock time is the same instant offset every day of the year.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable


#: At most this many occurrences in one series (a year of weekly classes).
MAX_OCCURRENCES = 52
EXPLICIT_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d")


class SeriesError(ValueError):
    """A rule refused the dates; ``code`` says why, ``detail`` names the line or the value."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(code)
        self.code = code
        self.detail = detail


def weekly(first_day: date, weekday: int, at: time, count: int) -> list[datetime]:
    """``count`` weeks of ``weekday`` (0 = Monday) at ``at``, from the first such day on or after
    ``first_day``."""
    _check_count(count)
    if not 0 <= weekday <= 6:
        raise SeriesError("bad_weekday", str(weekday))
    start = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
    return [datetime.combine(start + timedelta(weeks=n), at) for n in range(count)]


def monthly(first_day: date, day_of_month: int, at: time, count: int) -> list[datetime]:
    """``count`` months on ``day_of_month`` at ``at`` (a day past a month's end: its last day), from the
    first such date on or after ``first_day``."""
    _check_count(count)
    if not 1 <= day_of_month <= 31:
        raise SeriesError("bad_day_of_month", str(day_of_month))
    year, month = first_day.year, first_day.month
    if _day_in(year, month, day_of_month) < first_day:
        year, month = _next_month(year, month)
    dates = []
    for _n in range(count):
        dates.append(datetime.combine(_day_in(year, month, day_of_month), at))
        year, month = _next_month(year, month)
    return dates


def explicit(lines: Iterable[str], default_time: time) -> list[datetime]:
    """One date (and optional time) per line; blank lines are skipped; sorted; a repeat is refused."""
    result: list[datetime] = []
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        parsed = None
        for fmt in EXPLICIT_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if fmt == "%Y-%m-%d":
                parsed = datetime.combine(parsed.date(), default_time)
            break
        if parsed is None:
            raise SeriesError("bad_date", text)
        if parsed in result:
            raise SeriesError("repeated_date", text)
        result.append(parsed)
    _check_count(len(result))
    return sorted(result)


def occurrences(source_start: datetime, dates: list[datetime], not_before: datetime) -> list[datetime]:
    """The new occurrences for a series made from an activity starting at ``source_start`` (all Beijing
    time): the dates other than the source's own, each after ``not_before`` (now), at most
    ``MAX_OCCURRENCES`` with the source."""
    own = source_start.replace(second=0, microsecond=0)  # forms give minutes; the source may have seconds
    new = [d for d in dates if d.replace(second=0, microsecond=0) != own]
    past = [d for d in new if d <= not_before]
    if past:
        raise SeriesError("date_in_past", past[0].strftime("%Y-%m-%d %H:%M"))
    if not new:
        raise SeriesError("no_dates")
    if len(new) + 1 > MAX_OCCURRENCES:
        raise SeriesError("too_many", str(MAX_OCCURRENCES))
    return new


@dataclass(frozen=True)
class Shift:
    """How an edit of one occurrence moves the ones after it ("all future occurrences")."""

    delta: timedelta

    def apply(self, value: datetime | None) -> datetime | None:
        return value + self.delta if value is not None else None


def _check_count(count: int) -> None:
    if not 1 <= count <= MAX_OCCURRENCES:
        raise SeriesError("too_many" if count > MAX_OCCURRENCES else "no_dates", str(MAX_OCCURRENCES))


def _day_in(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)
