"""Fixtures for account tests: a union tree, a worker, and logging in through the real form."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from unionevents.extensions import db

from ..factories import PASSWORD


@pytest.fixture
def tree(make):
    return make.tree()


@pytest.fixture
def worker(make, tree):
    return make.user("王骑手", mobile="13912345678", union=tree["奥运村快递驿站联合工会"])


@pytest.fixture
def form_login():
    """``form_login(client, mobile, password=PASSWORD, remember=False, next=None)`` posts the login form."""

    def _form_login(client, mobile, password=PASSWORD, remember=False, next=None):
        data = {"mobile": mobile, "password": password}
        if remember:
            data["remember"] = "y"
        if next is not None:
            data["next"] = next
        return client.post("/account/login", data=data)

    return _form_login


@pytest.fixture
def row_counts():
    """``row_counts()``: rows per table, to show a rejected request changed nothing."""

    def _counts():
        db.session.expire_all()
        return {t.name: db.session.scalar(select(func.count()).select_from(t))
                for t in db.metadata.sorted_tables}

    return _counts
