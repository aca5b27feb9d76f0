"""Health assessments: sensitive personal information (PIPL Art. 28).

One assessment per checked-in registration of a health-service activity.  Only the worker and
that activity's medical staff read it (``services``); every read and write is audited.  An edit
adds a revision row naming who changed which fields when — never a copy of the values, so the
retention purge and erasure leave nothing behind (revisions go with their assessment).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..activities.models import Activity
from ..core.enums import enum_column_type
from ..core.timeutil import now
from ..extensions import db
from ..registrations.models import Registration
from . import rules
from .rules import SpineFinding


def _finding_type(name: str):
    """The spine-finding column type; each column gets its own CHECK constraint name."""
    column_type = enum_column_type(SpineFinding, 16)
    column_type.name = name
    return column_type


class HealthAssessment(db.Model):
    __tablename__ = "health_assessment"
    __table_args__ = (
        CheckConstraint("systolic IS NULL OR (systolic BETWEEN 60 AND 260)", name="systolic_plausible"),
        CheckConstraint("diastolic IS NULL OR (diastolic BETWEEN 30 AND 160)", name="diastolic_plausible"),
        CheckConstraint("heart_rate IS NULL OR (heart_rate BETWEEN 30 AND 220)", name="heart_rate_plausible"),
        CheckConstraint("height_mm IS NULL OR (height_mm BETWEEN 1000 AND 2300)", name="height_plausible"),
        CheckConstraint("weight_hg IS NULL OR (weight_hg BETWEEN 250 AND 3000)", name="weight_plausible"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_health_assessment_activity", "activity_id"),
        Index("ix_health_assessment_user", "user_id"),
        Index("ix_health_assessment_recorded", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"),
                                                 unique=True)
    # Copied from the registration so access checks and counts need no join.
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    systolic: Mapped[int | None] = mapped_column()     # mmHg
    diastolic: Mapped[int | None] = mapped_column()    # mmHg
    heart_rate: Mapped[int | None] = mapped_column()   # beats per minute
    height_mm: Mapped[int | None] = mapped_column()    # stored exactly: 172.5 cm → 1725
    weight_hg: Mapped[int | None] = mapped_column()    # 100 g units: 68.4 kg → 684
    cervical: Mapped[SpineFinding | None] = mapped_column(_finding_type("cervical_finding"))
    cervical_note: Mapped[str] = mapped_column(String(rules.NOTE_MAX), default="")
    lumbar: Mapped[SpineFinding | None] = mapped_column(_finding_type("lumbar_finding"))
    lumbar_note: Mapped[str] = mapped_column(String(rules.NOTE_MAX), default="")
    advice: Mapped[str] = mapped_column(Text, default="")
    follow_up: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    recorded_at: Mapped[datetime] = mapped_column(default=now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    registration: Mapped[Registration] = relationship()
    activity: Mapped[Activity] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    revisions: Mapped[list["HealthAssessmentRevision"]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan", passive_deletes=True,
        order_by="HealthAssessmentRevision.version",
    )

    @property
    def height_cm(self) -> Decimal | None:
        return None if self.height_mm is None else Decimal(self.height_mm) / 10

    @property
    def weight_kg(self) -> Decimal | None:
        return None if self.weight_hg is None else Decimal(self.weight_hg) / 10

    @property
    def bmi(self) -> Decimal | None:
        return rules.bmi(self.height_cm, self.weight_kg)

    @property
    def bmi_category(self) -> rules.BmiCategory | None:
        return rules.bmi_category(self.bmi)

    def values(self) -> rules.AssessmentValues:
        return rules.AssessmentValues(
            systolic=self.systolic, diastolic=self.diastolic, heart_rate=self.heart_rate,
            height_cm=None if self.height_cm is None else self.height_cm.quantize(rules.ONE_DECIMAL),
            weight_kg=None if self.weight_kg is None else self.weight_kg.quantize(rules.ONE_DECIMAL),
            cervical=self.cervical, cervical_note=self.cervical_note or "", lumbar=self.lumbar,
            lumbar_note=self.lumbar_note or "", advice=self.advice or "", follow_up=bool(self.follow_up),
        )

    def apply(self, values: rules.AssessmentValues) -> None:
        self.systolic, self.diastolic, self.heart_rate = values.systolic, values.diastolic, values.heart_rate
        self.height_mm = None if values.height_cm is None else int(values.height_cm * 10)
        self.weight_hg = None if values.weight_kg is None else int(values.weight_kg * 10)
        self.cervical, self.cervical_note = values.cervical, values.cervical_note
        self.lumbar, self.lumbar_note = values.lumbar, values.lumbar_note
        self.advice, self.follow_up = values.advice, values.follow_up


class HealthAssessmentRevision(db.Model):
    """Who changed an assessment, when, and which fields (names only)."""

    __tablename__ = "health_assessment_revision"
    __table_args__ = (UniqueConstraint("assessment_id", "version", name="uq_health_revision_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("health_assessment.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    changed_at: Mapped[datetime] = mapped_column(default=now)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)

    assessment: Mapped[HealthAssessment] = relationship(back_populates="revisions")
    changed_by: Mapped[User | None] = relationship()
