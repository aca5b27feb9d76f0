"""Pure rules of the registration engine: no database, no app."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta


from unionevents.accounts.models import NEW_EMPLOYMENT_FORM, Occupation
from unionevents.activities.models import (
    ActivityKind, ActivityStatus, QuestionKind, SignupMode, Visibility,
)
from unionevents.registrations import rules
from unionevents.registrations.models import PLACE_STATES, RegistrationState as S
from unionevents.registrations.rules import Refusal

NOW = datetime(2026, 5, 1, 2, 0)  # 10:00 in Beijing


def activity(**changes) -> rules.ActivityFacts:
    values = dict(id=1, title="花卉养护课", kind=ActivityKind.CLASS_, mode=SignupMode.FIRST_COME,
                  status=ActivityStatus.PUBLISHED, visibility=Visibility.PUBLIC,
                  starts_at=NOW + timedelta(days=5), signup_opens_at=NOW - timedelta(days=1),
                  signup_closes_at=NOW + timedelta(days=4))
    values.update(changes)
    return rules.ActivityFacts(**values)


def worker(**changes) -> rules.WorkerFacts:
    values = dict(id=7, union_id=12, union_path="/1/5/12/", occupation=Occupation.RIDER)
    values.update(changes)
    return rules.WorkerFacts(**values)


def codes(refusals):
    return [code for code, _message in refusals]


def messages(refusals):
    return [str(message) for _code, message in refusals]


# --------------------------------------------------------------------------- state machine

class TestTransitions:
    def test_table_is_exactly_the_documented_one(self):
        legal = {(old, new) for old, targets in rules.TRANSITIONS.items() for new in targets}
        assert legal == {
            (S.PENDING, S.CONFIRMED), (S.PENDING, S.WAITLISTED), (S.PENDING, S.REJECTED),
            (S.PENDING, S.NOT_DRAWN), (S.PENDING, S.CANCELLED),
            (S.CONFIRMED, S.CANCELLED), (S.CONFIRMED, S.ATTENDED), (S.CONFIRMED, S.NO_SHOW),
            (S.WAITLISTED, S.CONFIRMED), (S.WAITLISTED, S.CANCELLED),
            (S.ATTENDED, S.CONFIRMED), (S.NO_SHOW, S.ATTENDED),
        }

    def test_every_state_has_an_entry_and_end_states_are_final(self):
        assert set(rules.TRANSITIONS) == set(S)
        for final in (S.CANCELLED, S.REJECTED, S.NOT_DRAWN):
            assert rules.TRANSITIONS[final] == frozenset()

    def test_refusal_message_exactly_for_illegal_moves(self):
        for old in S:
            for new in S:
                refusal = rules.transition_refusal(old, new)
                assert (refusal is None) == (new in rules.TRANSITIONS[old]), (old, new)
                if refusal is not None:
                    assert str(new.title) in str(refusal)

    def test_place_delta_follows_holds_place(self):
        assert set(PLACE_STATES) == {S.CONFIRMED, S.ATTENDED}
        for old, new, delta in [
            (S.PENDING, S.CONFIRMED, 1), (S.WAITLISTED, S.CONFIRMED, 1), (S.CONFIRMED, S.CANCELLED, -1),
            (S.CONFIRMED, S.ATTENDED, 0), (S.ATTENDED, S.CONFIRMED, 0), (S.CONFIRMED, S.NO_SHOW, -1),
            (S.NO_SHOW, S.ATTENDED, 1), (S.PENDING, S.WAITLISTED, 0), (S.WAITLISTED, S.CANCELLED, 0),
        ]:
            assert rules.place_delta(old, new) == delta, (old, new)

    def test_worker_cancellation_deadline(self):
        start = NOW + timedelta(days=2)
        cutoff = NOW + timedelta(days=1)
        assert rules.worker_may_cancel(S.CONFIRMED, NOW, start, cutoff)
        assert not rules.worker_may_cancel(S.CONFIRMED, cutoff, start, cutoff)
        assert rules.worker_may_cancel(S.CONFIRMED, cutoff, start, None)  # no cut-off: until the start
        assert not rules.worker_may_cancel(S.CONFIRMED, start, start, None)
        # leaving the waiting list or withdrawing an application stays possible until the start
        assert rules.worker_may_cancel(S.WAITLISTED, cutoff, start, cutoff)
        assert rules.worker_may_cancel(S.PENDING, cutoff, start, cutoff)
        assert not rules.worker_may_cancel(S.WAITLISTED, start, start, cutoff)


# --------------------------------------------------------------------------- eligibility

class TestEligibility:
    def test_open_public_activity_accepts_a_logged_in_worker(self):
        assert rules.eligibility_refusals(worker(), activity(), NOW) == []

    def test_not_logged_in(self):
        refusals = rules.eligibility_refusals(None, activity(), NOW)
        assert codes(refusals) == [Refusal.NOT_LOGGED_IN]
        assert "log in" in messages(refusals)[0]

    def test_draft_and_cancelled_activities(self):
        assert codes(rules.eligibility_refusals(worker(), activity(status=ActivityStatus.DRAFT), NOW)) == [
            Refusal.NOT_PUBLISHED]
        refusals = rules.eligibility_refusals(worker(), activity(status=ActivityStatus.CANCELLED), NOW)
        assert codes(refusals) == [Refusal.ACTIVITY_CANCELLED]
        assert "cancelled" in messages(refusals)[0]

    def test_window_not_open_and_closed_name_the_local_time(self):
        early = activity(signup_opens_at=NOW + timedelta(hours=1))
        refusals = rules.eligibility_refusals(worker(), early, NOW)
        assert codes(refusals) == [Refusal.NOT_OPEN_YET]
        assert "2026-05-01 11:00" in messages(refusals)[0]  # 03:00 UTC is 11:00 in Beijing
        late = activity(signup_closes_at=NOW)
        refusals = rules.eligibility_refusals(worker(), late, NOW)
        assert codes(refusals) == [Refusal.CLOSED]
        assert "2026-05-01 10:00" in messages(refusals)[0]
        assert rules.eligibility_refusals(worker(), late, NOW, ignore_window=True) == []

    def test_window_state(self):
        assert rules.window_state(NOW, NOW, NOW + timedelta(1)) == rules.Window.OPEN
        assert rules.window_state(NOW, NOW + timedelta(1), NOW + timedelta(2)) == rules.Window.NOT_OPEN
        assert rules.window_state(NOW, NOW - timedelta(2), NOW) == rules.Window.CLOSED

    def test_members_only(self):
        refusals = rules.eligibility_refusals(worker(union_id=None, union_path=None),
                                              activity(members_only=True), NOW)
        assert codes(refusals) == [Refusal.MEMBERS_ONLY]
        assert "members" in messages(refusals)[0]
        assert rules.eligibility_refusals(worker(), activity(members_only=True), NOW) == []

    def test_new_employment_form_only_lists_the_occupations(self):
        facts = activity(occupations=NEW_EMPLOYMENT_FORM)
        refusals = rules.eligibility_refusals(worker(occupation=Occupation.TEACHER), facts, NOW)
        assert codes(refusals) == [Refusal.OCCUPATION]
        text = messages(refusals)[0]
        assert "new-employment-form" in text
        for words in ("Delivery rider", "Courier", "Ride-hailing driver", "Truck driver", "Domestic worker"):
            assert words in text
        assert rules.eligibility_refusals(worker(occupation=Occupation.COURIER), facts, NOW) == []

    def test_other_occupation_lists(self):
        facts = activity(occupations=frozenset({Occupation.TEACHER}))
        refusals = rules.eligibility_refusals(worker(), facts, NOW)
        assert "Teacher" in messages(refusals)[0]

    def test_eligible_nodes_use_the_path_prefix(self):
        facts = activity(eligible_nodes=(rules.NodeRef(5, "/1/5/", "朝阳区总工会"),))
        assert rules.eligibility_refusals(worker(union_path="/1/5/12/"), facts, NOW) == []
        assert rules.eligibility_refusals(worker(union_path="/1/5/"), facts, NOW) == []
        refusals = rules.eligibility_refusals(worker(union_path="/1/55/"), facts, NOW)  # not a prefix match
        assert codes(refusals) == [Refusal.NODE]
        assert "朝阳区总工会" in messages(refusals)[0]
        assert codes(rules.eligibility_refusals(worker(union_id=None, union_path=None), facts, NOW)) == [
            Refusal.NODE]

    def test_invitation_needs_a_unit_with_a_quota(self):
        facts = activity(visibility=Visibility.INVITATION, quota_nodes=(rules.NodeRef(5, "/1/5/", "A"),))
        assert rules.eligibility_refusals(worker(union_path="/1/5/12/"), facts, NOW) == []
        refusals = rules.eligibility_refusals(worker(union_path="/1/6/"), facts, NOW)
        assert codes(refusals) == [Refusal.INVITATION]
        assert "invitation" in messages(refusals)[0]

    def test_quota_mode_without_a_unit(self):
        facts = activity(mode=SignupMode.QUOTA, quota_nodes=(rules.NodeRef(5, "/1/5/", "A"),))
        assert codes(rules.eligibility_refusals(worker(union_path="/1/6/"), facts, NOW)) == [Refusal.NO_QUOTA]

    def test_every_reason_is_listed(self):
        facts = activity(members_only=True, occupations=frozenset({Occupation.TEACHER}),
                         signup_closes_at=NOW)
        refusals = rules.eligibility_refusals(worker(union_id=None, union_path=None), facts, NOW)
        assert codes(refusals) == [Refusal.CLOSED, Refusal.MEMBERS_ONLY, Refusal.OCCUPATION]

    def test_quota_unit_is_the_nearest_ancestor_with_a_quota(self):
        nodes = (rules.NodeRef(1, "/1/"), rules.NodeRef(5, "/1/5/"), rules.NodeRef(9, "/1/9/"))
        assert rules.quota_unit("/1/5/12/", nodes).id == 5
        assert rules.quota_unit("/1/5/", nodes).id == 5
        assert rules.quota_unit("/1/7/", nodes).id == 1
        assert rules.quota_unit("/2/", nodes) is None
        assert rules.quota_unit(None, nodes) is None

    def test_initial_state_and_waitlisting(self):
        assert rules.initial_state(SignupMode.FIRST_COME) is None
        assert rules.initial_state(SignupMode.QUOTA) is None
        assert rules.initial_state(SignupMode.APPROVAL) == S.PENDING
        assert rules.initial_state(SignupMode.LOTTERY) == S.PENDING
        assert rules.will_be_waitlisted(SignupMode.FIRST_COME, 0, True)
        assert not rules.will_be_waitlisted(SignupMode.FIRST_COME, 0, False)
        assert not rules.will_be_waitlisted(SignupMode.FIRST_COME, 1, True)
        assert not rules.will_be_waitlisted(SignupMode.LOTTERY, 0, True)


# --------------------------------------------------------------------------- answers

def q(qid, kind, required=False, choices=()):
    return rules.QuestionSpec(id=qid, kind=kind, required=required, choices=tuple(choices))


class TestAnswers:
    QUESTIONS = [
        q(1, QuestionKind.TEXT, required=True),
        q(2, QuestionKind.SINGLE_CHOICE, choices=["S", "M", "L"]),
        q(3, QuestionKind.MULTIPLE_CHOICE, choices=["茶", "咖啡", "水"]),
        q(4, QuestionKind.NUMBER),
        q(5, QuestionKind.YES_NO, required=True),
    ]

    def test_clean_answers_keyed_by_question_id(self):
        cleaned, errors = rules.clean_answers(self.QUESTIONS, {
            "1": "  月季怎么剪枝？ ", "q2": "M", 3: ["水", "茶", "茶"], "4": "2.5", "5": "yes", "99": "ignored"})
        assert errors == {}
        assert cleaned == {"1": "月季怎么剪枝？", "2": "M", "3": ["茶", "水"], "4": 2.5, "5": True}

    def test_required_missing(self):
        cleaned, errors = rules.clean_answers(self.QUESTIONS, {"1": "   "})
        assert set(errors) == {"q1", "q5"}
        assert "answer" in str(errors["q1"][0])
        assert cleaned == {}

    def test_optional_blank_is_left_out(self):
        cleaned, errors = rules.clean_answers(self.QUESTIONS, {"1": "x", "5": False, "2": "", "3": [], "4": None})
        assert errors == {} and cleaned == {"1": "x", "5": False}

    BAD = [
        ({"1": "x" * 501}, "q1"),
        ({"1": ["list"]}, "q1"),
        ({"2": "XL"}, "q2"),
        ({"2": ["S", "M"]}, "q2"),
        ({"3": ["茶", "酒"]}, "q3"),
        ({"3": [1, 2]}, "q3"),
        ({"4": "twelve"}, "q4"),
        ({"4": "1e9"}, "q4"),
        ({"4": "NaN"}, "q4"),
        ({"4": float("inf")}, "q4"),
        ({"4": True}, "q4"),
        ({"4": "1.123456"}, "q4"),
        ({"5": "maybe"}, "q5"),
    ]

    def test_bad_answers(self):
        for bad, field_name in self.BAD:
            _cleaned, errors = rules.clean_answers(self.QUESTIONS, {"1": "ok", "5": "no", **bad})
            assert list(errors) == [field_name], bad
            assert all(str(message) for message in errors[field_name])

    def test_text_limit_is_inclusive_and_control_characters_go(self):
        cleaned, errors = rules.clean_answers([q(1, QuestionKind.TEXT)], {"1": "好" * 500 + "\x00"})
        assert errors == {} and cleaned["1"] == "好" * 500

    def test_numbers(self):
        for raw, value in [("42", 42), (7, 7), ("-3.25", -3.25), ("1,000", 1000), ("1000000", 1000000),
                           ("2.0", 2)]:
            cleaned, errors = rules.clean_answers([q(1, QuestionKind.NUMBER)], {"1": raw})
            assert errors == {} and cleaned["1"] == value, raw

    def test_not_a_dict(self):
        _cleaned, errors = rules.clean_answers(self.QUESTIONS, ["oops"])
        assert set(errors) == {"q1", "q5"}


# --------------------------------------------------------------------------- lottery

class TestLottery:
    def test_same_seed_same_order_whatever_the_input_order(self):
        ids = list(range(1, 101))
        first = rules.lottery_order(ids, "seed-2026")
        assert first == rules.lottery_order(list(reversed(ids)), "seed-2026")
        assert sorted(first) == ids
        assert first != rules.lottery_order(ids, "another seed")

    def test_known_order_is_stable_across_runs(self):
        # random.Random(str) is documented as reproducible; this pins the algorithm.
        import random

        expected = list(range(1, 11))
        random.Random("abc").shuffle(expected)
        assert rules.lottery_order(range(10, 0, -1), "abc") == expected

    def test_fairness_basics_every_position_equally_likely(self):
        # Over many seeds each of 5 entrants wins one of 2 places about 40% of the time.
        wins = Counter()
        rounds = 4000
        for seed in range(rounds):
            outcome = rules.allocate_draw([rules.DrawEntry(i) for i in range(1, 6)], str(seed), 2)
            wins.update(outcome.confirmed)
        for entrant in range(1, 6):
            assert abs(wins[entrant] / rounds - 0.4) < 0.04

    def test_allocation_confirms_then_ranks(self):
        entries = [rules.DrawEntry(i) for i in range(1, 11)]
        outcome = rules.allocate_draw(entries, "s", places_left=3)
        assert outcome.confirmed == outcome.order[:3]
        assert [reg for reg, _rank in outcome.waitlisted] == outcome.order[3:]
        assert [rank for _reg, rank in outcome.waitlisted] == list(range(1, 8))
        no_list = rules.allocate_draw(entries, "s", places_left=3, waitlist_enabled=False)
        assert no_list.confirmed == outcome.confirmed and no_list.not_drawn == outcome.order[3:]

    def test_allocation_per_slot(self):
        entries = [rules.DrawEntry(i, slot_id=100 + i % 2) for i in range(1, 9)]
        outcome = rules.allocate_draw(entries, "slots", places_left=10, slot_places_left={100: 1, 101: 2})
        slots = Counter(100 + i % 2 for i in outcome.confirmed)
        assert slots == {100: 1, 101: 2}
        assert len(outcome.waitlisted) == 5

    def test_waitlist_sort_key_puts_unranked_last(self):
        rows = [(None, NOW, 1), (2, NOW, 2), (1, NOW + timedelta(1), 3), (None, NOW - timedelta(1), 4)]
        ordered = sorted(rows, key=lambda r: rules.waitlist_sort_key(*r))
        assert [r[2] for r in ordered] == [3, 2, 4, 1]
