"""report_reach_span's arithmetic without a database: any range's sum is the number of workers reached."""
from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

from unionevents.activities.models import ActivityKind
from unionevents.reports.models import (ALL_KINDS, COUNTED_NEF, KIND_CODES, KIND_SET, KIND_SET_CODES, ReachMeasure,
                                        SpanGrain, kinds_code)
from unionevents.reports.rules import (PLAIN_KINDS, MonthSplit, RowState, day_spans, month_signatures, settle_deltas,
                                       split_months, split_range, spread_kind_sets, worker_spans)

D = date


def parts(first, last):
    return {(p.sign, p.grain, p.column, p.low, p.high, p.bound) for p in split_range(first, last)}


DAY, MONTH = SpanGrain.DAY.value, SpanGrain.MONTH.value


def test_a_quarter_is_three_whole_months():
    assert parts(D(2026, 10, 1), D(2026, 12, 31)) == {(1, MONTH, "prev_day", D(2026, 10, 1), D(2026, 12, 1),
                                                       D(2026, 12, 1))}


def test_a_ragged_year_adds_a_few_days_and_takes_away_a_few_more():
    """2025-11-28 … 2026-11-27: the MONTH rows of 2025-12 … 2026-11, plus the pairs starting on
    11-28 … 11-30, minus the pairs ending on 2026-11-28 … 11-30 (six days of DAY rows, not 30)."""
    assert parts(D(2025, 11, 28), D(2026, 11, 27)) == {
        (1, MONTH, "prev_day", D(2025, 12, 1), D(2026, 11, 1), D(2026, 11, 1)),
        (1, DAY, "prev_day", D(2025, 11, 28), D(2025, 11, 30), D(2026, 11, 27)),
        (-1, DAY, "day", D(2026, 11, 28), D(2026, 11, 30), D(2025, 12, 1)),
    }


def test_short_ranges_read_the_cheaper_side():
    assert parts(D(2025, 3, 10), D(2025, 3, 14)) == {  # five days
        (1, DAY, "prev_day", D(2025, 3, 10), D(2025, 3, 14), D(2025, 3, 14))}
    assert parts(D(2025, 3, 1), D(2025, 3, 20)) == {  # the month minus its last eleven days
        (1, MONTH, "prev_day", D(2025, 3, 1), D(2025, 3, 1), D(2025, 3, 1)),
        (-1, DAY, "day", D(2025, 3, 21), D(2025, 3, 31), D(2025, 3, 1))}
    assert parts(D(2025, 3, 3), D(2025, 3, 29)) == {  # the month minus two days and two days
        (1, MONTH, "prev_day", D(2025, 3, 1), D(2025, 3, 1), D(2025, 3, 1)),
        (-1, DAY, "prev_day", D(2025, 3, 1), D(2025, 3, 2), D(2025, 3, 29)),
        (-1, DAY, "day", D(2025, 3, 30), D(2025, 3, 31), D(2025, 3, 1))}
    assert parts(D(2025, 12, 31), D(2025, 12, 31)) == {
        (1, DAY, "prev_day", D(2025, 12, 31), D(2025, 12, 31), D(2025, 12, 31))}


def test_one_worker_adds_one_per_day_and_takes_one_per_gap():
    rows = day_spans([D(2025, 5, 3), D(2025, 5, 20), D(2025, 6, 2)])
    assert rows[(SpanGrain.DAY, D(2025, 5, 3), D(2025, 5, 3))] == 1
    assert rows[(SpanGrain.DAY, D(2025, 5, 3), D(2025, 5, 20))] == -1
    assert rows[(SpanGrain.DAY, D(2025, 5, 20), D(2025, 6, 2))] == -1
    # per month: May holds two days and the gap between them; the gap into June is its own cell
    assert rows[(SpanGrain.MONTH, D(2025, 5, 1), D(2025, 5, 1))] == 1
    assert rows[(SpanGrain.MONTH, D(2025, 5, 1), D(2025, 6, 1))] == -1
    assert rows[(SpanGrain.MONTH, D(2025, 6, 1), D(2025, 6, 1))] == 1


def _sum_over(first, last, spans: Counter) -> int:
    """What reports.queries reads for [first, last], applied to span rows (grain, prev_day, day) → weight."""
    total = 0
    for part in split_range(first, last):
        for (grain, prev_day, day), weight in spans.items():
            if grain != part.grain:
                continue
            if part.column == "prev_day" and part.low <= prev_day <= part.high and day <= part.bound:
                total += part.sign * weight
            if part.column == "day" and part.low <= day <= part.high and prev_day >= part.bound:
                total += part.sign * weight
    return total


