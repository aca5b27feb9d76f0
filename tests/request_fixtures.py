"""Fixtures the domain test packages (health, swaps, results) share: imported into their conftest.

Their service tests render messages and check permissions, which need a request context; their
view tests switch the test client between several users within one test.
"""
from __future__ import annotations

import pytest
from flask import g


@pytest.fixture(autouse=True)
def _request_context(app, _app_context):
    with app.test_request_context():
        yield


@pytest.fixture
def login(login):
    """Switch the test client to ``user`` (drops Flask-Login's per-context cache)."""

    def _switch(user, the_client=None):
        g.pop("_login_user", None)
        return login(user, the_client)

    return _switch
