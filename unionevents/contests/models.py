"""Contests: entries (photos or performances), rounds, judges, scores, public votes and awards.

One ``Contest`` row belongs to one activity of kind CONTEST and holds its settings.  The database
guards what must never happen: one score per (judge, entry, round, criterion), one public vote per
(contest, voter, day), one award per entry, and an award tier never holding more than its quota
(a counter with a CHECK, moved by conditional UPDATEs like an activity's places).
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..activities.models import Activity
from ..core.enums import LabelledEnum, enum_column_type
from ..core.timeutil import now
from ..extensions import db
from .rules import DEFAULT_JURY_WEIGHT, DEFAULT_PUBLIC_WEIGHT, WEIGHT_TOTAL


class ContestFormat(LabelledEnum):
    PHOTO = "photo"
    PERFORMANCE = "performance"

    __titles__ = {
        "photo": _l("Photo contest"),
        "performance": _l("Performance contest"),
    }


class PerformanceCategory(LabelledEnum):
    SOLO = "solo"
    GROUP = "group"
    CHOIR = "choir"

    __titles__ = {
        "solo": _l("Solo"),
        "group": _l("Small group"),
        "choir": _l("Choir"),
    }


class EntryStage(LabelledEnum):
    """Where an entrant is, in order: the progress strip on their entry and contest pages."""

    SIGNED_UP = "signed_up"
    SUBMITTED = "submitted"
    PRELIMINARY = "preliminary"
    FINAL = "final"
    AWARDED = "awarded"

    __titles__ = {
        "signed_up": _l("Sign-up done"),
        "submitted": _l("Entry submitted"),
        "preliminary": _l("Preliminary"),
        "final": _l("Final"),
        "awarded": _l("Award won"),
    }


class RoundStatus(LabelledEnum):
    SETUP = "setup"
    OPEN = "open"
    CLOSED = "closed"

    __titles__ = {
        "setup": _l("Not started"),
        "open": _l("Judging"),
        "closed": _l("Closed"),
    }


class Contest(db.Model):
    __tablename__ = "contest"
    __table_args__ = (
        CheckConstraint("entry_limit >= 1", name="entry_limit_positive"),
        CheckConstraint("jury_weight >= 0 AND public_weight >= 0 AND "
                        f"jury_weight + public_weight = {WEIGHT_TOTAL}", name="weights_sum_100"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), unique=True)
    format: Mapped[ContestFormat] = mapped_column(enum_column_type(ContestFormat))
    entry_limit: Mapped[int] = mapped_column(default=3)
    public_vote: Mapped[bool] = mapped_column(default=False)
    vote_opens_at: Mapped[datetime | None] = mapped_column()
    vote_closes_at: Mapped[datetime | None] = mapped_column()
    jury_weight: Mapped[int] = mapped_column(default=DEFAULT_JURY_WEIGHT)
    public_weight: Mapped[int] = mapped_column(default=DEFAULT_PUBLIC_WEIGHT)
    normalise_judges: Mapped[bool] = mapped_column(default=False)
    results_published_at: Mapped[datetime | None] = mapped_column()
    #: Set when the organiser closed submissions before the deadline (opening round 1 early, with a reason).
    submissions_closed_at: Mapped[datetime | None] = mapped_column()
    early_close_reason: Mapped[str | None] = mapped_column(String(200))
    next_code: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=now)

    activity: Mapped[Activity] = relationship(lazy="joined")
    rounds: Mapped[list["Round"]] = relationship(back_populates="contest", cascade="all, delete-orphan",
                                                 order_by="Round.position")
    criteria: Mapped[list["Criterion"]] = relationship(back_populates="contest", cascade="all, delete-orphan",
                                                       order_by="Criterion.position")
    tiers: Mapped[list["AwardTier"]] = relationship(back_populates="contest", cascade="all, delete-orphan",
                                                    order_by="AwardTier.position")

    @property
    def is_photo(self) -> bool:
        return self.format == ContestFormat.PHOTO

    @property
    def results_published(self) -> bool:
        return self.results_published_at is not None

    @property
    def entry_deadline(self) -> datetime:
        """When submissions really close: the activity's sign-up close, or earlier when closed early."""
        deadline = self.activity.signup_closes_at
        if self.submissions_closed_at is not None and self.submissions_closed_at < deadline:
            return self.submissions_closed_at
        return deadline

    def vote_is_open(self, at: datetime) -> bool:
        return bool(self.public_vote and self.vote_opens_at and self.vote_closes_at
                    and self.vote_opens_at <= at < self.vote_closes_at)


