"""Pure calculations behind ``report_reach_span`` (no database): a worker's span rows, and how a date
range splits into whole months and ragged ends.  See ``models.ReportReachSpan`` for the idea."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping

from .models import ALL_KINDS, COUNTED_NEF, KIND_BITS, KIND_CODES, KIND_SET, KIND_SET_CODES, ReachMeasure, SpanGrain

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
_BITS = {kind.value: bit for kind, bit in KIND_BITS.items()}
_SETS = tuple((code, code - KIND_SET) for code in KIND_SET_CODES)  # (kinds code, kind bits)


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
    together, each kind, and (MONTH rows only) each set of two to four kinds — or only the kinds
    codes in ``kinds`` (``ALL_KINDS`` among them for all).
    """
    wanted = None if kinds is None else set(kinds)
    sets = [(code, bits) for code, bits in _SETS if wanted is None or code in wanted]
    chosen = set(measures)
    result: Counter = Counter()
    for measure, value, bit in _MEASURES:
        if measure not in chosen:
            continue
        by_kind: dict[int, list[date]] = {}
        month_bits: dict[date, int] = {}  # month → the kinds (bits) that reached the worker in it
        for (day, kind), bits in rows.items():
            if bits & bit:
                by_kind.setdefault(ALL_KINDS, []).append(day)
                by_kind.setdefault(_CODES[kind], []).append(day)
                if sets:
                    month = day.replace(day=1)
                    month_bits[month] = month_bits.get(month, 0) | _BITS[kind]
        for code, days in by_kind.items():
            if wanted is not None and code not in wanted:
                continue
            for (grain, prev_day, day), weight in day_spans(days).items():
                if weight:
                    key = (value, code, grain, prev_day, day)
                    result[key] = result.get(key, 0) + weight
        if not month_bits:
            continue
        # A set's months are those any of its kinds reached the worker in: +1 each, −1 per two in a
        # row.  Sets sharing the kinds that reached the worker have the same rows: work them out once.
        months = sorted(month_bits.items())
        used = 0
        for _month, bits in months:
            used |= bits
        same: dict[int, list[tuple[date, date, int]]] = {}
        for code, set_bits in sets:
            shared = set_bits & used
            if not shared:
                continue
            pairs = same.get(shared)
            if pairs is None:
                reached = [month for month, bits in months if bits & shared]
                pairs = same[shared] = ([(month, month, 1) for month in reached]
                                        + [(a, b, -1) for a, b in zip(reached, reached[1:])])
            for prev_month, month, weight in pairs:
                key = (value, code, _MONTH, prev_month, month)
                result[key] = result.get(key, 0) + weight
    return result


#: ``report_reach_span.kinds`` of all kinds and each kind (``worker_spans`` without the kind sets).
PLAIN_KINDS = (ALL_KINDS, *sorted(_CODES.values()))
#: The kinds' bits in the order ``month_signatures`` gives their earlier months.
KIND_BIT_ORDER = tuple(sorted(_BITS.values()))
_SET_MEMBERS = tuple((code, set_bits, tuple(i for i, bit in enumerate(KIND_BIT_ORDER) if set_bits & bit))
                     for code, set_bits in _SETS)


def month_signatures(rows: Mapping[tuple[date, str], int], bit: int) -> list[tuple[date, int, tuple]]:
    """For each month a worker was reached in with the measure ``bit``: (month, the kinds' bits that
    reached them then, for each kind in ``KIND_BIT_ORDER`` the last earlier month it did or None).
    Workers with the same signature have the same kind-set MONTH rows (``spread_kind_sets``)."""
    months: dict[date, int] = {}
    for (day, kind), bits in rows.items():
        if bits & bit:
            month = day.replace(day=1)
            months[month] = months.get(month, 0) | _BITS[kind]
    last: list = [None] * len(KIND_BIT_ORDER)
    result = []
    for month, bits in sorted(months.items()):
        result.append((month, bits, tuple(last)))
        for i, kind_bit in enumerate(KIND_BIT_ORDER):
            if bits & kind_bit:
                last[i] = month
    return result


