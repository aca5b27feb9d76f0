"""The benchmarks' nearest-rank percentile: p95 of 20 timings is the 19th, so one slow request in twenty
does not make the page's p95 (bench/reports.py times 20 requests a page)."""
from __future__ import annotations

import math
import random

from bench.common import percentile


def test_nearest_rank_on_twenty_values():
    values = [float(v) for v in range(1, 21)]
    random.Random(3).shuffle(values)
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile(values, 100) == 20.0
    assert percentile(values, 0) == 1.0


def test_nearest_rank_on_two_thousand_values():
    values = [float(v) for v in range(1, 2001)]
    assert percentile(values, 99) == 1980.0
    assert percentile(values, 95) == 1900.0
    assert percentile(values, 99.9) == 1998.0


def test_one_value_and_none():
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 95))
