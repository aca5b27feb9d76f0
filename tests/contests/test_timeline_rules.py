"""Pure rules of the contest timeline: when a round may open, when results may be published, and award
quotas as maxima (proportional caps, minimum score per tier)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from unionevents.contests import rules
from unionevents.contests.rules import Ranked, TierSpec

PHOTO = [TierSpec(i + 1, q) for i, q in enumerate((5, 15, 25, 35, 40))]
DEADLINE = datetime(2026, 5, 31, 15, 59)


def _ranked(scores: list[float]) -> list[Ranked]:
    return rules.rank(dict(enumerate(scores, start=100)))


def test_first_round_waits_for_the_deadline_unless_closed_early_with_a_reason():
    before = DEADLINE - timedelta(minutes=1)
    assert rules.open_round_refusal(True, before, DEADLINE, None) == rules.SUBMISSIONS_OPEN
    assert rules.open_round_refusal(True, before, DEADLINE, "   ") == rules.SUBMISSIONS_OPEN
    assert rules.open_round_refusal(True, before, DEADLINE, "评委下周出差") is None
    assert rules.open_round_refusal(True, DEADLINE, DEADLINE, None) is None
    # Later rounds take only advanced entries: the deadline does not matter to them.
    assert rules.open_round_refusal(False, before, DEADLINE, None) is None


def test_publishing_is_refused_while_a_round_is_open_or_nothing_is_awarded():
    assert rules.publish_refusal(open_rounds=1, awards=10) == rules.ROUND_OPEN
    assert rules.publish_refusal(open_rounds=0, awards=0) == rules.NO_AWARDS
    assert rules.publish_refusal(open_rounds=0, awards=3) is None


def test_caps_are_the_quotas_once_entries_fill_every_place():
    assert rules.tier_caps([5, 15, 25, 35, 40], 383) == [5, 15, 25, 35, 40]
    assert rules.tier_caps([5, 15, 25, 35, 40], 120) == [5, 15, 25, 35, 40]
    assert rules.tier_caps([5, 15, 25, 35, 40], None) == [5, 15, 25, 35, 40]


def test_caps_shrink_in_proportion_for_a_small_contest():
    assert rules.tier_caps([5, 15, 25, 35, 40], 4) == [1, 1, 1, 2, 2]
    assert rules.tier_caps([3, 6, 9], 12) == [2, 4, 6]
    assert rules.tier_caps([5, 15, 25, 35, 40], 0) == [0, 0, 0, 0, 0]
    assert all(c <= q for c, q in zip(rules.tier_caps([5, 15, 25, 35, 40], 60), [5, 15, 25, 35, 40]))


def test_four_entries_no_longer_all_get_the_top_prize():
    allocation = rules.allocate_awards(_ranked([91, 85, 77, 60]), PHOTO, entries=4)
    by_entry = {entry: tier for entry, tier, _rank in allocation.awards}
    assert by_entry == {100: 1, 101: 2, 102: 3, 103: 4}
    assert allocation.counts()[1] == 1


def test_383_entries_still_give_exactly_5_15_25_35_40():
    scores = random.Random(383).sample(range(100_000), 383)
    allocation = rules.allocate_awards(rules.rank(dict(enumerate(scores))), PHOTO, entries=383)
    assert [allocation.counts()[t.id] for t in PHOTO] == [5, 15, 25, 35, 40]


def test_an_entry_below_a_tiers_minimum_goes_to_the_next_tier_it_reaches():
    tiers = [TierSpec(1, 5, min_score=90), TierSpec(2, 5, min_score=80), TierSpec(3, 5, min_score=None)]
    allocation = rules.allocate_awards(_ranked([95, 88, 82, 79, 40]), tiers, entries=50)
    by_entry = {entry: tier for entry, tier, _rank in allocation.awards}
    assert by_entry == {100: 1, 101: 2, 102: 2, 103: 3, 104: 3}
    assert not allocation.ties


def test_nobody_reaching_a_minimum_leaves_the_tier_empty_and_no_tie_is_reported():
    tiers = [TierSpec(1, 2, min_score=99), TierSpec(2, 2, min_score=50)]
    allocation = rules.allocate_awards(_ranked([70, 70, 70, 30]), tiers, entries=40)
    assert allocation.counts() == {}  # the tie of three does not fit the second tier's two places
    assert [(t.tier_id, t.entry_ids, t.free) for t in allocation.ties] == [(2, (100, 101, 102), 2)]


def test_a_minimum_exactly_reached_counts_despite_float_noise():
    tiers = [TierSpec(1, 1, min_score=0.3)]
    allocation = rules.allocate_awards([Ranked(1, 0.1 + 0.2, 1)], tiers)
    assert allocation.awards == [(1, 1, 1)]
