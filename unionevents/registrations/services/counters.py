"""Place counters: claiming and releasing a place on the activity, its time slot and the unit quota.

A place is claimed by a conditional ``UPDATE … SET taken = taken + 1 WHERE taken < capacity`` whose row
count says whether it worked; the CHECK constraints on those tables are the last line."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from ...activities.models import Activity, ActivityStatus, TimeSlot, UnitQuota
from ...core.db import is_sqlite
from ...extensions import db
from .errors import SignupClosed


@dataclass(frozen=True)
class _Counter:
    kind: str  # "activity" | "slot" | "quota"
    params: dict  # the row's key values for the counter's prepared statements

    def claim(self, guard: bool = False) -> bool:
        stmt = _counter_statements(self.kind, "claim_open" if guard else "claim")
        return db.session.execute(stmt, self.params).rowcount == 1

    def release(self) -> None:
        db.session.execute(_counter_statements(self.kind, "release"), self.params)

    def has_room_locked(self) -> bool:
        """Wait for any transaction holding the row (PostgreSQL), then read it."""
        row = db.session.execute(_counter_statements(self.kind, "room_locked"), self.params).first()
        return row is not None and row[0] < row[1]

    def activity_status_and_room(self) -> tuple[ActivityStatus | None, bool]:
        """The activity counter's row as it is now (waiting for its holder on PostgreSQL)."""
        statement = "status_room" if is_sqlite() else "status_room_locked"
        row = db.session.execute(_counter_statements(self.kind, statement), self.params).first()
        return (None, False) if row is None else (row[0], row[1] < row[2])


@functools.cache
def _counter_statements(kind: str, action: str):
    """The counter statements, built once (values bound per call; see ``_queue_ahead_statement``).
    Parameters are named ``key_*``: an UPDATE reserves the column names for its SET clause.
    Over the tables, not the mapped classes: nothing here loads objects (docs/performance.md,
    "Why the code is shaped this way")."""
    activity = Activity.__table__
    if kind == "activity":
        table, used, limit = activity, activity.c.taken, activity.c.capacity
        where = (activity.c.id == bindparam("key_activity"),)
    elif kind == "slot":
        table = TimeSlot.__table__
        used, limit = table.c.taken, table.c.capacity
        where = (table.c.id == bindparam("key_slot"), table.c.activity_id == bindparam("key_activity"))
    else:
        table = UnitQuota.__table__
        used, limit = table.c.used, table.c.quota
        where = (table.c.activity_id == bindparam("key_activity"), table.c.node_id == bindparam("key_node"))
    if action in ("claim", "claim_open"):
        guard = (activity.c.status == ActivityStatus.PUBLISHED,) if action == "claim_open" else ()
        return update(table).where(*where, *guard, used < limit).values({used.key: used + 1})
    if action == "release":
        return update(table).where(*where, used > 0).values({used.key: used - 1})
    if action == "room_locked":
        return select(used, limit).where(*where).with_for_update()
    # A sign-up that found the activity full: FOR SHARE waits for a transaction changing the row (a
    # cancellation freeing a place, an organiser cancelling the activity) and then reads its outcome,
    # while sign-ups that only join the waiting list share the lock and go on in parallel.  A
    # cancellation's UPDATE waits for them in turn, so its promotion sees them.
    stmt = select(activity.c.status, used, limit).where(*where)
    return stmt.with_for_update(read=True) if action == "status_room_locked" else stmt


def _counters(activity_id: int, slot_id: int | None, quota_node_id: int | None) -> list[_Counter]:
    """Counters a place is taken from, always in this order (a fixed lock order)."""
    counters = [_Counter("activity", {"key_activity": activity_id})]
    if slot_id is not None:
        counters.append(_Counter("slot", {"key_activity": activity_id, "key_slot": slot_id}))
    if quota_node_id is not None:
        counters.append(_Counter("quota", {"key_activity": activity_id, "key_node": quota_node_id}))
    return counters


def _claim_place(activity_id: int, slot_id: int | None, quota_node_id: int | None,
                 signup: bool = False, looked_full: bool = False) -> str | None:
    """Take one place on every counter; None when done, else the kind of counter that was full.

    On failure nothing stays claimed.  On PostgreSQL a failed claim waits for whoever holds the
    full row and looks again, so a place freed by a concurrent cancellation is not missed
    (SQLite needs no second look: ``BEGIN IMMEDIATE`` already serialises writers).

    For a new sign-up (``signup``) the activity must also still be published *now*, inside the
    transaction: the eligibility check before it read the activity earlier, and the organiser may
    have cancelled it since (raises ``SignupClosed``).  The check rides on the claim itself, so a
    sign-up that gets a place costs no extra statement.

    ``looked_full``: the activity was full when read before the transaction.  The row is then read
    first (FOR SHARE on PostgreSQL) and the claim tried only if a place has freed since, which saves
    the failing UPDATE for everyone joining the waiting list of a full activity.  On SQLite
    ``BEGIN IMMEDIATE`` makes read-then-update safe.  On PostgreSQL two readers holding the row
    FOR SHARE would deadlock upgrading to the UPDATE, so a reader that finds room raises
    ``_PlaceFreed`` and the sign-up starts again, claiming first.
    """
    counters = _counters(activity_id, slot_id, quota_node_id)
    if signup and looked_full:
        status, room = counters[0].activity_status_and_room()
        _refuse_unless_published(status)
        if not room:
            return "activity"
        if not is_sqlite():
            raise _PlaceFreed()
    for attempt in (1, 2):
        claimed: list[_Counter] = []
        failed = None
        for counter in counters:
            if counter.claim(guard=signup and counter.kind == "activity"):
                claimed.append(counter)
            else:
                failed = counter
                break
        if failed is None:
            return None
        for counter in reversed(claimed):
            counter.release()
        if signup and failed.kind == "activity":
            status, room = failed.activity_status_and_room()
            _refuse_unless_published(status)
        else:
            room = not is_sqlite() and failed.has_room_locked()
        if attempt == 2 or is_sqlite() or not room:
            return failed.kind
    return None  # pragma: no cover


class _PlaceFreed(Exception):
    """A sign-up that expected a full activity found a free place (see ``_claim_place``)."""


def _refuse_unless_published(status: ActivityStatus | None) -> None:
    if status == ActivityStatus.CANCELLED:
        raise SignupClosed(_l("This activity has been cancelled."))
    if status != ActivityStatus.PUBLISHED:
        raise SignupClosed()


def _still_published(activity_id: int) -> None:
    """Inside the sign-up transaction, for modes that take no place yet (approval, lottery): the
    activity is still published.  ``FOR KEY SHARE`` waits for a cancellation holding the row and
    then reads its outcome, without blocking other sign-ups."""
    stmt = select(Activity.status).where(Activity.id == activity_id)
    if not is_sqlite():
        stmt = stmt.with_for_update(read=True, key_share=True)
    _refuse_unless_published(db.session.scalar(stmt))


def _release_place(activity_id: int, slot_id: int | None, quota_node_id: int | None) -> None:
    for counter in _counters(activity_id, slot_id, quota_node_id):
        counter.release()
