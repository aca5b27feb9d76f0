"""Fixtures for the registration engine's tests."""
from __future__ import annotations

import itertools
import pytest

from unionevents.accounts.models import Occupation, User
from unionevents.accounts.services import create_user
from unionevents.extensions import db

_bulk_mobiles = itertools.count(1)


@pytest.fixture(autouse=True)
def _request_context(app, _app_context):
    """Services run inside requests (messages are translated for the request's language).

    These tests assert the English wording of messages, so the request asks for English; the
    Chinese catalog is checked by tests/test_translations.py."""
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        yield


@pytest.fixture
def workers(make):
    """``workers(n, union=..., occupation=...)``: n workers created in one commit (no passwords)."""

    def _workers(n: int, union=None, occupation: Occupation = Occupation.RIDER) -> list[User]:
        if isinstance(union, str):
            union = make.tree()[union]
        people = [create_user(f"137{next(_bulk_mobiles):08d}", f"骑手{i}", None, union=union,
                              occupation=occupation) for i in range(n)]
        db.session.commit()
        return people

    return _workers

