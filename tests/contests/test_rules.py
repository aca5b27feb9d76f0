"""Pure contest rules: scores, normalisation, ranking, cuts with ties, award allocation."""
from __future__ import annotations

import random
from datetime import datetime

import pytest

from unionevents.contests import rules
from unionevents.contests.rules import CriterionSpec, Ranked, TierSpec

CRITERIA = [CriterionSpec(1, 40, 10), CriterionSpec(2, 30, 10), CriterionSpec(3, 30, 100)]
PHOTO_TIERS = [TierSpec(i + 1, q) for i, q in enumerate((5, 15, 25, 35, 40))]


def test_weighted_total_scales_each_criterion_by_its_range():
    assert rules.weighted_total({1: 10, 2: 10, 3: 100}, CRITERIA) == pytest.approx(100)
    assert rules.weighted_total({1: 5, 2: 0, 3: 100}, CRITERIA) == pytest.approx((40 * 50 + 0 + 30 * 100) / 100)
    assert rules.weighted_total({1: 5, 2: 5}, CRITERIA) is None  # incomplete sheet


def test_judge_totals_leave_incomplete_sheets_out():
    rows = [(7, 100, 1, 10), (7, 100, 2, 10), (7, 100, 3, 100), (8, 100, 1, 5)]
    assert rules.judge_totals(rows, CRITERIA) == {7: {100: pytest.approx(100)}}


def test_z_scores_per_judge_even_out_strict_and_lenient_judges():
    totals = {1: {10: 90, 11: 80, 12: 70}, 2: {10: 50, 11: 40, 12: 30}}  # same order, different strictness
    zs = rules.z_scores(totals)
    assert zs[1] == pytest.approx(zs[2])
    assert zs[1][10] > 0 > zs[1][12] and zs[1][11] == pytest.approx(0)
    assert rules.z_scores({3: {1: 60, 2: 60}})[3] == {1: 0.0, 2: 0.0}  # no spread: zero, not a division error


def test_aggregate_means_normalisation_and_public_vote():
    totals = {1: {10: 90, 11: 70}, 2: {10: 60, 11: 80}}
    plain = rules.aggregate([10, 11, 12], totals)
    assert plain[10].jury == pytest.approx(75) and plain[11].jury == pytest.approx(75)
    assert plain[12].jury is None and plain[12].final is None and plain[12].judges == 0
    combined = rules.aggregate([10, 11], totals, votes={10: 50, 11: 25}, jury_weight=60, public_weight=40)
    assert combined[10].public == pytest.approx(100) and combined[11].public == pytest.approx(50)
    assert combined[10].final == pytest.approx(0.6 * 75 + 0.4 * 100)
    assert combined[11].final == pytest.approx(0.6 * 75 + 0.4 * 50)
    normalised = rules.aggregate([10, 11], totals, normalise=True)
    assert normalised[10].final == pytest.approx(50)  # +1 and -1 z: mean 0 → T-score 50


def test_public_scores_scale_to_the_most_voted_and_survive_no_votes():
    assert rules.public_scores({1: 0, 2: 0}) == {1: 0.0, 2: 0.0}
    assert rules.public_scores({1: 10, 2: 5}) == {1: 100.0, 2: 50.0}


@pytest.mark.parametrize("value, problem", [
    (None, "missing"), ("abc", "not_number"), (float("nan"), "not_number"), (-1, "out_of_range"),
    (10.5, "out_of_range"), (7.25, "too_precise"), (True, "missing"), (7.5, None), ("10", None), (0, None),
])
def test_score_range_is_checked(value, problem):
    assert rules.score_error(value, 10) == problem


def test_rank_uses_competition_ranking_for_ties():
    ranked = rules.rank({1: 90, 2: 95, 3: 90, 4: 80, 5: None})
    assert [(r.entry_id, r.rank) for r in ranked] == [(2, 1), (1, 2), (3, 2), (4, 4)]
    assert rules.rank({1: 0.1 + 0.2, 2: 0.3})[1].rank == 1  # float noise is not a difference


def _ranked(scores):
    return rules.rank(dict(enumerate(scores, start=1)))


def test_top_n_without_ties():
    cut = rules.select_advancing(_ranked([90, 80, 70, 60]), top_n=2)
    assert cut.sure == [1, 2] and not cut.needs_decision


def test_top_n_with_a_tie_at_the_cut_needs_a_decision():
    cut = rules.select_advancing(_ranked([90, 80, 70, 70, 70, 60]), top_n=3)
    assert cut.sure == [1, 2]
    assert cut.tied == [3, 4, 5] and cut.slots == 1 and cut.needs_decision


def test_top_n_tie_that_fits_exactly_needs_no_decision():
    cut = rules.select_advancing(_ranked([90, 80, 80, 60]), top_n=3)
    assert cut.sure == [1, 2, 3] and not cut.needs_decision


def test_threshold_takes_everyone_at_or_above_it():
    cut = rules.select_advancing(_ranked([90, 80, 80, 79.99]), threshold=80)
    assert cut.sure == [1, 2, 3]
    with pytest.raises(ValueError):
        rules.select_advancing([], top_n=1, threshold=1)


def test_award_allocation_of_383_ranked_entries_is_exactly_5_15_25_35_40():
    rng = random.Random(383)
    scores = rng.sample(range(100_000), 383)
    allocation = rules.allocate_awards(rules.rank(dict(enumerate(scores))), PHOTO_TIERS)
    assert allocation.counts() == {1: 5, 2: 15, 3: 25, 4: 35, 5: 40}
    assert len(allocation.awards) == 120 and not allocation.ties
    best = sorted(range(383), key=lambda i: -scores[i])
    assert {e for e, tier, _r in allocation.awards if tier == 1} == set(best[:5])


def test_ties_never_push_a_tier_beyond_its_quota():
    # Entries 5 and 6 tie across the special-prize boundary: both go to the next tier.
    scores = [100, 99, 98, 97, 96, 96] + list(range(90, 0, -1))
    allocation = rules.allocate_awards(_ranked(scores), PHOTO_TIERS)
    counts = allocation.counts()
    assert counts[1] == 4
    assert all(counts.get(t.id, 0) <= t.quota for t in PHOTO_TIERS)
    tier_of = {e: t for e, t, _r in allocation.awards}
    assert tier_of[5] == tier_of[6] == 2
    assert allocation.ties == [rules.TieAtCut(1, (5, 6), 1)]


def test_allocation_with_random_ties_respects_every_quota():
    rng = random.Random(7)
    for _ in range(50):
        scores = {i: rng.randint(0, 30) for i in range(150)}
        allocation = rules.allocate_awards(rules.rank(scores), PHOTO_TIERS)
        counts = allocation.counts()
        assert all(counts.get(t.id, 0) <= t.quota for t in PHOTO_TIERS)
        tier_of = {e: t for e, t, _r in allocation.awards}
        for a in tier_of:  # equal scores never get different tiers
            for b in tier_of:
                if scores[a] == scores[b]:
                    assert tier_of[a] == tier_of[b]


def test_vote_day_is_the_beijing_calendar_day():
    assert str(rules.vote_day(datetime(2026, 5, 1, 15, 59))) == "2026-05-01"
    assert str(rules.vote_day(datetime(2026, 5, 1, 16, 0))) == "2026-05-02"  # midnight in Beijing
