"""The audit log: who did what to which object, and when.

Rows carry ids and non-personal facts only, so erasing a person leaves no copy
of their data here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, insert
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .timeutil import now


class AuditLog(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


@dataclass(frozen=True)
class Ref:
    """An object named by its table and id, for ``log_action`` when its row is not loaded:
    ``Ref("activity", 7)``."""

    table: str
    id: int


def log_action(actor_id: int | None, action: str, obj: Any = None, outcome: str = "ok",
               **data: Any) -> None:
    """Write an audit row in the current transaction (the caller commits it with the change).

    A Core INSERT rather than an ORM object: nothing reads the row back in the request
    (docs/performance.md, "Why the code is shaped this way").
    """
    db.session.execute(_AUDIT_INSERT, {
        "at": now(),
        "actor_id": actor_id,
        "action": action,
        "object_type": obj.table if isinstance(obj, Ref) else (
            type(obj).__tablename__ if obj is not None and hasattr(type(obj), "__tablename__") else None),
        "object_id": getattr(obj, "id", None),
        "outcome": outcome,
        "data": data or None,
    })


_AUDIT_INSERT = insert(AuditLog.__table__)


def log_read(actor_id: int | None, action: str, obj: Any = None, **data: Any) -> None:
    """Record a sensitive read (an export, a search of people) in its own short write transaction.

    For GET requests, which otherwise write nothing: the request's read snapshot is ended first
    (see ``write_transaction``), so on SQLite this waits for the write lock instead of failing.
    """
    from .db import write_transaction

    with write_transaction():
        log_action(actor_id, action, obj, **data)
