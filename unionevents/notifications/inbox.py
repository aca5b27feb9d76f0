"""我的消息: every message the outbox holds for a worker, newest first, with a read mark.

Login and verification codes are left out (they are worthless once used and should not sit in a
page).  Read or unread is one mark per worker (``InboxRead.read_up_to``): opening the inbox marks
what it showed as read."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..core.db import MAX_ID, is_sqlite, write_transaction
from ..core.outbox import OutboxMessage, OutboxState, Priority
from ..core.timeutil import now
from ..extensions import db
from .models import InboxRead

PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 10_000

M = OutboxMessage


@dataclass(frozen=True)
class InboxMessage:
    id: int
    kind: str
    subject: str
    body: str
    created_at: datetime
    state: OutboxState
    sent_at: datetime | None
    unread: bool


@dataclass(frozen=True)
class InboxPage:
    messages: list[InboxMessage]
    total: int
    unread: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _mine(user_id: int) -> list:
    return [M.user_id == user_id, M.priority != int(Priority.CODE)]


def read_up_to(user_id: int) -> int:
    return db.session.scalar(select(InboxRead.read_up_to).where(InboxRead.user_id == user_id)) or 0


def unread_count(user_id: int) -> int:
    """Messages newer than the worker's read mark (one indexed count on ``outbox_message.user_id``)."""
    mark = select(func.coalesce(func.max(InboxRead.read_up_to), 0)).where(
        InboxRead.user_id == user_id).scalar_subquery()
    return db.session.scalar(select(func.count(M.id)).where(*_mine(user_id), M.id > mark)) or 0


def inbox(user_id: int, page: int = 1, per_page: int = PER_PAGE) -> InboxPage:
    """One page of ``user_id``'s messages, newest first; a page past the end gives the last one."""
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    total = db.session.scalar(select(func.count(M.id)).where(*_mine(user_id))) or 0
    page = min(max(page, 1), MAX_PAGE, max(1, math.ceil(total / per_page)))
    mark = read_up_to(user_id)
    rows = db.session.execute(
        select(M.id, M.kind, M.subject, M.body, M.created_at, M.state, M.sent_at)
        .where(*_mine(user_id)).order_by(M.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    messages = [InboxMessage(id=row.id, kind=row.kind, subject=row.subject, body=row.body,
                             created_at=row.created_at, state=OutboxState(row.state), sent_at=row.sent_at,
                             unread=row.id > mark) for row in rows]
    unread = sum(1 for m in messages if m.unread) if page == 1 and total <= per_page else unread_count(user_id)
    return InboxPage(messages, total, unread, page, per_page)


def mark_read(user_id: int, up_to: int | None = None) -> int:
    """Mark the worker's messages up to id ``up_to`` (all of them when None) as read; the mark only
    moves forward.  Returns the mark."""
    newest = db.session.scalar(select(func.max(M.id)).where(*_mine(user_id))) or 0
    wanted = newest if up_to is None else min(max(int(up_to), 0), newest, MAX_ID)
    if wanted <= read_up_to(user_id):
        return read_up_to(user_id)
    for attempt in (1, 2):
        try:
            with write_transaction():
                row = db.session.get(InboxRead, user_id, with_for_update=not is_sqlite(),
                                     populate_existing=True)
                if row is None:
                    db.session.add(InboxRead(user_id=user_id, read_up_to=wanted))
                elif row.read_up_to < wanted:
                    row.read_up_to, row.read_at = wanted, now()
            break
        except IntegrityError:  # the same worker's other tab made the row first: move it instead
            if attempt == 2:
                raise
    return read_up_to(user_id)
