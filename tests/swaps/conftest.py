"""Fixtures for swaps: 北京建工资源公司's "以书换蔬" with its organiser and registered workers."""
from __future__ import annotations

import pytest

from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind
from unionevents.registrations import services as engine
from unionevents.unions.models import NodeLevel

from tests.request_fixtures import _request_context, login  # noqa: F401  (shared fixtures)

STREET = "丰台区玉泉营街道总工会"
COMPANY = "北京建工资源公司工会"


@pytest.fixture
def tree(make):
    nodes = make.tree()
    nodes[COMPANY] = make.node(COMPANY, NodeLevel.WORKPLACE, nodes[STREET])
    return nodes


@pytest.fixture
def organiser(make, tree):
    return make.user("资源公司组织者", union=COMPANY, role=Role.ORGANISER, scope=COMPANY)


@pytest.fixture
def rival(make, tree):
    return make.user("奥运村组织者", role=Role.ORGANISER, scope="朝阳区奥运村街道总工会")


@pytest.fixture
def swap(make, tree):
    return make.activity("以书换蔬", kind=ActivityKind.SWAP, node=COMPANY, capacity=500)


@pytest.fixture
def register(make, tree):
    """``register(activity, name=..., mobile=...)``: a worker with a confirmed place."""

    def _register(activity, name="刘师傅", mobile=None):
        worker = make.user(name, mobile=mobile, union=COMPANY)
        return engine.register(worker, activity.id)

    return _register
