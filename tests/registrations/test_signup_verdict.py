"""The card's verdict as a pure rule: the engine's refusals, the worker's registration, the places."""
from __future__ import annotations

import pytest

from unionevents.registrations.models import RegistrationState as S
from unionevents.registrations.rules import Refusal
from unionevents.registrations.signup_verdict import CardStatus, verdict

LOGIN = (Refusal.NOT_LOGGED_IN, "log in")
CLOSED = (Refusal.CLOSED, "closed at …")
NOT_OPEN = (Refusal.NOT_OPEN_YET, "opens at …")
NODE = (Refusal.NODE, "only for 丰台区总工会")


@pytest.mark.parametrize("refusals, kwargs, status", [
    ([], dict(places_left=3), CardStatus.CAN_SIGN_UP),
    ([], dict(places_left=0, waitlist_enabled=True), CardStatus.FULL_WAITLIST),
    ([], dict(places_left=0, waitlist_enabled=False), CardStatus.FULL),
    ([], dict(places_left=0, needs_place=False), CardStatus.CAN_SIGN_UP),  # approval or lottery: apply anyway
    ([LOGIN], dict(places_left=3), CardStatus.LOG_IN),
    ([LOGIN, CLOSED], dict(places_left=3), CardStatus.CLOSED),  # a visitor is not asked to log in for nothing
    ([LOGIN, NOT_OPEN], dict(places_left=3), CardStatus.NOT_OPEN),
    ([NOT_OPEN], dict(places_left=3), CardStatus.NOT_OPEN),
    ([CLOSED], dict(places_left=0, waitlist_enabled=True), CardStatus.CLOSED),
    ([NODE, NOT_OPEN], dict(places_left=3), CardStatus.RESTRICTED),  # never for them beats "not yet"
    ([(Refusal.MEMBERS_ONLY, "members")], {}, CardStatus.RESTRICTED),
    ([(Refusal.OCCUPATION, "couriers")], {}, CardStatus.RESTRICTED),
    ([(Refusal.NO_QUOTA, "no quota")], {}, CardStatus.RESTRICTED),
    ([(Refusal.ACTIVITY_CANCELLED, "cancelled")], {}, CardStatus.CLOSED),
    ([], dict(existing_state=S.CONFIRMED, existing_id=7), CardStatus.SIGNED_UP),
    ([], dict(existing_state=S.ATTENDED, existing_id=7), CardStatus.SIGNED_UP),
    ([], dict(existing_state=S.PENDING, existing_id=7), CardStatus.APPLIED),
    ([CLOSED], dict(existing_state=S.WAITLISTED, existing_id=7, waitlist_position=2), CardStatus.WAITLISTED),
])
def test_one_status_per_situation(refusals, kwargs, status):
    assert verdict(refusals, **kwargs).status == status


def test_only_open_places_and_open_waiting_lists_lead_to_a_sign_up():
    assert {s for s in CardStatus if s.can_act} == {CardStatus.CAN_SIGN_UP, CardStatus.FULL_WAITLIST}


def test_labels_name_the_unions_and_the_waiting_list_place(app):
    with app.test_request_context(headers={"Cookie": "lang=zh_Hans"}):
        restricted = verdict([NODE], eligible_node_names=["丰台区总工会", "朝阳区总工会"])
        assert "丰台区总工会" in str(restricted.label) and str(restricted.label).startswith("仅限")
        assert restricted.detail == NODE[1]  # the engine's own message stays available
        waiting = verdict([], existing_state=S.WAITLISTED, existing_id=3, waitlist_position=4)
        assert str(waiting.label) == "候补第 4 位" and waiting.registration_id == 3
        assert str(verdict([], places_left=0, waitlist_enabled=True).label) == "已满（可候补）"
        assert str(verdict([LOGIN]).label) == "登录后报名"
        assert str(verdict([CLOSED]).label) == "已截止" and str(verdict([NOT_OPEN]).label) == "未开始"
