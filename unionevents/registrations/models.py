"""Registrations and their states."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..activities.models import Activity, TimeSlot
from ..core.enums import LabelledEnum, enum_column_type
from ..core.timeutil import now
from ..extensions import db
from .ticket_codes import new_code as new_ticket_code


class RegistrationState(LabelledEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"
    NOT_DRAWN = "not_drawn"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"

    __titles__ = {
        "pending": _l("Pending"),
        "confirmed": _l("Confirmed"),
        "waitlisted": _l("On the waiting list"),
        "rejected": _l("Rejected"),
        "not_drawn": _l("Not drawn"),
        "cancelled": _l("Cancelled"),
        "attended": _l("Attended"),
        "no_show": _l("No-show"),
    }


#: States in which a worker still holds a claim on the activity (one at most per activity).
LIVE_STATES = (RegistrationState.PENDING, RegistrationState.CONFIRMED, RegistrationState.WAITLISTED)
#: States counted against capacity.
PLACE_STATES = (RegistrationState.CONFIRMED, RegistrationState.ATTENDED)
#: People who are, or were, really taking part: live, attended, or marked absent (who may still turn
#: up late).  A worker has at most one such registration per activity: someone checked in at the door
#: cannot sign up a second time, and undoing a check-in never meets a second registration.
TAKING_PART_STATES = LIVE_STATES + (RegistrationState.ATTENDED, RegistrationState.NO_SHOW)

#: The same set as SQL, for the partial unique index below (derived, so the two cannot drift apart).
_TAKING_PART_SQL = "state IN ({})".format(", ".join(f"'{state.value}'" for state in TAKING_PART_STATES))


class Registration(db.Model):
    __tablename__ = "registration"
    __table_args__ = (
        # The last line of defence against double sign-ups: one registration taking part per worker
        # and activity.
        Index(
            "uq_registration_taking_part", "activity_id", "user_id", unique=True,
            sqlite_where=text(_TAKING_PART_SQL), postgresql_where=text(_TAKING_PART_SQL),
        ),
        # Covers the waiting-list order too (queue_rank, created_at, id): a waitlisted sign-up counts
        # the people ahead of it from the index alone, without visiting their rows.
        Index("ix_registration_activity_state", "activity_id", "state", "queue_rank", "created_at", "id"),
        Index("ix_registration_user", "user_id", "created_at"),
        # The short code a rider reads out at the door names one place in one activity.
        UniqueConstraint("activity_id", "ticket_code", name="uq_registration_ticket_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("time_slot.id", ondelete="SET NULL"), index=True)
    unit_node_id: Mapped[int | None] = mapped_column(ForeignKey("union_node.id", ondelete="SET NULL"))
    state: Mapped[RegistrationState] = mapped_column(enum_column_type(RegistrationState))
    queue_rank: Mapped[int | None] = mapped_column()  # lottery order for the waiting list
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    health_consent_at: Mapped[datetime | None] = mapped_column()
    health_consent_version: Mapped[str | None] = mapped_column(String(16))
    ticket_secret: Mapped[str] = mapped_column(String(43), unique=True)
    #: The short code under the QR code (``ticket_codes``), typed at the door when the camera fails.
    ticket_code: Mapped[str] = mapped_column(String(8), default=new_ticket_code)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    checked_in_at: Mapped[datetime | None] = mapped_column()
    #: Why an organiser checked this person in outside the check-in window (None inside it).  Kept
    #: here, not in the audit log, because it is free text that may name people (decisions.md).
    checkin_override_reason: Mapped[str | None] = mapped_column(String(200))
    #: Who checked this person in (the organiser's phone at a door), for the live door dashboard.
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    #: A place offered from the waiting list and not yet accepted: the registration is confirmed (the
    #: place is held, counted like any other) until then; unanswered, it passes to the next in line
    #: (``services.offers``).  None for every other registration.
    offer_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    activity: Mapped[Activity] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    slot: Mapped[TimeSlot | None] = relationship()

    #: Not a column: the waiting-list place ``register`` counted inside its own transaction, for
    #: the reply to that sign-up (None otherwise).
    position_at_signup = None

    @hybrid_property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    @is_live.inplace.expression
    @classmethod
    def _is_live_expression(cls):
        return cls.state.in_(LIVE_STATES)

    @hybrid_property
    def holds_place(self) -> bool:
        return self.state in PLACE_STATES

    @holds_place.inplace.expression
    @classmethod
    def _holds_place_expression(cls):
        return cls.state.in_(PLACE_STATES)


class CheckInReceipt(db.Model):
    """A check-in request a scanner made with its own id (a UUID), so a replayed request — an offline
    phone sending its queue again — is answered from here instead of checking in a second time."""

    __tablename__ = "checkin_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class SeatingPlan(db.Model):
    """A meeting hall's layout, set by the organiser: ``rows`` rows of ``seats_per_row`` seats."""

    __tablename__ = "seating_plan"
    __table_args__ = (
        CheckConstraint("rows >= 1", name="rows_positive"),
        CheckConstraint("seats_per_row >= 1", name="seats_per_row_positive"),
    )

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    rows: Mapped[int] = mapped_column()
    seats_per_row: Mapped[int] = mapped_column()
    assigned_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class SeatAssignment(db.Model):
    """One delegate's seat (row and number, both from 1); a seat holds one person per activity."""

    __tablename__ = "seat_assignment"
    __table_args__ = (
        UniqueConstraint("activity_id", "row", "seat", name="uq_seat_assignment_seat"),
        CheckConstraint("row >= 1 AND seat >= 1", name="seat_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), unique=True)
    row: Mapped[int] = mapped_column()
    seat: Mapped[int] = mapped_column()
