"""Meetings: attendance by unit against its quota."""
from __future__ import annotations

import html

import pytest

from unionevents.activities.models import ActivityKind, SignupMode
from unionevents.activities.services import save_unit_quota
from unionevents.registrations import services as engine
from unionevents.results import services
from unionevents.unions.models import NodeLevel

from .conftest import STREET
from tests.factories import check_in_at_the_door


@pytest.fixture
def units(make, tree):
    street = tree[STREET]
    return {"商场": tree["玉泉营商场工会"], "物流": make.node("玉泉营物流公司工会", NodeLevel.WORKPLACE, street),
            "学校": make.node("玉泉营小学工会", NodeLevel.WORKPLACE, street)}


@pytest.fixture
def meeting(make, organiser, units):
    """A model-worker report meeting: 商场 may send 3, 物流 2, 学校 2."""
    activity = make.activity("劳模事迹报告会", kind=ActivityKind.MEETING, mode=SignupMode.QUOTA, capacity=10)
    for key, quota in (("商场", 3), ("物流", 2), ("学校", 2)):
        save_unit_quota(organiser, activity.id, units[key].id, quota)
    return activity


def _delegates(make, meeting, unit, n, prefix):
    return [engine.register(make.user(f"{prefix}{i}", union=unit), meeting.id) for i in range(n)]


def test_attendance_by_unit_against_quota(make, organiser, meeting, units):
    mall = _delegates(make, meeting, units["商场"], 3, "商场代表")
    logistics = _delegates(make, meeting, units["物流"], 1, "物流代表")
    for registration in mall[:2] + logistics:
        check_in_at_the_door(registration.id, organiser)
    engine.mark_no_show(mall[2].id, organiser)
    report = services.attendance_by_unit(meeting.id)
    rows = {u.name: (u.quota, u.registered, u.attended, u.no_show) for u in report.units}
    assert rows == {"玉泉营商场工会": (3, 2, 2, 1), "玉泉营物流公司工会": (2, 1, 1, 0),
                    "玉泉营小学工会": (2, 0, 0, 0)}
    assert (report.quota, report.registered, report.attended, report.no_show) == (7, 3, 3, 1)
    by_name = {u.name: u for u in report.units}
    assert str(by_name["玉泉营商场工会"].attendance_rate) == "66.7"
    assert str(report.attendance_rate) == "42.9"


def test_without_quotas_units_are_the_workers_unions(make, organiser, units):
    meeting = make.activity("职工大会", kind=ActivityKind.MEETING, capacity=10)
    for key in ("商场", "学校", "学校"):
        registration = engine.register(make.user("职工", union=units[key]), meeting.id)
        check_in_at_the_door(registration.id, organiser)
    engine.register(make.user("无单位职工"), meeting.id)
    report = services.attendance_by_unit(meeting.id)
    rows = {u.name: (u.quota, u.registered, u.attended) for u in report.units}
    assert rows == {"玉泉营商场工会": (None, 1, 1), "玉泉营小学工会": (None, 2, 2), "": (None, 1, 0)}
    assert str(report.attendance_rate) == "75.0"


def test_attendance_page(client, login, organiser, rival, make, meeting, units):
    for registration in _delegates(make, meeting, units["物流"], 2, "物流代表"):
        check_in_at_the_door(registration.id, organiser)
    login(organiser)
    response = client.get(f"/manage/activities/{meeting.id}/attendance")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and "玉泉营物流公司工会" in page and "100.0%" in page
    login(rival)
    assert client.get(f"/manage/activities/{meeting.id}/attendance").status_code == 403
