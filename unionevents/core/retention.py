"""Retention jobs: delete personal data once it is no longer needed (PIPL Art. 19).

A domain registers a job with ``@retention_job("name", help, setting=..., tables=...)``: the
setting holding its retention period (``<SOMETHING>_RETENTION_DAYS``; a test checks every such setting
has its job) and the tables it deletes from.  The function takes the
current time (naive UTC, from ``timeutil.now()`` so tests can freeze it), deletes what has
expired in the current session, and returns how many rows it removed.  ``run_job`` runs it in
one write transaction with an audit row (``retention.purge``, job name and count only);
``flask privacy purge-all`` runs every registered job (for a daily timer), and each domain may
also expose its own command (``flask privacy purge-outbox``, ``flask health purge``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, cast

from flask import current_app
from sqlalchemy import and_, delete, or_
from sqlalchemy.engine import CursorResult

from ..extensions import db
from .audit import log_action
from .db import write_transaction
from .timeutil import now


@dataclass(frozen=True)
class RetentionJob:
    name: str
    help: str
    run: Callable[[datetime], int]
    setting: str  # the retention period in days, e.g. "OUTBOX_RETENTION_DAYS"
    tables: tuple[str, ...]  # what it deletes from


JOBS: dict[str, RetentionJob] = {}


def retention_job(name: str, help: str = "", *, setting: str, tables: tuple[str, ...]) -> Callable:
    def decorator(fn: Callable[[datetime], int]) -> Callable[[datetime], int]:
        JOBS[name] = RetentionJob(name, help or (fn.__doc__ or "").strip(), fn, setting, tuple(tables))
        return fn

    return decorator


def run_job(name: str) -> int:
    """Run one job now; returns the number of rows it deleted."""
    job = JOBS[name]
    with write_transaction():
        count = job.run(now())
        log_action(None, "retention.purge", None, job=name, deleted=count)
    return count


def run_all() -> dict[str, int]:
    return {name: run_job(name) for name in sorted(JOBS)}


@retention_job("outbox", "Delete sent (and undeliverable) notifications older than OUTBOX_RETENTION_DAYS (default 90).",
               setting="OUTBOX_RETENTION_DAYS", tables=("outbox_message",))
def purge_outbox(at: datetime) -> int:
    """Sent messages are only kept to answer "did you tell me?" for a while, and dead ones (never
    delivered) as long; unsent ones wait to be sent."""
    from .outbox import OutboxMessage, OutboxState

    days = int(current_app.config.get("OUTBOX_RETENTION_DAYS", 90))
    cutoff = at - timedelta(days=days)
    result = db.session.execute(delete(OutboxMessage).where(or_(
        OutboxMessage.sent_at < cutoff,  # set when sent
        and_(OutboxMessage.state == OutboxState.DEAD, OutboxMessage.created_at < cutoff),
    )))
    return cast(CursorResult, result).rowcount or 0
