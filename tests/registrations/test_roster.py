"""The organiser's roster: search, filters, sorting, pages, bulk actions, no-shows, messages, walk-ins,
scope on every route, and a statement count that does not grow with the roster."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import func, select

from unionevents.accounts.models import Occupation, Role, User
from unionevents.activities.models import ActivityKind, QuestionKind, SignupMode
from unionevents.activities.services import add_question, add_slots
from unionevents.core.outbox import OutboxMessage
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState as S

from .organiser_fixtures import (  # noqa: F401 - fixtures
    AOYUNCUN_STREET, COURIERS, FENGTAI_STREET, MALL, StatementCounter, act_as, add_people, audit_count,
    organiser, other_organiser, state_of, tree,
)

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


def roster_url(activity, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/manage/activities/{activity.id}/roster" + (f"?{query}" if query else "")


def page_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# --------------------------------------------------------------------------- listing

def test_roster_lists_people_with_masked_mobiles_and_answers(make, organiser, act_as, tree):
    activity = make.activity("花卉养护课", capacity=50)
    question = add_question(activity, "Shirt size", QuestionKind.SINGLE_CHOICE, choices=["M", "L"])
    db.session.commit()
    worker = make.user("王小花", mobile="13812345678", union=MALL)
    from unionevents.registrations import services
    services.register(worker, activity.id, answers={f"q{question.id}": "L"})
    page = page_of(act_as(organiser).get(roster_url(activity)))
    assert "王小花" in page
    assert "138****5678" in page
    assert "13812345678" not in page
    assert "Shirt size" in page and ">L<" in page
    assert "玉泉营商场工会" in page


def test_search_filters_sorting_and_pages(make, organiser, act_as, tree):
    activity = make.activity(capacity=500)
    add_people(activity, 3, union=tree[MALL], occupation=Occupation.COURIER, name_prefix="快递")
    add_people(activity, 2, state=S.WAITLISTED, name_prefix="候补")
    add_people(activity, 60, name_prefix="骑手")
    client = act_as(organiser)
    assert "3 registrations found" in page_of(client.get(roster_url(activity, q="快递")))
    assert "2 registrations found" in page_of(client.get(roster_url(activity, state="waitlisted")))
    assert "3 registrations found" in page_of(client.get(roster_url(activity, union=tree[MALL].id)))
    assert "3 registrations found" in page_of(client.get(roster_url(activity, occupation="courier")))
    mobile = db.session.scalar(select(User.mobile).where(User.name == "快递0001"))
    assert "1 registration found" in page_of(client.get(roster_url(activity, q=mobile)))
    by_name = page_of(client.get(roster_url(activity, sort="name", dir="desc")))
    assert by_name.index("骑手0059") < by_name.index("骑手0058") and "骑手0000" not in by_name
    first, second = page_of(client.get(roster_url(activity))), page_of(client.get(roster_url(activity, page=2)))
    assert "Page 1 of 2" in first and "Page 2 of 2" in second


@pytest.mark.parametrize("args", [
    {"state": "bogus"}, {"page": "abc"}, {"page": "-4"}, {"page": "99999999999"}, {"slot": "x"},
    {"union": "1e9"}, {"occupation": "pilot"}, {"sort": "password"}, {"q": "%_\\'\""}, {"q": "x" * 500},
])
def test_malformed_filters_are_ignored_not_errors(make, organiser, act_as, args):
    activity = make.activity()
    add_people(activity, 2)
    assert act_as(organiser).get(roster_url(activity, **args)).status_code == 200


def test_slot_filter(make, organiser, act_as):
    activity = make.activity(kind=ActivityKind.CLASS_, capacity=0)
    slots = add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, 10)
    db.session.commit()
    add_people(activity, 2, slot=slots[0])
    add_people(activity, 3, slot=slots[1])
    page = page_of(act_as(organiser).get(roster_url(activity, slot=slots[1].id)))
    assert "3 registrations found" in page


def _roster_statements(client, activity_id: int) -> int:
    url = f"/manage/activities/{activity_id}/roster"
    # Start cold, as a real request does: nothing in the session, the user not yet loaded.
    db.session.expunge_all()
    g.pop("_login_user", None)
    with StatementCounter() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def test_roster_statement_count_does_not_grow_with_its_size(make, organiser, act_as, tree):
    small = make.activity("小活动", capacity=1000)
    large = make.activity("大活动", capacity=1000)
    for activity, n in ((small, 50), (large, 500)):
        add_question(activity, "Allergies", QuestionKind.TEXT)
        db.session.commit()
        add_people(activity, n // 2, union=tree[MALL], answers={"1": "none"})
        add_people(activity, n // 2, state=S.ATTENDED, union=tree[COURIERS])
    client = act_as(organiser)
    small_id, large_id = small.id, large.id
    client.get(roster_url(small))  # warm caches (templates, translations)
    assert _roster_statements(client, small_id) == _roster_statements(client, large_id)
    assert _roster_statements(client, large_id) <= 14


# --------------------------------------------------------------------------- bulk actions

def bulk(client, activity, action, ids, **extra):
    data = {"action": action, "ids": [str(i) for i in ids], **extra}
    return client.post(f"/manage/activities/{activity.id}/roster/bulk", data=data)


def test_bulk_approve_and_reject_applications(make, organiser, act_as):
    activity = make.activity(mode=SignupMode.APPROVAL, capacity=10)
    a, b, c = add_people(activity, 3, state=S.PENDING)
    client = act_as(organiser)
    response = bulk(client, activity, "approve", [a.id, b.id])
    assert response.status_code == 302
    assert state_of(a.id) == state_of(b.id) == S.CONFIRMED
    bulk(client, activity, "reject", [c.id, a.id])
    assert state_of(c.id) == S.REJECTED
    assert state_of(a.id) == S.CONFIRMED  # refused: no longer pending
    page = page_of(client.get(roster_url(activity)))
    assert "1 registration changed" in page and "工人0000" in page


def test_bulk_promote_gives_a_place_or_says_none_is_free(make, organiser, act_as):
    activity = make.activity(capacity=2)
    add_people(activity, 1)
    first, second = add_people(activity, 2, state=S.WAITLISTED)
    client = act_as(organiser)
    bulk(client, activity, "promote", [second.id])
    assert state_of(second.id) == S.CONFIRMED  # not necessarily the first in line
    bulk(client, activity, "promote", [first.id])
    assert state_of(first.id) == S.WAITLISTED
    assert "No place is free" in page_of(client.get(roster_url(activity)))


def test_bulk_attended_and_no_show(make, organiser, act_as, frozen_time):
    activity = make.activity(capacity=10)
    a, b = add_people(activity, 2)
    client = act_as(organiser)
    bulk(client, activity, "attended", [a.id])
    assert state_of(a.id) == S.CONFIRMED  # not before check-in opens (2 h before the start)
    assert "Check-in has not opened yet" in page_of(client.get(roster_url(activity)))
    frozen_time(activity.starts_at - timedelta(hours=1))
    bulk(client, activity, "attended", [a.id])
    assert state_of(a.id) == S.ATTENDED
    bulk(client, activity, "no_show", [b.id])
    assert state_of(b.id) == S.CONFIRMED  # not before the start
    assert "only be marked once the activity has started" in page_of(client.get(roster_url(activity)))
    frozen_time(activity.starts_at + timedelta(minutes=5))
    bulk(client, activity, "no_show", [b.id])
    assert state_of(b.id) == S.NO_SHOW


@pytest.mark.parametrize("action, ids", [("approve", []), ("explode", ["1"]), ("approve", ["x", "-1"]),
                                         ("", ["1"])])
def test_bulk_bad_input_is_a_message(make, organiser, act_as, action, ids):
    activity = make.activity()
    add_people(activity, 1)
    client = act_as(organiser)
    response = bulk(client, activity, action, ids)
    assert response.status_code == 302
    assert "class=\"flash flash-error\"" in page_of(client.get(roster_url(activity)))


def test_bulk_ignores_registrations_of_other_activities(make, organiser, act_as):
    mine, theirs = make.activity("我的"), make.activity("别的", node=AOYUNCUN_STREET)
    (foreign,) = add_people(theirs, 1)
    client = act_as(organiser)
    bulk(client, mine, "attended", [foreign.id])
    assert state_of(foreign.id) == S.CONFIRMED


def test_bulk_message_opens_the_compose_form_with_the_ticked_people(make, organiser, act_as):
    activity = make.activity()
    a, b, _c = add_people(activity, 3)
    response = bulk(act_as(organiser), activity, "message", [a.id, b.id])
    page = page_of(response)
    assert "2 registrations ticked" in page
    assert f'name="ids" value="{a.id}"' in page


# --------------------------------------------------------------------------- no-shows and attendance

def test_mark_the_rest_as_no_shows_after_the_start(make, organiser, act_as, frozen_time):
    activity = make.activity(capacity=10)
    came = add_people(activity, 3, state=S.ATTENDED)
    stayed_away = add_people(activity, 1)
    waiting = add_people(activity, 1, state=S.WAITLISTED)
    client = act_as(organiser)
    url = f"/manage/activities/{activity.id}/roster/no-shows"
    client.post(url)
    assert state_of(stayed_away[0].id) == S.CONFIRMED  # before the start: refused
    frozen_time(activity.starts_at + timedelta(hours=1))
    client.post(url)
    assert state_of(stayed_away[0].id) == S.NO_SHOW
    assert {state_of(r.id) for r in came} == {S.ATTENDED}
    assert state_of(waiting[0].id) == S.WAITLISTED
    assert audit_count("activity.mark_no_shows") == 1
    page = page_of(client.get(roster_url(activity)))
    assert "1 registration marked as no-show" in page
    assert "75%" in page  # 3 attended of 4


# --------------------------------------------------------------------------- messages

def messages(kind="activity.notice") -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


def test_message_to_everyone_to_a_state_and_to_the_ticked(make, organiser, act_as):
    activity = make.activity(capacity=20)
    confirmed = add_people(activity, 3)
    attended = add_people(activity, 2, state=S.ATTENDED)
    add_people(activity, 1, state=S.CANCELLED)
    client = act_as(organiser)
    url = f"/manage/activities/{activity.id}/roster/message"
    assert client.get(url).status_code == 200
    client.post(url, data={"audience": "all", "state": "confirmed", "body": "明天九点集合"})
    assert len(messages()) == 5  # not the cancelled one
    client.post(url, data={"audience": "state", "state": "attended", "body": "谢谢参加", "subject": "感谢"})
    thanks = [m for m in messages() if m.body == "谢谢参加"]
    assert {m.user_id for m in thanks} == {r.user_id for r in attended} and thanks[0].subject == "感谢"
    client.post(url, data={"audience": "selected", "state": "confirmed", "body": "单独通知",
                           "ids": [str(confirmed[0].id)]})
    assert [m.user_id for m in messages() if m.body == "单独通知"] == [confirmed[0].user_id]
    assert "1 message queued" in page_of(client.get(roster_url(activity)))
    assert audit_count("activity.notice") == 3


@pytest.mark.parametrize("data", [
    {"audience": "all", "body": ""}, {"audience": "all", "body": "x" * 501},
    {"audience": "nobody", "body": "hi"}, {"audience": "state", "state": "bogus", "body": "hi"},
    {"audience": "selected", "body": "hi"}, {"audience": "all", "body": "hi", "subject": "s" * 61},
])
def test_message_bad_input_is_422_with_messages_and_sends_nothing(make, organiser, act_as, data):
    activity = make.activity()
    add_people(activity, 2)
    response = act_as(organiser).post(f"/manage/activities/{activity.id}/roster/message",
                                      data={"state": "confirmed", **data})
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True) or "form-errors" in response.get_data(as_text=True)
    assert messages() == []


def test_message_to_an_empty_group_is_explained_and_not_counted(make, organiser, act_as):
    activity = make.activity()
    add_people(activity, 2)
    response = act_as(organiser).post(f"/manage/activities/{activity.id}/roster/message",
                                      data={"audience": "state", "state": "waitlisted", "body": "候补请注意"})
    assert response.status_code == 422
    assert "No one is in the group you chose" in response.get_data(as_text=True)
    assert messages() == [] and audit_count("activity.notice") == 0


# --------------------------------------------------------------------------- walk-ins

def walk_in(client, activity, **data):
    return client.post(f"/manage/activities/{activity.id}/walk-in", data=data)


def test_walk_in_with_a_new_mobile_makes_an_unactivated_account_and_checks_in(make, organiser, act_as,
                                                                              frozen_time):
    activity = make.activity(capacity=5)
    frozen_time(activity.starts_at)  # at the door
    response = walk_in(act_as(organiser), activity, mobile="138 0000 1111", name="李临时", check_in_now="y")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.mobile == "13800001111"))
    assert user.name == "李临时" and not user.activated and user.password_hash is None
    assert user.created_by_id == organiser.id
    registration = db.session.scalar(select(Registration).where(Registration.user_id == user.id))
    assert registration.state == S.ATTENDED and registration.entered_by_id == organiser.id


def test_walk_in_for_an_existing_worker_and_twice(make, organiser, act_as, frozen_time):
    activity = make.activity(capacity=5)
    worker = make.user("张三", mobile="13900002222")
    client = act_as(organiser)
    walk_in(client, activity, mobile="13900002222", name="")
    registration = db.session.scalar(select(Registration).where(Registration.user_id == worker.id))
    assert registration.state == S.CONFIRMED
    frozen_time(activity.starts_at)  # on the day, at the door
    walk_in(client, activity, mobile="13900002222", check_in_now="y")
    assert state_of(registration.id) == S.ATTENDED
    assert db.session.scalar(select(func.count(Registration.id))) == 1
    assert "already registered" in page_of(client.get(f"/manage/activities/{activity.id}/checkin"))


def test_walk_in_to_an_approval_activity_is_approved_on_the_spot(make, organiser, act_as):
    activity = make.activity(mode=SignupMode.APPROVAL)
    walk_in(act_as(organiser), activity, mobile="13700003333", name="赵六")
    assert db.session.scalar(select(Registration.state)) == S.CONFIRMED


def test_walk_in_when_full_goes_to_the_waiting_list_and_is_not_checked_in(make, organiser, act_as):
    activity = make.activity(capacity=1)
    add_people(activity, 1)
    client = act_as(organiser)
    walk_in(client, activity, mobile="13700004444", name="钱七", check_in_now="y")
    reg = db.session.scalar(select(Registration).join(User, User.id == Registration.user_id).where(User.mobile == "13700004444"))
    assert reg.state == S.WAITLISTED
    assert "waiting list" in page_of(client.get(f"/manage/activities/{activity.id}/checkin"))


@pytest.mark.parametrize("data, field_message", [
    ({"mobile": "12345", "name": "某人"}, "11-digit"),
    ({"mobile": "", "name": "某人"}, "required"),
    ({"mobile": "13700005555", "name": ""}, "enter the worker"),
    ({"mobile": "13700005555", "name": "x" * 41}, "40"),
])
def test_walk_in_bad_input_is_422_with_field_messages(make, organiser, act_as, data, field_message):
    activity = make.activity()
    response = walk_in(act_as(organiser), activity, **data)
    assert response.status_code == 422
    assert field_message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Registration.id))) == 0


def test_walk_in_answers_required_questions(make, organiser, act_as):
    activity = make.activity()
    question = add_question(activity, "Years of service", QuestionKind.NUMBER, required=True)
    db.session.commit()
    client = act_as(organiser)
    response = walk_in(client, activity, mobile="13700006666", name="孙八")
    assert response.status_code == 422 and "Please answer this question" in response.get_data(as_text=True)
    walk_in(client, activity, mobile="13700006666", name="孙八", **{f"q{question.id}": "3"})
    assert db.session.scalar(select(Registration.answers)) == {str(question.id): 3}


def test_walk_in_to_a_health_service_is_refused(make, organiser, act_as):
    activity = make.activity(kind=ActivityKind.HEALTH, capacity=0)
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, 5)
    db.session.commit()
    response = walk_in(act_as(organiser), activity, mobile="13700007777", name="周九",
                       slot_id=str(activity.slots[0].id))
    assert response.status_code == 422
    assert "own consent" in response.get_data(as_text=True)


# --------------------------------------------------------------------------- scope on every route

def routes(activity_id: int, registration_id: int):
    base = f"/manage/activities/{activity_id}"
    return [
        ("get", f"{base}/roster"), ("post", f"{base}/roster/bulk"), ("post", f"{base}/roster/no-shows"),
        ("get", f"{base}/roster/message"), ("post", f"{base}/roster/message"),
        ("post", f"{base}/roster/export"), ("get", f"{base}/sign-in-sheet"),
        ("get", f"{base}/checkin"), ("post", f"{base}/checkin/{registration_id}"),
        ("post", f"{base}/checkin/{registration_id}/undo"), ("post", f"{base}/checkin/ticket"),
        ("get", f"{base}/walk-in"), ("post", f"{base}/walk-in"),
        ("get", f"{base}/checkin/roster.json"), ("post", f"{base}/checkin/sync"), ("post", f"{base}/checkin/scan"),
        ("post", f"{base}/draw"),
    ]


def test_every_route_refuses_other_unions_organisers_workers_and_anonymous(make, organiser, act_as, app):
    activity = make.activity("奥运村活动", node=AOYUNCUN_STREET)
    (registration,) = add_people(activity, 1)
    worker = make.user("职工")
    table = routes(activity.id, registration.id)
    manage_rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("roster.")}
    assert len(manage_rules) == len({path for _m, path in table})  # every route of the blueprint is here
    for identity, expected in ((organiser, 403), (worker, 403), (None, 302)):
        client = act_as(identity)
        for method, path in table:
            response = getattr(client, method)(path, data={"ids": [str(registration.id)], "action": "attended",
                                                           "mobile": "13700008888", "name": "x", "body": "x",
                                                           "audience": "all", "format": "csv", "token": "t"})
            assert response.status_code == expected, (identity, method, path)
            if expected == 302:
                assert "/login" in response.headers["Location"]
    assert state_of(registration.id) == S.CONFIRMED
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.kind == "activity.notice")) == 0


def test_missing_activity_is_404(organiser, act_as):
    assert act_as(organiser).get("/manage/activities/999999/roster").status_code == 404


def test_an_organiser_above_sees_the_roster(make, act_as, tree):
    district = make.user("区组织者", role=Role.ORGANISER, scope="丰台区总工会")
    activity = make.activity()
    assert act_as(district).get(roster_url(activity)).status_code == 200


def test_started_flag_uses_the_clock(make, organiser, act_as, frozen_time):
    activity = make.activity()
    add_people(activity, 1)
    client = act_as(organiser)
    assert "After the activity has started" in page_of(client.get(roster_url(activity)))
    frozen_time(now() + timedelta(days=11))
    assert "Mark the 1 not checked in as no-shows" in page_of(client.get(roster_url(activity)))
