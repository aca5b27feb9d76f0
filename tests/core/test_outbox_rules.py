"""The outbox's pure rules: backoff with jitter, quiet hours (Beijing time), the bulk limit per recipient."""
from datetime import datetime, time, timedelta

import pytest

from unionevents.core.outbox_rules import backoff_seconds, bulk_hold_until, quiet_hours_end


@pytest.mark.parametrize("attempts, low, high", [(1, 15, 30), (2, 30, 60), (3, 60, 120), (8, 1800, 3600),
                                                 (20, 1800, 3600)])
def test_backoff_doubles_up_to_the_cap_and_keeps_at_least_half(attempts, low, high):
    assert backoff_seconds(attempts, 30, 3600, rand=lambda: 0.0) == low
    assert backoff_seconds(attempts, 30, 3600, rand=lambda: 1.0) == high
    assert low <= backoff_seconds(attempts, 30, 3600) <= high


def test_backoff_jitter_spreads_a_burst_of_failures():
    waits = {round(backoff_seconds(3, 30, 3600), 3) for _ in range(50)}
    assert len(waits) > 40


# Beijing is UTC+8 all year: 22:00 Beijing = 14:00 UTC, 07:00 Beijing = 23:00 UTC the day before.
@pytest.mark.parametrize("utc, ends", [
    (datetime(2026, 12, 7, 13, 59), None),                          # 21:59 Beijing
    (datetime(2026, 12, 7, 14, 0), datetime(2026, 12, 7, 23, 0)),   # 22:00 → 07:00 next morning
    (datetime(2026, 12, 7, 18, 30), datetime(2026, 12, 7, 23, 0)),  # 02:30 Beijing
    (datetime(2026, 12, 7, 22, 59), datetime(2026, 12, 7, 23, 0)),  # 06:59 Beijing
    (datetime(2026, 12, 7, 23, 0), None),                           # 07:00 Beijing
    (datetime(2026, 12, 8, 4, 0), None),                            # noon
])
def test_quiet_hours_are_the_beijing_night(utc, ends):
    assert quiet_hours_end(utc) == ends


def test_quiet_hours_can_be_moved_or_switched_off():
    noon_beijing = datetime(2026, 12, 8, 4, 0)
    assert quiet_hours_end(noon_beijing, time(12), time(14)) == datetime(2026, 12, 8, 6, 0)
    assert quiet_hours_end(datetime(2026, 12, 7, 18, 30), time(0), time(0)) is None


def test_bulk_limit_defers_until_the_oldest_leaves_the_hour():
    at = datetime(2026, 12, 7, 4, 0)
    sent = [at - timedelta(minutes=50), at - timedelta(minutes=20), at - timedelta(minutes=90)]
    assert bulk_hold_until(sent, at, limit=3) is None              # only two inside the hour
    assert bulk_hold_until(sent, at, limit=2) == at + timedelta(minutes=10)
    assert bulk_hold_until(sent, at, limit=1) == at + timedelta(minutes=40)
    assert bulk_hold_until(sent, at, limit=0) is None              # no limit
    assert bulk_hold_until([], at, limit=1) is None
