"""Delivering the outbox: claim a batch, send outside any transaction, mark each result on its own.

One claim serves the long-running worker (``flask outbox worker``) and the one-shot run for cron
(``flask outbox send``):

1. **Claim** (one short write transaction): ``UPDATE outbox_message SET state='sending',
   lease_until=now+lease, attempts=attempts+1 WHERE id IN (SELECT id ... due ... ORDER BY priority,
   id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING ...``.  On PostgreSQL ``SKIP LOCKED`` lets several
   workers claim side by side, each a different batch; on SQLite the same statement runs inside
   ``BEGIN IMMEDIATE`` (``write_transaction``), so claims take turns.  Due = queued or failed whose
   ``next_attempt_at`` has come, or sending whose lease has run out (its worker died).
2. **Send** each message with no transaction open (a slow relay holds no lock).
3. **Mark** each result in its own short transaction, guarded by the claim (state ``sending`` and
   the attempt number the claim set): sent; failed with the next attempt after a backoff; dead after
   OUTBOX_MAX_ATTEMPTS attempts or at once when the relay refused it for good.  A rejected message
   therefore never holds back the ones behind it.

A worker killed between sending and marking sends that one message again once its lease ends (at
least once; the relay gets the message id to drop a repeat).  A worker told to stop finishes the
message in hand and hands the rest of its batch back at once.
"""
from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Callable, cast

from flask import current_app
from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, OperationalError

from ..extensions import db
from .db import is_sqlite, write_transaction
from .outbox import (Channel, DeliveryError, Outgoing, OutboxMessage, OutboxState as S,
                     PermanentDeliveryError, Priority, recipients, make_sender)
from .outbox_rules import backoff_seconds, bulk_hold_until, quiet_hours_end
from .timeutil import now

log = logging.getLogger("unionevents.outbox")

T = OutboxMessage.__table__
_COLUMNS = (T.c.id, T.c.channel, T.c.user_id, T.c.kind, T.c.subject, T.c.body, T.c.address,
            T.c.priority, T.c.attempts, T.c.activity_id)
#: Written out as in the partial index's predicate, so PostgreSQL uses the index whatever the plan.
_PENDING = text("outbox_message.state IN ('queued', 'sending', 'failed')")
BULK_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Settings:
    max_attempts: int
    backoff_base: float
    backoff_max: float
    lease_seconds: float
    bulk_per_hour: int
    quiet_start: time
    quiet_end: time

    @classmethod
    def from_config(cls, config) -> "Settings":
        return cls(
            max_attempts=max(1, int(config.get("OUTBOX_MAX_ATTEMPTS", 8))),
            backoff_base=float(config.get("OUTBOX_BACKOFF_BASE_SECONDS", 30)),
            backoff_max=float(config.get("OUTBOX_BACKOFF_MAX_SECONDS", 3600)),
            lease_seconds=float(config.get("OUTBOX_LEASE_SECONDS", 300)),
            bulk_per_hour=int(config.get("OUTBOX_BULK_PER_RECIPIENT_PER_HOUR", 3)),
            quiet_start=time.fromisoformat(config.get("OUTBOX_QUIET_HOURS_START", "22:00")),
            quiet_end=time.fromisoformat(config.get("OUTBOX_QUIET_HOURS_END", "07:00")),
        )


