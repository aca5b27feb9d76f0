"""Catalogue cards that know who is looking: each card's status is the registration engine's verdict,
the 我可报名 filter is on by default for workers, visitors get a plain "log in" call to action, and a
page costs the same number of statements however many cards it has."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import g
from sqlalchemy import event

from unionevents.accounts.models import Occupation, Role
from unionevents.activities.services import set_unit_quota
from unionevents.activities.models import SignupMode
from unionevents.core.errors import DomainError
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.signup_verdict import CardStatus

NOW = datetime(2026, 12, 1, 0, 0)
RIDER_UNION = "奥运村快递驿站联合工会"


@pytest.fixture
def tree(make, frozen_time):
    frozen_time(NOW)
    return make.tree()


@pytest.fixture
def rider(make, tree):
    return make.user("骑手小王", union=RIDER_UNION, occupation=Occupation.RIDER)


def a_bit_of_everything(make, tree):
    """One activity per card status a worker of RIDER_UNION can meet."""
    first = make.user("先到的人", union=RIDER_UNION)
    made = {
        "open": make.activity("人人可报"),
        "members": make.activity("会员专享", members_only=True),
        "couriers": make.activity("教师专场", occupations=[Occupation.TEACHER]),
        "fengtai": make.activity("丰台职工", eligible_nodes=[tree["丰台区总工会"]]),
        "not_open": make.activity("下周开放", signup_opens_at=NOW + timedelta(days=3)),
        "closed": make.activity("已截止的课", starts_in=timedelta(hours=1), signup_closes_at=NOW - timedelta(hours=1)),
        "full_list": make.activity("满员可候补", capacity=1, waitlist_enabled=True),
        "full": make.activity("满员不候补", capacity=1, waitlist_enabled=False),
        "approval": make.activity("需审核", mode=SignupMode.APPROVAL),
        "quota": make.activity("朝阳代表名额", mode=SignupMode.QUOTA),
        "other_quota": make.activity("丰台代表名额", mode=SignupMode.QUOTA),
    }
    set_unit_quota(made["quota"], tree["朝阳区总工会"], 2)
    set_unit_quota(made["other_quota"], tree["丰台区总工会"], 2)
    db.session.commit()
    services.register(first, made["full_list"].id)
    services.register(first, made["full"].id)
    return made


def test_every_card_agrees_with_what_signing_up_does(make, tree, rider):
    made = a_bit_of_everything(make, tree)
    activities = list(made.values())
    verdicts = services.card_verdicts(rider, activities)
    assert verdicts[made["open"].id].status == CardStatus.CAN_SIGN_UP
    assert verdicts[made["fengtai"].id].status == CardStatus.RESTRICTED
    assert verdicts[made["couriers"].id].status == CardStatus.RESTRICTED
    assert verdicts[made["other_quota"].id].status == CardStatus.RESTRICTED
    assert verdicts[made["not_open"].id].status == CardStatus.NOT_OPEN
    assert verdicts[made["closed"].id].status == CardStatus.CLOSED
    assert verdicts[made["full_list"].id].status == CardStatus.FULL_WAITLIST
    assert verdicts[made["full"].id].status == CardStatus.FULL
    for activity in activities:  # the engine's own answer: a card leads on exactly when sign-up works
        card = verdicts[activity.id]
        assert services.signup_state(rider, activity).verdict.status == card.status, activity.title
        try:
            services.register(rider, activity.id)
            signed_up = True
        except DomainError:
            signed_up = False
        assert signed_up == card.status.can_act, (activity.title, card.status)
    after = services.card_verdicts(rider, activities)
    assert after[made["open"].id].status == CardStatus.SIGNED_UP
    assert after[made["approval"].id].status == CardStatus.APPLIED
    waiting = after[made["full_list"].id]
    assert waiting.status == CardStatus.WAITLISTED and waiting.position == 1


def test_waiting_list_places_in_one_statement_match_the_engine(make, tree):
    activity = make.activity("热门课", capacity=1, waitlist_enabled=True)
    people = [make.user(f"候补{i}") for i in range(5)]
    registrations = [services.register(person, activity.id) for person in people]
    services.cancel(registrations[2].id, people[2])  # someone in the middle leaves the list
    waiting = [r.id for r in registrations[1:]]
    positions = services.waitlist_positions(waiting)
    for registration_id in waiting:
        registration = db.session.get(type(registrations[0]), registration_id)
        assert positions.get(registration_id) == services.waitlist_position(registration)
    assert sorted(positions.values()) == [1, 2, 3]


class Statements:
    def __init__(self):
        self.count = 0
        self.seen = []

    def __call__(self, _conn, _cursor, statement, *_args):
        self.count += 1
        self.seen.append(" ".join(statement.split())[:150])


def _statements_for(client, url) -> int:
    g.pop("_login_user", None)  # the test's app context and session are shared: load all afresh
    db.session.expire_all()
    counter = Statements()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    return counter.count


def test_a_page_of_cards_costs_the_same_statements_for_3_or_15_activities(make, tree, rider, client, login):
    login(rider)
    first = make.user("先到的人", union=RIDER_UNION)
    for i in range(3):
        activity = make.activity(f"课程{i}", capacity=1, waitlist_enabled=True, mode=SignupMode.QUOTA
                                 if i == 0 else SignupMode.FIRST_COME)
        if i == 0:
            set_unit_quota(activity, tree["朝阳区总工会"], 1)
            db.session.commit()
        services.register(first, activity.id)
        services.register(rider, activity.id)
    few = _statements_for(client, "/activities/?per_page=50&joinable=0")
    for i in range(3, 15):
        activity = make.activity(f"课程{i}", capacity=1, waitlist_enabled=True, mode=SignupMode.QUOTA
                                 if i % 3 == 0 else SignupMode.FIRST_COME,
                                 eligible_nodes=[tree["丰台区总工会"]] if i % 4 == 0 else ())
        if i % 3 == 0:
            set_unit_quota(activity, tree["朝阳区总工会"], 1)
            db.session.commit()
        services.register(first, activity.id) if i % 4 else None
        if i % 2 and i % 4:
            services.register(rider, activity.id)
    many = _statements_for(client, "/activities/?per_page=50&joinable=0")
    assert many == few


def test_the_page_shows_each_status_and_starts_at_what_i_can_join(make, tree, rider, client, login):
    made = a_bit_of_everything(make, tree)
    services.register(rider, made["full_list"].id)
    login(rider)
    client.set_cookie("lang", "zh_Hans")
    body = client.get("/activities/").get_data(as_text=True)
    assert 'id="joinable"' in body and 'name="joinable" value="1" checked' in body
    for shown in ("人人可报", "下周开放", "满员可候补", "满员不候补", "需审核", "朝阳代表名额"):
        assert shown in body, shown
    for hidden in ("丰台职工", "教师专场", "丰台代表名额", "已截止的课"):  # never for them, or closed
        assert hidden not in body, hidden
    assert "可报名" in body and "候补第 1 位" in body and "未开始" in body and "已满" in body
    everything = client.get("/activities/?joinable=0").get_data(as_text=True)
    assert "仅限丰台区总工会" in everything and "已截止" in everything
    assert "您不能报名" not in everything


def test_visitors_see_log_in_not_an_error(make, tree, client):
    activity = make.activity("人人可报")
    client.set_cookie("lang", "zh_Hans")
    body = client.get("/activities/").get_data(as_text=True)
    assert "登录后报名" in body and 'id="joinable"' not in body
    detail = client.get(f"/activities/{activity.id}").get_data(as_text=True)
    assert "登录后报名" in detail and 'class="reasons"' not in detail and "请登录后报名" not in detail


def test_organisers_start_with_everything(make, tree, client, login):
    make.activity("丰台职工", eligible_nodes=[tree["丰台区总工会"]])
    organiser = make.user("组织者", union=RIDER_UNION, role=Role.ORGANISER, scope="朝阳区奥运村街道总工会")
    login(organiser)
    body = client.get("/activities/").get_data(as_text=True)
    assert "丰台职工" in body and 'name="joinable" value="1" checked' not in body


def test_an_activity_page_reads_who_may_join_with_the_activity(make, tree, rider, client, login):
    """The page judges the worker against the activity's occupations and unions: those lists come in
    the activity's own statement, so a page with both costs what a page with neither does."""
    login(rider)
    plain = make.activity("人人可报")
    narrowed = make.activity("骑手专场", occupations=[Occupation.RIDER, Occupation.COURIER],
                             eligible_nodes=[tree["朝阳区总工会"], tree["丰台区总工会"]])
    assert client.get(f"/activities/{plain.id}").status_code == 200  # the first page after login
    counter = Statements()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        counts = []
        for activity_id in (plain.id, narrowed.id):
            g.pop("_login_user", None)
            db.session.expunge_all()  # as in a request of its own: nothing loaded yet
            before = counter.count
            page = client.get(f"/activities/{activity_id}")
            assert page.status_code == 200
            counts.append(counter.count - before)
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    assert counts[0] == counts[1]
    assert not [s for s in counter.seen if s.startswith("SELECT activity_occupation")
                or s.startswith("SELECT activity_eligible_node")]
    assert "骑手专场" in page.get_data(as_text=True)
