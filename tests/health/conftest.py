"""Fixtures for health assessments: a health service with two slots, its medical staff, a second
health service with its own medical staff, the roles that must NOT read results, and a checked-in
attendee who gave health consent at sign-up."""
from __future__ import annotations

from datetime import timedelta

import pytest

from unionevents.accounts.models import Occupation, Role
from unionevents.activities.models import ActivityKind
from unionevents.activities.services import add_slots
from unionevents.extensions import db
from unionevents.registrations import services as engine

from tests.request_fixtures import _request_context, login  # noqa: F401  (shared fixtures)
from tests.factories import check_in_at_the_door

STREET = "丰台区玉泉营街道总工会"
WORKPLACE = "玉泉营商场工会"


@pytest.fixture
def tree(make):
    return make.tree()


def _health_activity(make, title):
    activity = make.activity(title, kind=ActivityKind.HEALTH, node=STREET, capacity=0)
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, 5)
    db.session.commit()
    return activity


@pytest.fixture
def health(make, tree):
    return _health_activity(make, "送健康·骑手体检")


@pytest.fixture
def other_health(make, tree):
    return _health_activity(make, "送健康·快递员体检")


@pytest.fixture
def medic(make, health):
    return make.user("李医生", role=Role.MEDICAL, activity=health)


@pytest.fixture
def other_medic(make, other_health):
    return make.user("张护士", role=Role.MEDICAL, activity=other_health)


@pytest.fixture
def organiser(make, tree):
    return make.user("玉泉营组织者", union=STREET, role=Role.ORGANISER, scope=STREET)


@pytest.fixture
def officer(make, tree):
    return make.user("市总干部", role=Role.OFFICER, scope="北京市总工会")


@pytest.fixture
def admin(make, tree):
    return make.user("管理员", role=Role.ADMIN, scope="北京市总工会")


@pytest.fixture
def signed_up(make, tree, organiser):
    """``signed_up(activity, name=..., mobile=..., check_in=True)``: a worker booked with consent."""

    def _signed_up(activity, name="王骑手", mobile=None, check_in=True):
        worker = make.user(name, mobile=mobile, union=WORKPLACE, occupation=Occupation.RIDER)
        slot = activity.slots[0]
        registration = engine.register(worker, activity.id, slot_id=slot.id, health_consent=True)
        if check_in:
            registration = check_in_at_the_door(registration.id, organiser)
        return registration

    return _signed_up


@pytest.fixture
def attendee(signed_up, health):
    return signed_up(health, "王骑手", "13812345678")


GOOD = {"systolic": "128", "diastolic": "82", "heart_rate": "72", "height_cm": "172.5", "weight_kg": "68.4",
        "cervical": "mild", "cervical_note": "久坐低头", "lumbar": "normal", "lumbar_note": "",
        "advice": "每天做颈部拉伸，骑行一小时休息五分钟。", "follow_up": True}
