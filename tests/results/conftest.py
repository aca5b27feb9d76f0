"""Fixtures for class feedback and meeting attendance."""
from __future__ import annotations

import pytest
from flask import g

from unionevents.accounts.models import Role

STREET = "丰台区玉泉营街道总工会"
WORKPLACE = "玉泉营商场工会"


@pytest.fixture(autouse=True)
def _request_context(app, _app_context):
    with app.test_request_context():
        yield


@pytest.fixture
def login(login):
    def _switch(user, the_client=None):
        g.pop("_login_user", None)
        return login(user, the_client)

    return _switch


@pytest.fixture
def tree(make):
    return make.tree()


@pytest.fixture
def organiser(make, tree):
    return make.user("玉泉营组织者", union=STREET, role=Role.ORGANISER, scope=STREET)


@pytest.fixture
def rival(make, tree):
    return make.user("奥运村组织者", role=Role.ORGANISER, scope="朝阳区奥运村街道总工会")