@dataclass
class Result:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0
    released: int = 0

    def add(self, other: "Result") -> None:
        for name in ("claimed", "sent", "failed", "dead", "deferred", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Claimed:
    message: Outgoing
    recipient: str
    lease_until: datetime


def _due(at: datetime, quiet: bool):
    due = and_(_PENDING, or_(
        and_(T.c.state.in_([S.QUEUED, S.FAILED]),
             or_(T.c.next_attempt_at.is_(None), T.c.next_attempt_at <= at)),
        and_(T.c.state == S.SENDING, T.c.lease_until <= at),
    ))
    if quiet:  # bulk SMS wait for the morning; codes, timely notices and e-mail go on
        due = and_(due, or_(T.c.priority < int(Priority.BULK), T.c.channel != Channel.SMS))
    return due


def claim(limit: int, settings: Settings | None = None) -> list[_Claimed]:
    """Claim up to ``limit`` due messages for this process (one short write transaction) and look
    up their addresses; bulk messages over a recipient's hourly limit are deferred instead."""
    return _claim(limit, settings)[0]


def _claim(limit: int, settings: Settings | None = None) -> tuple[list[_Claimed], int]:
    settings = settings or Settings.from_config(current_app.config)
    at = now()
    lease_until = at + timedelta(seconds=settings.lease_seconds)
    quiet = quiet_hours_end(at, settings.quiet_start, settings.quiet_end) is not None
    ids = (select(T.c.id).where(_due(at, quiet)).order_by(T.c.priority, T.c.id).limit(limit)
           .with_for_update(skip_locked=True).scalar_subquery())
    statement = (update(T).where(T.c.id.in_(ids))
                 .values({"state": S.SENDING, "lease_until": lease_until, "attempts": T.c.attempts + 1})
                 .returning(*_COLUMNS))
    with write_transaction():
        rows = sorted(db.session.execute(statement).all(), key=lambda row: (row.priority, row.id))
        claimed = [Outgoing(**row._mapping) for row in rows]
        messages = _hold_bulk(claimed, at, settings)
        addresses = recipients(sorted({m.user_id for m in messages if m.user_id is not None}))
    return ([_Claimed(m, addresses.get(m.user_id, "") if m.user_id is not None else (m.address or ""),
                      lease_until) for m in messages], len(claimed) - len(messages))


def _hold_bulk(messages: list[Outgoing], at: datetime, settings: Settings) -> list[Outgoing]:
    """Defer the bulk messages that would pass a recipient's hourly limit (in the claim's
    transaction); returns the messages to send."""
    bulk_users = sorted({m.user_id for m in messages
                         if m.priority >= Priority.BULK and m.user_id is not None})
    if not bulk_users or settings.bulk_per_hour <= 0:
        return messages
    history: dict[int, list[datetime]] = {user_id: [] for user_id in bulk_users}
    for user_id, sent_at in db.session.execute(
            select(T.c.user_id, T.c.sent_at).where(
                T.c.user_id.in_(bulk_users), T.c.priority >= int(Priority.BULK),
                T.c.state == S.SENT, T.c.sent_at > at - BULK_WINDOW)):
        history[user_id].append(sent_at)
    keep = []
    for message in messages:
        if message.priority < Priority.BULK or message.user_id is None:
            keep.append(message)
            continue
        hold = bulk_hold_until(history[message.user_id], at, settings.bulk_per_hour, BULK_WINDOW)
        if hold is None:
            history[message.user_id].append(at)  # counts against the next one in this batch
            keep.append(message)
        else:
            _hand_back(message, next_attempt_at=hold)
    return keep


def _claim_guard(message: Outgoing):
    """Our claim on ``message`` still holds: nobody reclaimed it after our lease ran out."""
    return and_(T.c.id == message.id, T.c.state == S.SENDING, T.c.attempts == message.attempts)


def _hand_back(message: Outgoing, *, next_attempt_at=None, keep_time: bool = False) -> None:
    """Give a claimed message back unsent (in the current transaction): the attempt did not happen."""
    values = {"state": case((T.c.last_error.is_(None), S.QUEUED.value), else_=S.FAILED.value),
              "attempts": T.c.attempts - 1, "lease_until": None}
    if not keep_time:
        values["next_attempt_at"] = next_attempt_at
    db.session.execute(update(T).where(_claim_guard(message)).values(**values))


def release(claimed: list[_Claimed]) -> int:
    """Hand claimed, unsent messages back at once (a worker stopping); returns how many."""
    if not claimed:
        return 0
    with write_transaction():
        for item in claimed:
            _hand_back(item.message, keep_time=True)
    return len(claimed)


def _mark(message: Outgoing, error: Exception | None, settings: Settings, rand) -> S:
    at = now()
    if error is None:
        values = {"state": S.SENT, "sent_at": at, "lease_until": None, "next_attempt_at": None}
        outcome = S.SENT
    else:
        permanent = isinstance(error, PermanentDeliveryError)
        outcome = S.DEAD if permanent or message.attempts >= settings.max_attempts else S.FAILED
        wait = backoff_seconds(message.attempts, settings.backoff_base, settings.backoff_max, rand)
        values = {"state": outcome, "lease_until": None, "last_error": _describe(error)[:200],
                  "next_attempt_at": at + timedelta(seconds=wait) if outcome is S.FAILED else None}
    with write_transaction():
        if not is_sqlite():
            # The mark need not wait for the disk: if the server crashes before it is flushed (within
            # wal_writer_delay), the message is still "sending" and is sent again once its lease ends
            # (at least once, never lost), while every message is spared an fsync.
            db.session.execute(_ASYNC_COMMIT)
        db.session.execute(update(T).where(_claim_guard(message)).values(**values))
    return outcome


_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


def _describe(error: Exception | None) -> str:
    if isinstance(error, DeliveryError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def deliver_batch(sender, limit: int, should_stop: Callable[[], bool] = lambda: False,
                  settings: Settings | None = None, rand=random.random) -> Result:
    """Claim up to ``limit`` messages, send them in (priority, id) order, mark each one."""
    settings = settings or Settings.from_config(current_app.config)
    claimed, deferred = _claim(limit, settings)
    result = Result(claimed=len(claimed), deferred=deferred)
    for index, item in enumerate(claimed):
        # Stop asked, or our lease about to run out (another worker may take them): hand back the rest.
        if should_stop() or now() >= item.lease_until - timedelta(seconds=min(5, settings.lease_seconds / 10)):
            result.released += release(claimed[index:])
            break
        error: Exception | None = None
        if not item.recipient:
            error = PermanentDeliveryError("no address for the recipient")
        else:
            try:
                sender.send(item.message, item.recipient)
            except Exception as exc:  # noqa: BLE001 - any failure is one message's, retried later
                error = exc
        outcome = _mark(item.message, error, settings, rand)
        if outcome is S.SENT:
            result.sent += 1
        elif outcome is S.FAILED:
            result.failed += 1
            log.warning("outbox message %s failed (attempt %s): %s", item.message.id,
                        item.message.attempts, _describe(error))
        else:
            result.dead += 1
            log.warning("outbox message %s is dead after %s attempt(s): %s", item.message.id,
                        item.message.attempts, _describe(error))
    return result


def deliver_due(limit: int = 500, sender=None) -> Result:
    """One-shot run (``flask outbox send``): batches until nothing is due or ``limit`` were tried."""
    sender = sender or make_sender(current_app.config)
    settings = Settings.from_config(current_app.config)
    batch = max(1, int(current_app.config.get("OUTBOX_BATCH_SIZE", 20)))
    total = Result()
    while total.claimed - total.released < limit:
        result = deliver_batch(sender, min(batch, limit - total.claimed + total.released), settings=settings)
        total.add(result)
        if result.claimed == 0 and result.deferred == 0:
            break
    return total


def deliver_pending(limit: int = 500) -> int:
    """Send due messages with the configured sender, at most ``limit``; returns how many were sent."""
    return deliver_due(limit).sent


def run_worker(stop: threading.Event, *, batch_size: int, poll_interval: float,
               sender=None, on_batch: Callable[[Result], None] | None = None) -> Result:
    """The long-running worker: deliver batches until ``stop`` is set; sleep ``poll_interval``
    seconds when nothing is due.  A database that went away is waited for, not fatal."""
    sender = sender or make_sender(current_app.config)
    settings = Settings.from_config(current_app.config)
    total = Result()
    while not stop.is_set():
        try:
            result = deliver_batch(sender, batch_size, stop.is_set, settings)
        except (OperationalError, DBAPIError) as error:
            db.session.rollback()
            log.warning("outbox worker: database error, retrying in %ss: %s", poll_interval, error)
            stop.wait(poll_interval)
            continue
        finally:
            db.session.remove()  # no connection or snapshot held while idle
        total.add(result)
        if on_batch is not None:
            on_batch(result)
        if result.claimed == 0 and result.deferred == 0:
            stop.wait(poll_interval)
    return total


def retry(message_id: int) -> bool:
    """Queue a failed or dead message again at once, with a fresh attempt budget (the organiser's
    "retry" button; the caller checks who may).  False when it was in neither state."""
    statement = (update(T).where(T.c.id == message_id, T.c.state.in_([S.FAILED, S.DEAD]))
                 .values({"state": S.QUEUED, "attempts": 0, "next_attempt_at": None, "lease_until": None}))
    return (cast(CursorResult, db.session.execute(statement)).rowcount or 0) == 1


def outbox_stats() -> dict[str, int]:
    """Messages per state (every state present, 0 when none), for the admin page and /metrics."""
    counts = {state.value: 0 for state in S}
    for state, count in db.session.execute(select(T.c.state, func.count()).group_by(T.c.state)):
        counts[S(state).value] = count
    return counts


def oldest_due_age_seconds() -> float | None:
    """How long the oldest queued or failed message has waited since it was queued (the backlog's age)."""
    oldest = db.session.scalar(select(func.min(T.c.created_at)).where(_PENDING))
    return None if oldest is None else max(0.0, (now() - oldest).total_seconds())
