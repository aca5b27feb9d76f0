"""What the outbox sent about an activity, and the organiser's hand retry of a message that failed."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..accounts.models import User
from ..core.audit import log_action
from ..core.db import MAX_ID, write_transaction
from ..core.errors import Conflict, NotFound
from ..core.masking import mask_mobile
from ..core.outbox import OutboxMessage, OutboxState
from ..core.outbox_delivery import oldest_due_age_seconds, outbox_stats, retry
from ..extensions import db

PAGE_SIZE = 50
MAX_PAGE = 10_000
RETRYABLE = (OutboxState.FAILED, OutboxState.DEAD)
MSG_NO_MESSAGE = _l("This message does not exist.")
MSG_NOT_RETRYABLE = _l("Only a message that failed can be sent again.")


@dataclass(frozen=True)
class SentMessage:
    id: int
    to_name: str
    to_mobile: str  # masked
    kind: str
    subject: str
    body: str
    state: OutboxState
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None

    @property
    def can_retry(self) -> bool:
        return self.state in RETRYABLE


@dataclass(frozen=True)
class MessagePage:
    messages: list[SentMessage]
    total: int
    page: int
    counts: dict[str, int]  # by state, for this activity

    @property
    def has_next(self) -> bool:
        return self.page * PAGE_SIZE < self.total


def activity_messages(activity_id: int, page: int = 1, state: OutboxState | None = None) -> MessagePage:
    """Messages about ``activity_id``, newest first, the recipient's mobile masked."""
    page = min(max(page, 1), MAX_PAGE)
    M = OutboxMessage
    where = [M.activity_id == activity_id]
    counts = {s.value: 0 for s in OutboxState}
    for value, count in db.session.execute(select(M.state, func.count()).where(*where).group_by(M.state)):
        counts[OutboxState(value).value] = count
    if state is not None:
        where.append(M.state == state)
    rows = db.session.execute(
        select(M.id, M.kind, M.subject, M.body, M.state, M.attempts, M.last_error, M.created_at, M.sent_at,
               M.next_attempt_at, M.address, User.name, User.mobile)
        .outerjoin(User, User.id == M.user_id).where(*where)
        .order_by(M.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    total = sum(counts.values()) if state is None else counts[state.value]
    return MessagePage([SentMessage(
        id=row.id, to_name=row.name or "", to_mobile=mask_mobile(row.mobile or row.address),
        kind=row.kind, subject=row.subject, body=row.body, state=OutboxState(row.state), attempts=row.attempts,
        last_error=row.last_error, created_at=row.created_at, sent_at=row.sent_at,
        next_attempt_at=row.next_attempt_at) for row in rows], total, page, counts)


def retry_message(actor: User, activity_id: int, message_id: int) -> None:
    """Send a failed or dead message about ``activity_id`` again (the caller checked that ``actor``
    organises the activity); audited."""
    if not 0 < message_id <= MAX_ID:
        raise NotFound(MSG_NO_MESSAGE)
    with write_transaction():
        message = db.session.get(OutboxMessage, message_id)
        if message is None or message.activity_id != activity_id:
            raise NotFound(MSG_NO_MESSAGE)
        if not retry(message_id):
            raise Conflict(MSG_NOT_RETRYABLE)
        log_action(actor.id, "outbox.retry", message, activity_id=activity_id)


@dataclass(frozen=True)
class OutboxOverview:
    counts: dict[str, int]
    backlog: int                      # queued + failed + sending
    oldest_pending_seconds: float | None
    top_errors: list[tuple[str, int]]  # the commonest last errors among failed and dead messages


def overview() -> OutboxOverview:
    """The admins' view: counts by state, the backlog's age and what the failures say (no personal data)."""
    counts = outbox_stats()
    M = OutboxMessage
    errors = db.session.execute(
        select(M.last_error, func.count()).where(M.state.in_(RETRYABLE), M.last_error.is_not(None))
        .group_by(M.last_error).order_by(func.count().desc(), M.last_error).limit(10)).all()
    return OutboxOverview(counts, counts["queued"] + counts["failed"] + counts["sending"],
                          oldest_due_age_seconds(), [(text, count) for text, count in errors])
