"""Swaps (以物换物): the exchange rule and stock of an activity, its ledger, and the union libraries
(职工书屋) that donated books go to."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..activities.models import Activity
from ..core.timeutil import now
from ..extensions import db
from ..registrations.models import Registration
from ..unions.models import UnionNode
from . import rules


class SwapRule(db.Model):
    """One per swap activity: the exchange rule and the stock row that donations claim from."""

    __tablename__ = "swap_rule"
    __table_args__ = (
        CheckConstraint("books_per_lot >= 1", name="books_per_lot_positive"),
        CheckConstraint("portions_per_lot >= 1", name="portions_per_lot_positive"),
        CheckConstraint("per_person_cap IS NULL OR per_person_cap >= 1", name="cap_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
    )

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    books_per_lot: Mapped[int] = mapped_column(default=1)
    portions_per_lot: Mapped[int] = mapped_column(default=1)
    per_person_cap: Mapped[int | None] = mapped_column()
    stock: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    activity: Mapped[Activity] = relationship()

    def as_rule(self) -> rules.ExchangeRule:
        return rules.ExchangeRule(self.books_per_lot, self.portions_per_lot, self.per_person_cap)


class StockAdjustment(db.Model):
    """A change of stock by the organiser (delivery, spoilage, count correction)."""

    __tablename__ = "swap_stock_adjustment"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="delta_not_zero"),
        CheckConstraint("stock_after >= 0", name="stock_after_not_negative"),
        Index("ix_swap_stock_adjustment_activity", "activity_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column()
    stock_after: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(rules.REASON_MAX), default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=now)

    by: Mapped[User | None] = relationship()


class SwapDonation(db.Model):
    """One line of the ledger: a worker's books in, the portions given out."""

    __tablename__ = "swap_donation"
    __table_args__ = (
        CheckConstraint("books >= 1", name="books_positive"),
        CheckConstraint("portions >= 0", name="portions_not_negative"),
        Index("ix_swap_donation_activity", "activity_id", "at"),
        Index("ix_swap_donation_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"),
                                                 index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    books: Mapped[int] = mapped_column()
    portions: Mapped[int] = mapped_column()
    #: [{"title": "...", "isbn": "978..." | null}, ...], one entry per listed book.
    titles: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=now)

    registration: Mapped[Registration] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class LibraryStock(db.Model):
    """A union's workplace library (职工书屋): how many donated books it has received."""

    __tablename__ = "library_stock"
    __table_args__ = (CheckConstraint("books_total >= 0", name="books_total_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("union_node.id", ondelete="CASCADE"), unique=True)
    books_total: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=now)

    node: Mapped[UnionNode] = relationship(lazy="joined")


class LibraryBook(db.Model):
    """Copies of one title (or ISBN) in a union's library; untitled books count only in the stock."""

    __tablename__ = "library_book"
    __table_args__ = (
        UniqueConstraint("node_id", "key", name="uq_library_book_node_key"),
        CheckConstraint("copies >= 1", name="copies_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("union_node.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(rules.TITLE_MAX + 20))
    title: Mapped[str] = mapped_column(String(rules.TITLE_MAX), default="")
    isbn: Mapped[str | None] = mapped_column(String(13))
    copies: Mapped[int] = mapped_column(default=1)
    first_added_at: Mapped[datetime] = mapped_column(default=now)
    last_added_at: Mapped[datetime] = mapped_column(default=now)