def test_every_range_sums_to_the_workers_reached_in_it():
    rng = random.Random(6)
    start = D(2024, 11, 1)
    workers = [sorted({start + timedelta(days=rng.randrange(600)) for _ in range(rng.randint(1, 12))})
               for _ in range(60)]
    spans: Counter = Counter()
    for days in workers:
        spans.update(day_spans(days))
    edges = [start + timedelta(days=n) for n in range(-5, 610, 1)]
    for _ in range(600):
        first = rng.choice(edges)
        length = rng.choice([0, 1, 6, 20, 30, 31, 45, 59, 90, 91, 120, 364, 365, 400, 700])
        last = first + timedelta(days=length)
        if rng.random() < 0.3:  # whole-month edges are the interesting cases
            first = first.replace(day=1)
        if rng.random() < 0.2:
            last = (last.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        expected = sum(1 for days in workers if any(first <= day <= last for day in days))
        assert _sum_over(first, last, spans) == expected, (first, last)


def test_all_kinds_count_a_worker_once_a_day_and_each_kind_apart():
    rows = {(D(2025, 5, 3), "class"): ReachMeasure.PLACES.bit | ReachMeasure.ATTENDED.bit,
            (D(2025, 5, 3), "meeting"): ReachMeasure.PLACES.bit,
            (D(2025, 5, 9), "meeting"): ReachMeasure.PLACES.bit}
    spans = worker_spans(rows, [ReachMeasure.PLACES, ReachMeasure.ATTENDED])
    day, month = SpanGrain.DAY.value, SpanGrain.MONTH.value
    places, attended = ReachMeasure.PLACES.value, ReachMeasure.ATTENDED.value
    meeting, class_ = KIND_CODES[ActivityKind.MEETING], KIND_CODES[ActivityKind.CLASS_]
    assert spans[(places, ALL_KINDS, day, D(2025, 5, 3), D(2025, 5, 3))] == 1
    assert spans[(places, ALL_KINDS, day, D(2025, 5, 3), D(2025, 5, 9))] == -1
    assert spans[(places, meeting, day, D(2025, 5, 3), D(2025, 5, 9))] == -1
    assert spans[(places, class_, month, D(2025, 5, 1), D(2025, 5, 1))] == 1
    assert spans[(attended, ALL_KINDS, day, D(2025, 5, 3), D(2025, 5, 3))] == 1
    assert (attended, meeting, day, D(2025, 5, 3), D(2025, 5, 3)) not in spans


def _bits(rng) -> int:
    """Random reach bits that could happen: attended and own only with a place."""
    places = rng.random() < 0.7
    attended, own = places and rng.random() < 0.5, places and rng.random() < 0.4
    return (ReachMeasure.PLACES.bit * places | ReachMeasure.ATTENDED.bit * attended
            | ReachMeasure.OWN_PLACES.bit * own | ReachMeasure.OWN_ATTENDED.bit * (own and attended))


def _spans_with_nef(states, attr: str, nef: bool) -> Counter:
    result: Counter = Counter()
    rows = {(s.day, s.kind): getattr(s, attr) & ~COUNTED_NEF for s in states}
    for key, weight in worker_spans(rows).items():
        result[(key, "workers")] += weight
        result[(key, "nef")] += weight * nef
    return result


def test_settling_moves_the_span_rows_from_what_was_counted_to_what_is():
    """Whatever changed (days, kinds, measures, the nef flag): counted spans + deltas = current spans."""
    rng = random.Random(7)
    kinds = [kind.value for kind in KIND_CODES]
    for _ in range(400):
        keys = {(D(2025, 12, 1) + timedelta(days=rng.randrange(70)), rng.choice(kinds))
                for _ in range(rng.randint(1, 8))}
        old_nef = rng.random() < 0.3
        new_nef = (rng.random() < 0.5) if rng.random() < 0.2 else old_nef
        states = []
        for day, kind in keys:
            counted = _bits(rng)
            current = counted if rng.random() < 0.5 else _bits(rng)
            states.append(RowState(day, kind, counted | COUNTED_NEF * old_nef,
                                   current | COUNTED_NEF * new_nef))
        settled = _spans_with_nef(states, "counted", old_nef)
        for key, (workers, nef) in settle_deltas(states).items():
            settled[(key, "workers")] += workers
            settled[(key, "nef")] += nef
        want = _spans_with_nef(states, "current", new_nef)
        assert {k: v for k, v in settled.items() if v} == {k: v for k, v in want.items() if v}


def test_nothing_changed_nothing_to_settle():
    states = [RowState(D(2025, 5, 3), "class", 3, 3), RowState(D(2025, 5, 4), "swap", 1 | COUNTED_NEF,
                                                                1 | COUNTED_NEF)]
    assert settle_deltas(states) == {}


def test_kinds_codes():
    assert kinds_code([]) == kinds_code(list(ActivityKind)) == ALL_KINDS
    assert kinds_code([ActivityKind.MEETING]) == KIND_CODES[ActivityKind.MEETING]
    assert kinds_code([ActivityKind.HEALTH, ActivityKind.CLASS_]) == KIND_SET + 0b11
    assert len(KIND_SET_CODES) == 25 and min(KIND_SET_CODES) > max(KIND_CODES.values())


def test_a_kind_set_reads_whole_months_and_the_fewest_ragged_days():
    assert split_months(D(2026, 10, 1), D(2026, 12, 31)) == MonthSplit((D(2026, 10, 1), D(2026, 12, 1)), (), ())
    # the ragged twelve months: three days added at the start, three days of the last month taken away
    assert split_months(D(2025, 11, 28), D(2026, 11, 27)) == MonthSplit(
        (D(2025, 12, 1), D(2026, 11, 1)), ((D(2025, 11, 28), D(2025, 11, 30)),), ((D(2026, 11, 28), D(2026, 11, 30)),))
    assert split_months(D(2025, 3, 10), D(2025, 3, 14)) == MonthSplit(None, ((D(2025, 3, 10), D(2025, 3, 14)),), ())
    assert split_months(D(2025, 3, 3), D(2025, 4, 29)) == MonthSplit(
        (D(2025, 3, 1), D(2025, 4, 1)), (), ((D(2025, 3, 1), D(2025, 3, 2)), (D(2025, 4, 30), D(2025, 4, 30))))
    assert split_months(D(2025, 3, 29), D(2025, 5, 2)) == MonthSplit(
        (D(2025, 4, 1), D(2025, 4, 1)), ((D(2025, 3, 29), D(2025, 3, 31)), (D(2025, 5, 1), D(2025, 5, 2))), ())


def test_every_kind_set_and_range_sums_to_the_workers_reached_in_it():
    """The MONTH rows of a set of kinds over the whole months, plus the workers reached on the days
    added and not in those months, less those reached on the days taken away and not in the range."""
    rng = random.Random(61)
    start, kinds = D(2024, 11, 1), [kind.value for kind in KIND_CODES]
    workers = [{(start + timedelta(days=rng.randrange(500)), rng.choice(kinds)) for _ in range(rng.randint(1, 10))}
               for _ in range(50)]
    spans: Counter = Counter()
    for rows in workers:
        spans.update(worker_spans({key: ReachMeasure.PLACES.bit for key in rows}, [ReachMeasure.PLACES]))
    assert not any(key[1] >= KIND_SET and key[2] == SpanGrain.DAY.value for key in spans)
    sets = [[kind.value for kind in KIND_CODES if (code - KIND_SET) & (1 << (KIND_CODES[kind] - 1))]
            for code in KIND_SET_CODES]

    def reached(rows, chosen, low, high):
        return any(low <= day <= high and kind in chosen for day, kind in rows)

    for _ in range(300):
        first = start + timedelta(days=rng.randrange(-5, 510))
        last = first + timedelta(days=rng.choice([0, 1, 6, 20, 30, 31, 45, 59, 90, 120, 364, 400]))
        if rng.random() < 0.3:
            first = first.replace(day=1)
        split = split_months(first, last)
        for code, chosen in zip(KIND_SET_CODES, sets):
            total = 0
            if split.core:
                total = sum(weight for (_m, kinds_, grain, prev_month, month), weight in spans.items()
                            if kinds_ == code and split.core[0] <= prev_month and month <= split.core[1])
            months = split.core_days
            for rows in workers:
                if any(reached(rows, chosen, *days) for days in split.add) and not (
                        months and reached(rows, chosen, *months)):
                    total += 1
                if any(reached(rows, chosen, *days) for days in split.remove) and not reached(rows, chosen, first,
                                                                                              last):
                    total -= 1
            assert total == sum(reached(rows, chosen, first, last) for rows in workers), (first, last, chosen)


def test_month_signatures_spread_over_the_sets_give_the_same_rows():
    """What the rebuild (and check) count per group of workers equals each worker's own kind-set rows."""
    rng = random.Random(62)
    kinds = [kind.value for kind in KIND_CODES]
    for _ in range(200):
        rows = {(D(2025, 6, 1) + timedelta(days=rng.randrange(400)), rng.choice(kinds)): _bits(rng)
                for _ in range(rng.randint(1, 9))}
        want = {key: weight for key, weight in worker_spans(rows).items()
                if key[1] >= KIND_SET and weight}
        assert not {key for key in worker_spans(rows, kinds=PLAIN_KINDS) if key[1] >= KIND_SET}
        have: Counter = Counter()
        for measure in ReachMeasure:
            for month, bits, lasts in month_signatures(rows, measure.bit):
                for code, previous in spread_kind_sets(bits, lasts):
                    have[(measure.value, code, SpanGrain.MONTH.value, month, month)] += 1
                    if previous is not None:
                        have[(measure.value, code, SpanGrain.MONTH.value, previous, month)] -= 1
        assert {key: weight for key, weight in have.items() if weight} == want


def test_the_default_range_is_the_year_so_far_and_the_next_quarter():
    from unionevents.reports.queries import default_range

    # In December the January contest whose results are already out is inside the default range.
    assert default_range(D(2026, 12, 7)) == (D(2026, 1, 1), D(2027, 3, 31))
    assert default_range(D(2026, 1, 1)) == (D(2026, 1, 1), D(2026, 6, 30))
    assert default_range(D(2026, 5, 15)) == (D(2026, 1, 1), D(2026, 9, 30))
