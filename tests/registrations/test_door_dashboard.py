"""The live door dashboard: checked in / expected in total, per door (the organiser's phone that checked
people in) and per time slot, from aggregate queries; a JSON twin for the page's refresh."""
from __future__ import annotations

from datetime import timedelta

import pytest

from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind
from unionevents.activities.services import add_slots
from unionevents.extensions import db
from unionevents.registrations import door_queries
from unionevents.registrations.models import RegistrationState as S
from tests.factories import check_in_at_the_door

from .organiser_fixtures import (  # noqa: F401 - fixtures
    MALL, StatementCounter, act_as, add_people, organiser, other_organiser, tree,
)

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def second_door(make, tree):
    return make.user("东门志愿者", role=Role.ORGANISER, scope="丰台区玉泉营街道总工会")


@pytest.fixture
def big_activity(make, tree):
    return make.activity("职工大会", kind=ActivityKind.MEETING, capacity=300)


def test_totals_and_doors(big_activity, organiser, second_door):
    people = add_people(big_activity, 12)
    add_people(big_activity, 3, state=S.WAITLISTED)  # not expected
    add_people(big_activity, 2, state=S.CANCELLED)
    for reg in people[:5]:
        check_in_at_the_door(reg.id, organiser)
    for reg in people[5:7]:
        check_in_at_the_door(reg.id, second_door)
    board = door_queries.door_board(big_activity.id)
    assert (board.checked_in, board.expected, board.percent) == (7, 12, 58)
    assert [(d.label, d.checked_in) for d in board.doors] == [(organiser.name, 5), (second_door.name, 2)]
    assert board.slots == []


def test_an_undone_check_in_leaves_its_door(big_activity, organiser):
    from unionevents.registrations import services

    (reg,) = add_people(big_activity, 1)
    check_in_at_the_door(reg.id, organiser)
    services.undo_check_in(reg.id, organiser)
    board = door_queries.door_board(big_activity.id)
    assert board.checked_in == 0 and board.doors == []


def test_per_slot_expected_and_checked_in(make, tree, organiser):
    activity = make.activity("送健康", kind=ActivityKind.HEALTH, capacity=0)
    first = activity.starts_at
    slots = add_slots(activity, first, first + timedelta(hours=2), 60, 10)
    db.session.commit()
    early = add_people(activity, 4, slot=slots[0])
    add_people(activity, 2, slot=slots[1])
    for reg in early[:3]:
        check_in_at_the_door(reg.id, organiser)
    board = door_queries.door_board(activity.id)
    assert [(s.checked_in, s.expected, s.percent) for s in board.slots] == [(3, 4, 75), (0, 2, 0)]


def test_the_figures_cost_three_queries_whatever_the_size(big_activity, organiser):
    activity_id = big_activity.id
    people = add_people(big_activity, 40)
    for reg in people[:4]:
        check_in_at_the_door(reg.id, organiser)
    with StatementCounter() as small:
        door_queries.door_board(activity_id)
    more = add_people(big_activity, 200)
    for reg in more[:20]:
        check_in_at_the_door(reg.id, organiser)
    with StatementCounter() as large:
        door_queries.door_board(activity_id)
    assert small.count == large.count == 3, small.statements


def test_page_and_json(client, act_as, big_activity, organiser):
    people = add_people(big_activity, 4)
    check_in_at_the_door(people[0].id, organiser)
    act_as(organiser)
    page = client.get(f"/manage/activities/{big_activity.id}/door-dashboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert '<noscript><meta http-equiv="refresh" content="10"></noscript>' in html  # no-JS fallback
    assert 'data-field="checked_in">1<' in html and 'data-field="expected">4<' in html
    assert "door-dashboard.js" in html
    data = client.get(f"/manage/activities/{big_activity.id}/door-dashboard.json").get_json()
    assert (data["checked_in"], data["expected"], data["percent"]) == (1, 4, 25)
    assert data["doors"][0]["label"] == organiser.name and data["doors"][0]["checked_in"] == 1


def test_permission_as_the_door_page(client, act_as, make, big_activity, other_organiser):
    act_as(other_organiser)
    for path in ("door-dashboard", "door-dashboard.json"):
        assert client.get(f"/manage/activities/{big_activity.id}/{path}").status_code == 403
    act_as(make.user("职工"))
    assert client.get(f"/manage/activities/{big_activity.id}/door-dashboard.json").status_code == 403
    act_as(None)
    response = client.get(f"/manage/activities/{big_activity.id}/door-dashboard")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
