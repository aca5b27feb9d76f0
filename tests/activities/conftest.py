"""Fixtures for the organiser pages: a street organiser, a rival street's organiser, and sign-ups."""
from __future__ import annotations

import secrets
from datetime import datetime

import pytest

from unionevents.accounts.models import Role
from unionevents.core.timeutil import utc_to_local
from unionevents.extensions import db
from unionevents.registrations.models import PLACE_STATES, Registration, RegistrationState

YUQUANYING = "丰台区玉泉营街道总工会"
AOYUNCUN = "朝阳区奥运村街道总工会"


@pytest.fixture
def tree(make):
    return make.tree()


@pytest.fixture
def organiser(make, tree):
    """Organiser of 丰台区玉泉营街道总工会 (and the workplace union below it)."""
    return make.user("玉泉营组织者", union=YUQUANYING, role=Role.ORGANISER, scope=YUQUANYING)


@pytest.fixture
def rival(make, tree):
    """Organiser of another street: 朝阳区奥运村街道总工会."""
    return make.user("奥运村组织者", union=AOYUNCUN, role=Role.ORGANISER, scope=AOYUNCUN)


@pytest.fixture
def admin(make, tree):
    return make.user("管理员", role=Role.ADMIN, scope="北京市总工会")


@pytest.fixture
def worker(make, tree):
    return make.user("王骑手", union="玉泉营商场工会")


@pytest.fixture
def enrol(make):
    """``enrol(activity, state=CONFIRMED, slot=None, answers=None, unit=None)``: a registration written
    directly (the registration engine is not under test here), counters kept in step."""

    def _enrol(activity, state=RegistrationState.CONFIRMED, *, user=None, slot=None, answers=None, unit=None):
        user = user or make.user("报名职工")
        registration = Registration(activity_id=activity.id, user_id=user.id, state=state,
                                    slot_id=slot.id if slot else None, answers=answers,
                                    unit_node_id=unit.id if unit else None,
                                    ticket_secret=secrets.token_urlsafe(32))
        db.session.add(registration)
        if state in PLACE_STATES:
            activity.taken += 1
            if slot is not None:
                slot.taken += 1
            for quota in activity.unit_quotas:
                if unit is not None and quota.node_id == unit.id:
                    quota.used += 1
        db.session.commit()
        return registration

    return _enrol


def local_input(value: datetime) -> str:
    """A naive UTC time as a datetime-local form value (Beijing time)."""
    return utc_to_local(value).strftime("%Y-%m-%dT%H:%M")
