"""Fixtures for class feedback and meeting attendance."""
from __future__ import annotations

import pytest

from unionevents.accounts.models import Role

from tests.request_fixtures import _request_context, login  # noqa: F401  (shared fixtures)

STREET = "丰台区玉泉营街道总工会"
WORKPLACE = "玉泉营商场工会"


@pytest.fixture
def tree(make):
    return make.tree()


@pytest.fixture
def organiser(make, tree):
    return make.user("玉泉营组织者", union=STREET, role=Role.ORGANISER, scope=STREET)


@pytest.fixture
def rival(make, tree):
    return make.user("奥运村组织者", role=Role.ORGANISER, scope="朝阳区奥运村街道总工会")
