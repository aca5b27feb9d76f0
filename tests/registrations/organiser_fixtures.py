"""Fixtures for the organiser's roster, door and check-in API tests (imported by those modules).

Kept out of conftest.py so the engine's fixtures there stay untouched.
"""
from __future__ import annotations

import itertools
import secrets
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import event, func, select, update

from unionevents.accounts.models import Occupation, Role, User
from unionevents.activities.models import Activity
from unionevents.core.audit import AuditLog
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations.models import PLACE_STATES, Registration, RegistrationState as S

FENGTAI_STREET = "丰台区玉泉营街道总工会"
AOYUNCUN_STREET = "朝阳区奥运村街道总工会"
MALL = "玉泉营商场工会"
COURIERS = "奥运村快递驿站联合工会"

_mobiles = itertools.count(1)


@pytest.fixture
def tree(make):
    return make.tree()


@pytest.fixture
def organiser(make, tree):
    return make.user("玉泉营组织者", role=Role.ORGANISER, scope=FENGTAI_STREET)


@pytest.fixture
def other_organiser(make, tree):
    return make.user("奥运村组织者", role=Role.ORGANISER, scope=AOYUNCUN_STREET)


@pytest.fixture
def act_as(client, login):
    """``act_as(user)`` (or None for anonymous) makes ``client`` that person for the next requests.

    Test requests share the test's app context and so its ``g``, where Flask-Login caches the
    user: drop the cached one when switching.
    """

    def _act_as(user):
        g.pop("_login_user", None)
        if user is None:
            with client.session_transaction() as session:
                session.clear()
        else:
            login(user)
        return client

    return _act_as


def add_people(activity: Activity, n: int, *, state: S = S.CONFIRMED, union=None, slot=None,
               occupation: Occupation = Occupation.RIDER, answers=None, name_prefix: str = "工人") -> list[Registration]:
    """``n`` workers registered in ``state`` in one commit (fast; counters kept true)."""
    people = [User(mobile=f"136{next(_mobiles):08d}", name=f"{name_prefix}{i:04d}", union=union,
                   occupation=occupation, activated=False) for i in range(n)]
    db.session.add_all(people)
    db.session.flush()
    registrations = [Registration(activity_id=activity.id, user_id=p.id, state=state,
                                  slot_id=slot.id if slot else None, answers=answers,
                                  ticket_secret=secrets.token_urlsafe(32),
                                  checked_in_at=now() if state == S.ATTENDED else None)
                     for p in people]
    db.session.add_all(registrations)
    if state in PLACE_STATES:
        db.session.execute(update(Activity).where(Activity.id == activity.id)
                           .values(taken=Activity.taken + n))
    db.session.commit()
    return registrations


def fresh() -> None:
    """End the test's read transaction so rows committed by other threads are seen (SQLite WAL)."""
    db.session.commit()
    db.session.expire_all()


def state_of(registration_id: int) -> S:
    fresh()
    return db.session.scalar(select(Registration.state).where(Registration.id == registration_id))


def audit_count(action: str, object_id: int | None = None) -> int:
    fresh()
    stmt = select(func.count(AuditLog.id)).where(AuditLog.action == action)
    if object_id is not None:
        stmt = stmt.where(AuditLog.object_id == object_id)
    return db.session.scalar(stmt)


class StatementCounter:
    """Counts SQL statements sent to the database (transaction control excluded)."""

    def __init__(self):
        self.statements: list[str] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if statement.strip().upper().split(" ")[0] not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


ONE_HOUR = timedelta(hours=1)