def spread_kind_sets(bits: int, lasts: tuple) -> list[tuple[int, date | None]]:
    """The kind sets a month reached with the kinds ``bits`` counts for, each with its previous month:
    the latest of its kinds' earlier months (``lasts``, in ``KIND_BIT_ORDER``; None: none).  The month
    adds +1 on (month, month) and, with a previous month, −1 on (previous, month)."""
    spread = []
    for code, set_bits, members in _SET_MEMBERS:
        if bits & set_bits:
            earlier = [lasts[i] for i in members if lasts[i] is not None]
            spread.append((code, max(earlier) if earlier else None))
    return spread


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
    # All kinds, the changed kinds, and every kind set holding one of them.
    kinds = None if old_nef != new_nef else changed_kinds | {ALL_KINDS} | {
        code for code, set_bits in _SETS if any(set_bits & (1 << (kind - 1)) for kind in changed_kinds)}
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
class SpanPart:
    """``sign`` × the sum of the span rows of ``grain`` whose ``column`` ("prev_day" or "day") lies in
    [low, high] and, for column "prev_day", whose day <= ``bound``; for column "day", whose prev_day
    >= ``bound``."""

    sign: int
    grain: int
    column: str
    low: date
    high: date
    bound: date


def month_end(day: date) -> date:
    return next_month(day) - timedelta(days=1)


def split_range(first: date, last: date) -> list[SpanPart]:
    """The parts whose signed sums give the unique workers of [first, last] (inclusive).

    With S(a, b) the sum of the pairs a <= prev_day <= day <= b, the range reads S over whole months
    from the MONTH rows, and corrects each ragged end from the DAY rows: either adding the days
    before the first whole month (pairs starting there) or taking away the days of its month before
    ``first``; either adding the days after the last whole month (pairs ending there) or taking away
    the days of its month after ``last`` — whichever reads fewer days.  With no whole month cheaper,
    the DAY rows of the range itself.  ``tests/reports/test_rules.py`` checks every shape against a
    count of workers.
    """
    day = timedelta(days=1)
    best_cost = (last - first).days + 1
    best = [SpanPart(+1, _DAY, "prev_day", first, last, last)]
    first_month, last_month = first.replace(day=1), last.replace(day=1)
    heads = [(first_month, (first - first_month).days, -1),
             (next_month(first), (next_month(first) - first).days, +1)]
    tails = [(last_month, (month_end(last) - last).days, -1),
             ((last_month - day).replace(day=1), (last - last_month).days + 1, +1)]
    for core_from, head_cost, head_sign in heads:
        for core_to, tail_cost, tail_sign in tails:
            if core_from > core_to or head_cost + tail_cost >= best_cost:
                continue
            best_cost = head_cost + tail_cost
            best = [SpanPart(+1, _MONTH, "prev_day", core_from, core_to, core_to)]
            if head_cost and head_sign > 0:
                best.append(SpanPart(+1, _DAY, "prev_day", first, core_from - day, last))
            elif head_cost:
                best.append(SpanPart(-1, _DAY, "prev_day", core_from, first - day, last))
            if tail_cost and tail_sign > 0:
                best.append(SpanPart(+1, _DAY, "day", month_end(core_to) + day, last, core_from))
            elif tail_cost:
                best.append(SpanPart(-1, _DAY, "day", last + day, month_end(core_to), core_from))
    return best


@dataclass(frozen=True)
class MonthSplit:
    """A range read with a set of kinds (MONTH span rows only): the whole months M = [core_from, end of
    core_to's month] (None: none), the days of the range outside M (``add``) and the days of M
    outside the range (``remove``).  The workers of the range are those of M, plus those reached on
    an ``add`` day but not in M, less those reached on a ``remove`` day but not in the range."""

    core: tuple[date, date] | None
    add: tuple[tuple[date, date], ...]
    remove: tuple[tuple[date, date], ...]

    @property
    def core_days(self) -> tuple[date, date] | None:
        return None if self.core is None else (self.core[0], month_end(self.core[1]))


def split_months(first: date, last: date) -> MonthSplit:
    """[first, last] as whole months and the fewest ragged days (at most about a month in all):
    each end either widened to its month's edge (those days taken away) or cut back to the next
    month's edge (those days added) — or, with no whole month cheaper, every day added."""
    day = timedelta(days=1)
    best_cost = (last - first).days + 1
    best = MonthSplit(None, ((first, last),), ())
    first_month, last_month = first.replace(day=1), last.replace(day=1)
    heads = [(first_month, (), ((first_month, first - day),) if first > first_month else ()),
             (next_month(first), ((first, next_month(first) - day),), ())]
    tails = [(last_month, (), ((last + day, month_end(last)),) if last < month_end(last) else ()),
             ((last_month - day).replace(day=1), ((last_month, last),), ())]
    for core_from, head_add, head_remove in heads:
        for core_to, tail_add, tail_remove in tails:
            ranges = head_add + head_remove + tail_add + tail_remove
            cost = sum((high - low).days + 1 for low, high in ranges)
            if core_from > core_to or cost >= best_cost:
                continue
            best_cost = cost
            best = MonthSplit((core_from, core_to), head_add + tail_add, head_remove + tail_remove)
    return best
