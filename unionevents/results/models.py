"""Feedback left by a worker after attending a class: one per registration."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.timeutil import now
from ..extensions import db
from ..registrations.models import Registration
from . import rules


class Feedback(db.Model):
    """Organisers see the rating and comment without the worker's name."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"),
                                                 unique=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(String(rules.COMMENT_MAX), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)

    registration: Mapped[Registration] = relationship()