class Entry(db.Model):
    """One contest entry: a photo work (with images) or a performance."""

    __tablename__ = "contest_entry"
    __table_args__ = (
        UniqueConstraint("contest_id", "code", name="uq_contest_entry_code"),
        Index("ix_contest_entry_contest_user", "contest_id", "user_id"),
        # An uploaded recording is stored whole or not at all (name, checked type and size together).
        CheckConstraint("(media_name IS NULL AND media_type IS NULL AND media_size IS NULL) OR "
                        "(media_name IS NOT NULL AND media_type IS NOT NULL AND media_size > 0)",
                        name="media_complete"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    #: The entrant's registration that holds their place: never missing (the service refuses an entry
    #: without a place; the database refuses one without a registration).
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    #: The anonymous code judges see (P0001, S0001).
    code: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[PerformanceCategory | None] = mapped_column(enum_column_type(PerformanceCategory))
    team_leader: Mapped[str | None] = mapped_column(String(40))
    members: Mapped[str | None] = mapped_column(Text)
    consent_publish_name: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[datetime | None] = mapped_column()
    #: An optional audio or video recording of a performance (``contests.media``): a random file
    #: name, the type found from the file's first bytes (never the browser's word) and its size.
    media_name: Mapped[str | None] = mapped_column(String(64), unique=True)
    media_type: Mapped[str | None] = mapped_column(String(40))
    media_size: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    contest: Mapped[Contest] = relationship()
    user: Mapped[User] = relationship()
    images: Mapped[list["EntryImage"]] = relationship(back_populates="entry", cascade="all, delete-orphan",
                                                      order_by="EntryImage.position")
    award: Mapped["Award | None"] = relationship(back_populates="entry", uselist=False)
    performers: Mapped[list["EntryMember"]] = relationship(back_populates="entry", cascade="all, delete-orphan",
                                                          order_by="EntryMember.position")


class EntryMember(db.Model):
    """One performer of a small group or choir: name and mobile (the organiser's contact list)."""

    __tablename__ = "contest_entry_member"
    __table_args__ = (
        UniqueConstraint("entry_id", "position", name="uq_contest_entry_member_position"),
        CheckConstraint("position >= 0", name="position_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("contest_entry.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(40))
    mobile: Mapped[str] = mapped_column(String(11))

    entry: Mapped[Entry] = relationship(back_populates="performers")


class EntryImage(db.Model):
    """A sanitised photo (metadata stripped, re-encoded) and its thumbnail, stored under random names."""

    __tablename__ = "contest_entry_image"
    __table_args__ = (UniqueConstraint("entry_id", "position", name="uq_contest_entry_image_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("contest_entry.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    thumb_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    size_bytes: Mapped[int] = mapped_column()

    entry: Mapped[Entry] = relationship(back_populates="images")


class Round(db.Model):
    """A stage of the contest (初赛, 决赛, 颁奖展演); entries take part when listed in RoundEntry."""

    __tablename__ = "contest_round"
    __table_args__ = (UniqueConstraint("contest_id", "position", name="uq_contest_round_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(60))
    status: Mapped[RoundStatus] = mapped_column(enum_column_type(RoundStatus), default=RoundStatus.SETUP)
    scored: Mapped[bool] = mapped_column(default=True)
    opened_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    contest: Mapped[Contest] = relationship(back_populates="rounds")


class RoundEntry(db.Model):
    __tablename__ = "contest_round_entry"

    round_id: Mapped[int] = mapped_column(ForeignKey("contest_round.id", ondelete="CASCADE"),
                                          primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("contest_entry.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)


class Criterion(db.Model):
    """A scoring criterion with its weight and range (0 to ``max_score``)."""

    __tablename__ = "contest_criterion"
    __table_args__ = (
        UniqueConstraint("contest_id", "position", name="uq_contest_criterion_position"),
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("max_score > 0", name="max_score_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(60))
    weight: Mapped[int] = mapped_column()
    max_score: Mapped[int] = mapped_column(default=10)

    contest: Mapped[Contest] = relationship(back_populates="criteria")


class ContestJudge(db.Model):
    """A judge on the contest's panel (also holds Role.JUDGE on the activity)."""

    __tablename__ = "contest_judge"
    __table_args__ = (UniqueConstraint("contest_id", "user_id", name="uq_contest_judge_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship()
    entry_links: Mapped[list["JudgeEntry"]] = relationship(cascade="all, delete-orphan")


class JudgeEntry(db.Model):
    """Limits a judge to some entries; a judge without rows scores every entry of a round."""

    __tablename__ = "contest_judge_entry"

    judge_id: Mapped[int] = mapped_column(ForeignKey("contest_judge.id", ondelete="CASCADE"),
                                          primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("contest_entry.id", ondelete="CASCADE"),
                                          primary_key=True)


class Score(db.Model):
    __tablename__ = "contest_score"
    __table_args__ = (
        UniqueConstraint("judge_id", "entry_id", "round_id", "criterion_id", name="uq_contest_score_one"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        Index("ix_contest_score_round_entry", "round_id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("contest_round.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("contest_entry.id", ondelete="CASCADE"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("contest_criterion.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class Vote(db.Model):
    """A public vote: at most one per account per (Beijing) day per contest."""

    __tablename__ = "contest_vote"
    __table_args__ = (
        UniqueConstraint("contest_id", "voter_id", "day", name="uq_contest_vote_daily"),
        Index("ix_contest_vote_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("contest_entry.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=now)


class AwardTier(db.Model):
    """An award level with a quota; ``awarded`` counts its awards and can never pass the quota."""

    __tablename__ = "contest_award_tier"
    __table_args__ = (
        UniqueConstraint("contest_id", "position", name="uq_contest_award_tier_position"),
        CheckConstraint("quota >= 0", name="quota_not_negative"),
        CheckConstraint("awarded >= 0 AND awarded <= quota", name="awarded_within_quota"),
        CheckConstraint("min_score IS NULL OR (min_score >= 0 AND min_score <= 100)", name="min_score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(40))
    quota: Mapped[int] = mapped_column()
    awarded: Mapped[int] = mapped_column(default=0)
    #: Entries scoring below this (final score, 0–100) cannot get this tier; None: no minimum.
    min_score: Mapped[float | None] = mapped_column()

    contest: Mapped[Contest] = relationship(back_populates="tiers")


class Award(db.Model):
    __tablename__ = "contest_award"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("contest_award_tier.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("contest_entry.id", ondelete="CASCADE"), unique=True)
    rank: Mapped[int | None] = mapped_column()
    by_hand: Mapped[bool] = mapped_column(default=False)
    #: Printed on the certificate (text and QR); opens the public check page. Set at publication.
    verify_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    tier: Mapped[AwardTier] = relationship(lazy="joined")
    entry: Mapped[Entry] = relationship(back_populates="award")
