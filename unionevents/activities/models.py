"""Activities, their time slots, custom questions, eligibility and unit quotas."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import Occupation
from ..core.enums import LabelledEnum, enum_column_type
from ..core.timeutil import now
from ..extensions import db
from ..unions.models import UnionNode


class ActivityKind(LabelledEnum):
    HEALTH = "health"
    CLASS_ = "class"
    SWAP = "swap"
    CONTEST = "contest"
    MEETING = "meeting"

    __titles__ = {
        "health": _l("Health service"),
        "class": _l("Class"),
        "swap": _l("Swap"),
        "contest": _l("Contest"),
        "meeting": _l("Meeting"),
    }


class SignupMode(LabelledEnum):
    FIRST_COME = "first_come"
    APPROVAL = "approval"
    LOTTERY = "lottery"
    QUOTA = "quota"

    __titles__ = {
        "first_come": _l("First come, first served"),
        "approval": _l("Approval by the organiser"),
        "lottery": _l("Lottery"),
        "quota": _l("Quota per unit"),
    }


class Visibility(LabelledEnum):
    PUBLIC = "public"
    MEMBERS = "members"
    INVITATION = "invitation"

    __titles__ = {
        "public": _l("Everyone"),
        "members": _l("Union members"),
        "invitation": _l("Invited units only"),
    }


class ActivityStatus(LabelledEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"

    __titles__ = {
        "draft": _l("Draft"),
        "published": _l("Published"),
        "cancelled": _l("Cancelled"),
    }


class QuestionKind(LabelledEnum):
    TEXT = "text"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    NUMBER = "number"
    YES_NO = "yes_no"

    __titles__ = {
        "text": _l("Text"),
        "single_choice": _l("Single choice"),
        "multiple_choice": _l("Multiple choice"),
        "number": _l("Number"),
        "yes_no": _l("Yes / no"),
    }


class Activity(db.Model):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("taken >= 0", name="taken_not_negative"),
        CheckConstraint("taken <= capacity", name="taken_within_capacity"),
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        CheckConstraint("signup_closes_at > signup_opens_at", name="window_ordered"),
        Index("ix_activity_status_starts", "status", "starts_at"),
        CheckConstraint("offer_hours BETWEEN 1 AND 168", name="offer_hours_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[ActivityKind] = mapped_column(enum_column_type(ActivityKind), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("union_node.id", ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    venue: Mapped[str] = mapped_column(String(200), default="")
    district: Mapped[str | None] = mapped_column(String(40), index=True)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    signup_opens_at: Mapped[datetime] = mapped_column()
    signup_closes_at: Mapped[datetime] = mapped_column()
    cancel_cutoff_at: Mapped[datetime | None] = mapped_column()
    capacity: Mapped[int] = mapped_column(default=0)
    taken: Mapped[int] = mapped_column(default=0)
    waitlist_enabled: Mapped[bool] = mapped_column(default=True)
    mode: Mapped[SignupMode] = mapped_column(enum_column_type(SignupMode), default=SignupMode.FIRST_COME)
    visibility: Mapped[Visibility] = mapped_column(enum_column_type(Visibility), default=Visibility.PUBLIC)
    status: Mapped[ActivityStatus] = mapped_column(enum_column_type(ActivityStatus), default=ActivityStatus.DRAFT)
    members_only: Mapped[bool] = mapped_column(default=False)
    #: How long a place offered from the waiting list waits for a yes (shortened near the start).
    offer_hours: Mapped[int] = mapped_column(default=12, server_default="12")
    #: The draw's secret seed (chosen with ``secrets`` when a lottery is published) and its SHA-256,
    #: shown from then on; the seed itself is shown only after the draw (commit, then reveal).
    lottery_seed: Mapped[str | None] = mapped_column(String(64))
    lottery_seed_hash: Mapped[str | None] = mapped_column(String(64))
    #: The drawn order, registration ids comma-separated, published after the draw.
    lottery_order: Mapped[str | None] = mapped_column(Text)
    drawn_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    #: The series this activity is one occurrence of (a weekly class, a monthly health day), if any.
    series_id: Mapped[int | None] = mapped_column(ForeignKey("activity_series.id", ondelete="SET NULL"), index=True)

    node: Mapped[UnionNode] = relationship(lazy="joined")
    slots: Mapped[list["TimeSlot"]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="TimeSlot.starts_at"
    )
    questions: Mapped[list["Question"]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="Question.position"
    )
    eligible_occupations: Mapped[list["ActivityOccupation"]] = relationship(
        cascade="all, delete-orphan"
    )
    eligible_nodes: Mapped[list["ActivityEligibleNode"]] = relationship(
        cascade="all, delete-orphan"
    )
    unit_quotas: Mapped[list["UnitQuota"]] = relationship(
        back_populates="activity", cascade="all, delete-orphan"
    )

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.taken, 0)

    @property
    def uses_slots(self) -> bool:
        return self.kind == ActivityKind.HEALTH or bool(self.slots)

    @property
    def occupation_codes(self) -> set[Occupation]:
        return {row.occupation for row in self.eligible_occupations}

    def __repr__(self) -> str:
        return f"<Activity {self.id} {self.title}>"


class ActivityOccupation(db.Model):
    """Eligibility by occupation: when any rows exist, only these occupations may sign up."""

    __tablename__ = "activity_occupation"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    occupation: Mapped[Occupation] = mapped_column(enum_column_type(Occupation, 32), primary_key=True)


class ActivityEligibleNode(db.Model):
    """Eligibility by union: when any rows exist, only workers of these nodes (or below) may sign up."""

    __tablename__ = "activity_eligible_node"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("union_node.id", ondelete="CASCADE"), primary_key=True)

    node: Mapped[UnionNode] = relationship(lazy="joined")


class TimeSlot(db.Model):
    __tablename__ = "time_slot"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("taken >= 0", name="taken_not_negative"),
        CheckConstraint("taken <= capacity", name="taken_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    capacity: Mapped[int] = mapped_column(default=0)
    taken: Mapped[int] = mapped_column(default=0)

    activity: Mapped[Activity] = relationship(back_populates="slots")

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.taken, 0)


class Question(db.Model):
    """A custom question on an activity's sign-up form."""

    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("activity_id", "position", name="uq_question_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[QuestionKind] = mapped_column(enum_column_type(QuestionKind))
    required: Mapped[bool] = mapped_column(default=False)
    choices: Mapped[list[str] | None] = mapped_column(JSON)

    activity: Mapped[Activity] = relationship(back_populates="questions")

    def choice_list(self) -> list[str]:
        return list(self.choices or [])

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "kind": self.kind.value,
                "required": self.required, "choices": self.choice_list()}


class UnitQuota(db.Model):
    """How many delegates one unit may register for a quota-mode activity."""

    __tablename__ = "unit_quota"
    __table_args__ = (
        UniqueConstraint("activity_id", "node_id", name="uq_unit_quota_activity_node"),
        CheckConstraint("quota >= 0", name="quota_not_negative"),
        CheckConstraint("used >= 0 AND used <= quota", name="used_within_quota"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    node_id: Mapped[int] = mapped_column(ForeignKey("union_node.id", ondelete="CASCADE"))
    quota: Mapped[int] = mapped_column(default=0)
    used: Mapped[int] = mapped_column(default=0)

    activity: Mapped[Activity] = relationship(back_populates="unit_quotas")
    node: Mapped[UnionNode] = relationship(lazy="joined")


class ActivitySeries(db.Model):
    """Occurrences of one activity made together (each its own activity, capacity and roster)."""

    __tablename__ = "activity_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("union_node.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    #: Workers may sign up for every open occurrence at once (all or nothing).
    whole_series_signup: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)
