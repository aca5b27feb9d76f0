"""What the notifications domain keeps besides the outbox itself: how far each worker has read
their inbox, each activity's reminder setting, and which reminders went out."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.timeutil import now
from ..extensions import db

#: Hours before the start (slot start for slot bookings) when reminders go out, unless the
#: organiser set otherwise for the activity.
DEFAULT_REMINDER_HOURS = (24, 2)


class InboxRead(db.Model):
    """A worker's read mark: every message with an id up to ``read_up_to`` counts as read.

    One row per worker rather than a flag per message: opening the inbox is one small write,
    whatever the number of messages."""

    __tablename__ = "inbox_read"
    __table_args__ = (CheckConstraint("read_up_to >= 0", name="read_up_to_not_negative"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    read_up_to: Mapped[int] = mapped_column(default=0)
    read_at: Mapped[datetime] = mapped_column(default=now)


class ReminderSetting(db.Model):
    """An organiser's reminder hours for one activity ("24,2"; empty = no reminders).  No row =
    ``DEFAULT_REMINDER_HOURS``."""

    __tablename__ = "reminder_setting"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    hours: Mapped[str] = mapped_column(String(40), default="")
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class ReminderSent(db.Model):
    """One reminder (``hours`` before the start) of one registration, for the start it was sent
    for: a moved activity or slot has a new start, so its reminders are due again."""

    __tablename__ = "reminder_sent"

    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"),
                                                 primary_key=True)
    hours: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    starts_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime] = mapped_column(default=now)
