"""Pure calculations behind ``report_reach_span`` (no database): a worker's span rows, and how a date
range splits into whole months and ragged ends.  See ``models.ReportReachSpan`` for the idea."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping

from .models import ALL_KINDS, COUNTED_NEF, KIND_CODES, ReachMeasure, SpanGrain

#: A span row's key below the union: (measure, kinds, grain, prev_day, day).
SpanKey = tuple[int, int, int, date, date]
MEASURE_BITS = sum(measure.bit for measure in ReachMeasure)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def reach_bits(places: int, attended: int, own_places: int, own_attended: int) -> int:
    """The ``ReachMeasure.bit`` of each positive counter (what ``report_reach.counted`` records)."""
    counters = (places, attended, own_places, own_attended)
    return sum(measure.bit for measure, value in zip(ReachMeasure, counters) if value > 0)


# Plain ints in the loops below: settle runs them for every changed worker.
_DAY, _MONTH = SpanGrain.DAY.value, SpanGrain.MONTH.value
_MEASURES = tuple((measure, measure.value, measure.bit) for measure in ReachMeasure)
_CODES = {kind.value: code for kind, code in KIND_CODES.items()}


def day_spans(days: Iterable[date]) -> Counter:
    """(grain, prev_day, day) → weight for one worker reached on ``days``: +1 per day, −1 per two
    consecutive days; and the same per pair of months."""
    rows: Counter = Counter()
    previous = previous_month = None
    for day in sorted(set(days)):
        month = day.replace(day=1)
        rows[(_DAY, day, day)] += 1
        rows[(_MONTH, month, month)] += 1
        if previous is not None:
            rows[(_DAY, previous, day)] -= 1
            rows[(_MONTH, previous_month, month)] -= 1
        previous, previous_month = day, month
    return rows


def worker_spans(rows: Mapping[tuple[date, str], int], measures: Iterable[ReachMeasure] = tuple(ReachMeasure),
                 kinds: Iterable[int] | None = None) -> Counter:
    """One worker's span rows at one union: ``rows`` maps (day, kind value) → reach bits there.

    Gives (measure, kinds, grain, prev_day, day) → weight for the chosen measures, for all kinds
    together and each kind (or only the kind codes in ``kinds``; ``ALL_KINDS`` among them for all).
    """
    wanted = None if kinds is None else set(kinds)
    chosen = set(measures)
    result: Counter = Counter()
    for measure, value, bit in _MEASURES:
        if measure not in chosen:
            continue
        by_kind: dict[int, list[date]] = {}
        for (day, kind), bits in rows.items():
            if bits & bit:
                by_kind.setdefault(ALL_KINDS, []).append(day)
                by_kind.setdefault(_CODES[kind], []).append(day)
        for code, days in by_kind.items():
            if wanted is not None and code not in wanted:
                continue
            for (grain, prev_day, day), weight in day_spans(days).items():
                if weight:
                    result[(value, code, grain, prev_day, day)] += weight
    return result


@dataclass(frozen=True)
class RowState:
    """One ``report_reach`` row of a worker at a union, as ``settle`` sees it."""

    day: date
    kind: str
    counted: int  # what report_reach_span counts now (bits, COUNTED_NEF)
    current: int  # what it should count (bits, COUNTED_NEF)


def settle_deltas(rows: Iterable[RowState]) -> dict[SpanKey, tuple[int, int]]:
    """What to add to one worker's span rows at one union when its rows move from ``counted`` to
    ``current``: (measure, kinds, grain, prev_day, day) → (workers, nef).  Only the measures and kinds
    whose rows changed are recomputed (all of them when the worker's nef flag changed)."""
    rows = list(rows)
    # The worker is a nef worker here if any row that counts says so (as ``recount`` has it).
    old_nef = any(row.counted & COUNTED_NEF and row.counted & MEASURE_BITS for row in rows)
    new_nef = any(row.current & COUNTED_NEF and row.current & MEASURE_BITS for row in rows)
    changed_measures, changed_kinds = [], set()
    for measure, _value, bit in _MEASURES:
        kinds = {_CODES[row.kind] for row in rows if (row.counted ^ row.current) & bit}
        if kinds or old_nef != new_nef:
            changed_measures.append(measure)
            changed_kinds |= kinds
    if not changed_measures:
        return {}
    kinds = None if old_nef != new_nef else changed_kinds | {ALL_KINDS}
    old = worker_spans({(row.day, row.kind): row.counted for row in rows}, changed_measures, kinds)
    new = worker_spans({(row.day, row.kind): row.current for row in rows}, changed_measures, kinds)
    deltas = {}
    for key in old.keys() | new.keys():
        workers = new.get(key, 0) - old.get(key, 0)
        nef = new.get(key, 0) * new_nef - old.get(key, 0) * old_nef
        if workers or nef:
            deltas[key] = (workers, nef)
    return deltas


@dataclass(frozen=True)
class RangeParts:
    """How ``report_reach_span`` answers a range [first, last] (inclusive):

    * ``head``: the DAY rows whose prev_day lies in the days before the first whole month;
    * ``months``: the MONTH rows of the whole months (first-of-month dates of the first and last);
    * ``tail``: the DAY rows whose day lies in the days after the last whole month and whose
      prev_day is on or after ``tail_from`` (the start of the whole months, or of the tail itself).

    With no whole month in the range, ``head`` is the whole range.  Every pair of days within the range
    is summed exactly once: by its prev_day when that is in the head, else by its day when that is in
    the tail, else both lie in the whole months.
    """

    first: date
    last: date
    head: tuple[date, date] | None
    months: tuple[date, date] | None
    tail: tuple[date, date] | None
    tail_from: date | None


def split_range(first: date, last: date) -> RangeParts:
    whole_from = first if first.day == 1 else next_month(first)
    whole_to = last if next_month(last) - timedelta(days=1) == last else month_start(last) - timedelta(days=1)
    if whole_from > whole_to:
        return RangeParts(first, last, (first, last), None, None, None)
    head = (first, whole_from - timedelta(days=1)) if first < whole_from else None
    tail = (whole_to + timedelta(days=1), last) if whole_to < last else None
    return RangeParts(first, last, head, (whole_from, month_start(whole_to)), tail,
                      whole_from if tail is not None else None)
