"""The live door dashboard's figures: checked in / expected in total, per door and per time slot.

Aggregates only (one GROUP BY per table), so a 2,000-person activity costs three small queries, whatever
its size.  A "door" is the organiser account that checked people in: each volunteer's phone at an
entrance.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from ..accounts.models import User
from ..activities.models import TimeSlot
from ..core.timeutil import now
from ..extensions import db
from .models import PLACE_STATES, Registration, RegistrationState as S

#: "Last minutes": how far back the pace of check-ins is counted.
RECENT_MINUTES = 10
#: How often the page asks again (seconds), with and without JavaScript.
REFRESH_SECONDS = 10


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    checked_in: int
    expected: int | None  # a door has no expected number
    at: datetime | None = None  # a door: its last check-in; a slot: its start

    @property
    def percent(self) -> int | None:
        if not self.expected:
            return None
        return min(round(100 * self.checked_in / self.expected), 100)


@dataclass(frozen=True)
class Board:
    checked_in: int
    expected: int
    recent: int
    doors: list[Line]
    slots: list[Line]
    at: datetime

    @property
    def percent(self) -> int | None:
        return min(round(100 * self.checked_in / self.expected), 100) if self.expected else None


def _attended():
    return func.sum(case((Registration.state == S.ATTENDED, 1), else_=0))


def door_board(activity_id: int, door_label: str = "") -> Board:
    current = now()
    since = current - timedelta(minutes=RECENT_MINUTES)
    expected, checked_in, recent = db.session.execute(
        select(func.count(Registration.id), _attended(),
               func.sum(case(((Registration.state == S.ATTENDED) & (Registration.checked_in_at >= since), 1),
                             else_=0)))
        .where(Registration.activity_id == activity_id, Registration.state.in_(PLACE_STATES))).one()
    doors = [Line(f"door-{user_id or 0}", name or door_label, count, None, last)
             for user_id, name, count, last in db.session.execute(
                 select(Registration.checked_in_by_id, User.name, func.count(Registration.id),
                        func.max(Registration.checked_in_at))
                 .outerjoin(User, User.id == Registration.checked_in_by_id)
                 .where(Registration.activity_id == activity_id, Registration.state == S.ATTENDED)
                 .group_by(Registration.checked_in_by_id, User.name)
                 .order_by(func.count(Registration.id).desc(), User.name))]
    slots = [Line(f"slot-{slot_id}", "", int(done or 0), int(count or 0), starts)
             for slot_id, starts, count, done in db.session.execute(
                 select(TimeSlot.id, TimeSlot.starts_at, func.count(Registration.id), _attended())
                 .outerjoin(Registration, (Registration.slot_id == TimeSlot.id)
                            & Registration.state.in_(PLACE_STATES))
                 .where(TimeSlot.activity_id == activity_id)
                 .group_by(TimeSlot.id, TimeSlot.starts_at).order_by(TimeSlot.starts_at))]
    return Board(int(checked_in or 0), int(expected or 0), int(recent or 0), doors, slots, current)


@dataclass(frozen=True)
class RecentCheckIn:
    registration_id: int
    name: str
    checked_in_at: datetime


#: How many of the last check-ins the door page lists with an undo button.
RECENT_LIST = 5


def recent_check_ins(activity_id: int, minutes: int, limit: int = RECENT_LIST) -> list[RecentCheckIn]:
    """The last check-ins still young enough to undo (``services.undo_door_check_in``), newest first."""
    since = now() - timedelta(minutes=minutes)
    return [RecentCheckIn(*row) for row in db.session.execute(
        select(Registration.id, User.name, Registration.checked_in_at)
        .join(User, User.id == Registration.user_id)
        .where(Registration.activity_id == activity_id, Registration.state == S.ATTENDED,
               Registration.checked_in_at >= since)
        .order_by(Registration.checked_in_at.desc(), Registration.id.desc()).limit(limit))]
