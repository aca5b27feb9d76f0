"""The registration engine: the only code that creates registrations or changes their state.

How capacity holds (see docs/reliability.md):

* every write runs in ``write_transaction()`` (``BEGIN IMMEDIATE`` on SQLite), retried a bounded
  number of times when SQLite still reports "database is locked" or PostgreSQL a deadlock;
* a place is claimed by a conditional ``UPDATE … SET taken = taken + 1 WHERE taken < capacity``
  (activity, then time slot, then unit quota), whose row count says whether it worked; the CHECK
  constraints on those tables are the last line;
* one live registration per worker and activity is the partial unique index
  ``uq_registration_taking_part``: a double submit ends in IntegrityError → ``AlreadyRegistered``;
* every state change goes through ``_change_state``, which checks the transition table in
  ``rules.py``, updates the row only if it is still in the state we read (so two organisers
  cannot both act on it), and moves the place counters with it.

Decisions (documented for the views and the API):

* approval: approving when no place is left puts the registration on the waiting list when the
  activity has one (it is promoted like any other), else it is refused with ``ActivityFull``;
* a worker may give up a place until the cancellation cut-off (or the start); a pending
  application or a waiting-list entry may be withdrawn until the start; organisers may cancel
  at any time; places freed before the start are offered to the waiting list;
* quota mode: the unit's quota is a second counter claimed with the activity's places; when either
  is used up the registration goes on the waiting list (if enabled) and is promoted only when its
  unit has room again;
* an organiser entering a walk-in (``entered_by``) is not bound by the sign-up window, but every
  other rule holds; nobody is signed up for a health service by someone else (own consent).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale, gettext as _, lazy_gettext as _l
from sqlalchemy import Integer, and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import joinedload, lazyload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..accounts.models import Role, User
from ..accounts.privacy import register_erasure_hook
from ..activities.models import (
    Activity, ActivityKind, ActivityStatus, Question, SignupMode, TimeSlot, UnitQuota, Visibility,
)
from ..core.audit import log_action
from ..core.db import is_sqlite, testing_flag, write_transaction
from ..core.errors import Conflict, DomainError, NotAllowed, NotFound, ValidationFailed
from ..core.outbox import enqueue
from ..core.permissions import has_role
from ..core.timeutil import now
from ..core.text import NotText, clean_text
from ..extensions import db
from ..reports.services import record_transition
from . import rules
from .models import PLACE_STATES, TAKING_PART_STATES, CheckInReceipt, Registration, RegistrationState as S
from .rules import Refusal

log = logging.getLogger(__name__)

#: Attempts of one write transaction when the database says "locked" or "deadlock".
WRITE_ATTEMPTS = 6
#: First pause between attempts (seconds); doubles each time.
RETRY_BACKOFF = 0.05
#: How many waiting-list entries one freed place looks at before giving up.
PROMOTION_SCAN_LIMIT = 200
#: Length of a ticket secret from ``secrets.token_urlsafe(32)``.
TICKET_LENGTH = 43


# --------------------------------------------------------------------------- errors

class NotEligible(NotAllowed):
    code = "not_eligible"
    default_message = _l("You cannot sign up for this activity.")

    def __init__(self, message=None, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = reasons or [str(self.message)]


class SignupClosed(Conflict):
    code = "window_closed"
    default_message = _l("Sign-up for this activity is not open.")


class AlreadyRegistered(Conflict):
    code = "already_registered"
    default_message = _l("You have already signed up for this activity.")

    def __init__(self, registration_id: int, message=None):
        super().__init__(message, registration_id=registration_id)
        self.registration_id = registration_id


class ActivityFull(Conflict):
    code = "full"
    default_message = _l("Sorry, this activity is full.")

    def __init__(self, message=None, counter: str = "activity"):
        super().__init__(message)
        self.counter = counter


class IllegalTransition(Conflict):
    code = "illegal_transition"
    default_message = _l("This registration cannot be changed that way.")


class CancellationClosed(Conflict):
    code = "cancel_closed"
    default_message = _l("It is too late to cancel this registration.")


class DrawRefused(Conflict):
    code = "draw_refused"
    default_message = _l("The lottery cannot be drawn now.")


class Busy(DomainError):
    """The database stayed busy through every retry; nothing was changed."""

    http_status = 503
    code = "busy"
    default_message = _l("Many people are signing up right now. Please try again in a moment.")


class _StaleState(Exception):
    """The registration changed between our read and our write (someone else acted first)."""


MSG_SLOT_FULL = _l("Sorry, this time slot is full. Please choose another one.")
MSG_QUOTA_FULL = _l("Sorry, your union's places for this activity are all taken.")
MSG_ACTIVITY_FULL = ActivityFull.default_message
FULL_MESSAGES = {"activity": MSG_ACTIVITY_FULL, "slot": MSG_SLOT_FULL, "quota": MSG_QUOTA_FULL}


# --------------------------------------------------------------------------- results

@dataclass
class SignupState:
    can_sign_up: bool
    reasons: list[str]
    existing: Registration | None
    window: str
    places_left: int
    waitlist_length: int
    will_be_waitlisted: bool


@dataclass
class DrawResult:
    activity_id: int
    seed: str
    confirmed: int
    waitlisted: int
    not_drawn: int
    order: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------- transactions

def _is_transient(error: DBAPIError) -> bool:
    orig = getattr(error, "orig", None)
    if "database is locked" in str(orig) or "database table is locked" in str(orig):
        return True
    return getattr(orig, "sqlstate", None) in ("40001", "40P01")


def _in_write_transaction(fn: Callable[..., Any], *args, **kwargs):
    """Run ``fn`` in one write transaction, retrying a few times when the database is busy.

    No "database is locked" reaches a user: after the last attempt it becomes ``Busy`` (503).
    """
    delay = RETRY_BACKOFF
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with write_transaction():
                return fn(*args, **kwargs)
        except DBAPIError as error:
            db.session.rollback()
            if isinstance(error, IntegrityError) or not _is_transient(error):
                raise
            log.warning("write transaction busy (attempt %d of %d): %s", attempt, WRITE_ATTEMPTS, error.orig)
            if attempt == WRITE_ATTEMPTS:
                raise Busy() from error
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- place counters

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
    Over the tables, not the mapped classes: nothing here loads objects, and ORM-enabled statements
    cost ~40 µs more each to run."""
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


# --------------------------------------------------------------------------- facts

def _worker_facts(user: User | None) -> rules.WorkerFacts | None:
    if user is None or getattr(user, "is_anonymous", False):
        return None
    return rules.WorkerFacts(id=user.id, union_id=user.union_id,
                             union_path=user.union.path if user.union is not None else None,
                             occupation=user.occupation)


def _needs_quota_nodes(activity: Activity) -> bool:
    return activity.mode == SignupMode.QUOTA or activity.visibility == Visibility.INVITATION


def _activity_facts(activity: Activity) -> rules.ActivityFacts:
    quota_nodes: tuple = ()
    if _needs_quota_nodes(activity):
        quota_nodes = tuple(rules.NodeRef(q.node.id, q.node.path, q.node.name) for q in activity.unit_quotas)
    return rules.ActivityFacts(
        id=activity.id, title=activity.title, kind=activity.kind, mode=activity.mode,
        status=activity.status, visibility=activity.visibility, starts_at=activity.starts_at,
        signup_opens_at=activity.signup_opens_at, signup_closes_at=activity.signup_closes_at,
        # "Union members" visibility means members only, for sign-up as for the catalogue.
        members_only=activity.members_only or activity.visibility == Visibility.MEMBERS,
        occupations=frozenset(activity.occupation_codes),
        eligible_nodes=tuple(rules.NodeRef(e.node.id, e.node.path, e.node.name)
                             for e in activity.eligible_nodes),
        quota_nodes=quota_nodes,
        waitlist_enabled=activity.waitlist_enabled,
    )


def _question_specs(activity: Activity) -> list[rules.QuestionSpec]:
    return [rules.QuestionSpec(id=q.id, kind=q.kind, required=q.required, choices=tuple(q.choice_list()),
                               label=q.label) for q in activity.questions]


_CLOSED_REFUSALS = {Refusal.ACTIVITY_CANCELLED, Refusal.NOT_OPEN_YET, Refusal.CLOSED}


def _raise_refusals(refusals: list[tuple[Refusal, Any]]) -> None:
    if not refusals:
        return
    codes = [code for code, _message in refusals]
    messages = [str(message) for _code, message in refusals]
    if Refusal.NOT_PUBLISHED in codes:
        raise NotFound(_l("This activity does not exist."))
    if Refusal.NOT_LOGGED_IN in codes:
        raise NotEligible(messages[codes.index(Refusal.NOT_LOGGED_IN)], reasons=messages)
    for code, message in refusals:
        if code in _CLOSED_REFUSALS:
            raise SignupClosed(str(message))
    raise NotEligible(" ".join(messages), reasons=messages)


# --------------------------------------------------------------------------- notifications

def _when(starts_at: datetime) -> str:
    return rules.local_time(starts_at)


def _translated(locale: str | None, *texts) -> list[str]:
    """The source ``texts`` translated into ``locale`` (the default language when None), not yet
    formatted (gettext without variables leaves the placeholders alone)."""
    wanted = locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    if has_request_context() and str(get_locale()) == wanted:
        # Most messages go to the worker making the request: switching the locale there and back
        # would throw away the request's cached translations for nothing.
        return [_(text) for text in texts]
    with force_locale(wanted):
        return [_(text) for text in texts]


@dataclass(frozen=True)
class _PreparedNotice:
    """A notice translated before the write transaction; only values known inside it (a waiting-list
    position) are filled in there, so the lock is not held while translating."""

    kind: str
    subject: str
    template: str
    params: dict

    def enqueue(self, user_id: int, **late) -> None:
        enqueue(user_id, self.kind, self.template % {**self.params, **late}, subject=self.subject)


def _prepare_notice(notice: str, locale: str | None, title: str, starts_at: datetime) -> _PreparedNotice:
    subject, body = NOTICES[notice]
    subject_text, template = _translated(locale, subject, body)
    return _PreparedNotice(f"registration.{notice}", subject_text, template,
                           {"title": title, "when": _when(starts_at)})


def _notice_texts(_l=lambda text: text):  # noqa: N807 - the parameter is named _l so pybabel extracts them
    """Message texts as English source strings; translated with gettext at send time in the
    recipient's language.  (The local ``_l`` only marks them for extraction.)"""
    return {
        "confirmed": (_l("Registration confirmed"),
                      _l("Your place for “%(title)s” on %(when)s is confirmed.")),
        "waitlisted": (_l("On the waiting list"),
                       _l("“%(title)s” on %(when)s is full. You are number %(position)d on the waiting "
                          "list; we will tell you when a place frees up.")),
        "promoted": (_l("A place has freed up"),
                     _l("Good news: a place has freed up and you are now confirmed for “%(title)s” "
                        "on %(when)s.")),
        "cancelled": (_l("Registration cancelled"),
                      _l("Your registration for “%(title)s” on %(when)s has been cancelled.")),
        "cancelled_by_organiser": (_l("Registration cancelled"),
                                   _l("The organiser has cancelled your registration for “%(title)s” "
                                      "on %(when)s.")),
        "approved": (_l("Application approved"),
                     _l("Your application for “%(title)s” on %(when)s has been approved: your place "
                        "is confirmed.")),
        "approved_waitlisted": (_l("Application approved"),
                                _l("Your application for “%(title)s” on %(when)s has been approved, but "
                                   "the activity is full: you are number %(position)d on the waiting list.")),
        "rejected": (_l("Application not accepted"),
                     _l("Your application for “%(title)s” on %(when)s was not accepted.")),
        "lottery_confirmed": (_l("Lottery result"),
                              _l("You were drawn in the lottery for “%(title)s” on %(when)s: your place "
                                 "is confirmed.")),
        "lottery_waitlisted": (_l("Lottery result"),
                               _l("You were not drawn for “%(title)s” on %(when)s; you are number "
                                  "%(position)d on the waiting list and will be told if a place frees up.")),
        "lottery_not_drawn": (_l("Lottery result"),
                              _l("You were not drawn in the lottery for “%(title)s” on %(when)s. "
                                 "Thank you for taking part.")),
    }


NOTICES = _notice_texts()


def _send(notice: str, user_id: int, locale: str | None, title: str, starts_at: datetime, **params) -> None:
    """Queue a notice to ``user_id`` in their language, in the current transaction."""
    _prepare_notice(notice, locale, title, starts_at).enqueue(user_id, **params)


# --------------------------------------------------------------------------- the one state changer

@dataclass
class _RegRow:
    """A registration with the activity facts a state change needs, read inside the transaction."""

    id: int
    user_id: int
    activity_id: int
    slot_id: int | None
    unit_node_id: int | None
    state: S
    mode: SignupMode
    title: str
    starts_at: datetime  # the slot's start when there is one
    activity_starts_at: datetime
    cancel_cutoff_at: datetime | None
    locale: str | None
    node_id: int
    ends_at: datetime  # the slot's end when there is one

    @property
    def quota_node_id(self) -> int | None:
        return self.unit_node_id if self.mode == SignupMode.QUOTA else None


def _reg_rows(*where, order_by=None, limit=None, lock=False) -> list[_RegRow]:
    stmt = (
        select(Registration.id, Registration.user_id, Registration.activity_id, Registration.slot_id,
               Registration.unit_node_id, Registration.state, Activity.mode, Activity.title,
               func.coalesce(TimeSlot.starts_at, Activity.starts_at), Activity.starts_at,
               Activity.cancel_cutoff_at, User.locale, Activity.node_id,
               func.coalesce(TimeSlot.ends_at, Activity.ends_at))
        .join(Activity, Activity.id == Registration.activity_id)
        .join(User, User.id == Registration.user_id)
        .outerjoin(TimeSlot, TimeSlot.id == Registration.slot_id)
        .where(*where)
    )
    if order_by is not None:
        stmt = stmt.order_by(*order_by)
    if limit is not None:
        stmt = stmt.limit(limit)
    if lock:
        stmt = stmt.with_for_update(of=Registration)
    return [_RegRow(*row) for row in db.session.execute(stmt)]


def _lock_activity_row(*, activity_id: int | None = None, registration_id: int | None = None) -> None:
    """PostgreSQL: lock the activity's row before any of its registrations (SQLite's BEGIN IMMEDIATE
    already serialises writers).

    Every write on an activity's registrations takes its locks in one order — the activity, then
    registrations, then report rows — as sign-ups (claim on the activity first) and organiser changes
    (``_lock_activity``) already do.  Without it a cancellation (registration, then the activity's
    counter) and a capacity change (the activity, then registrations to promote) deadlocked each
    other; bench/invariants.py found it.
    """
    if is_sqlite():
        return
    if activity_id is not None:
        db.session.execute(_activity_lock_statement(by_registration=False), {"key": activity_id})
    else:
        db.session.execute(_activity_lock_statement(by_registration=True), {"key": registration_id})


@functools.cache
def _activity_lock_statement(by_registration: bool):
    activity_id = (select(Registration.activity_id).where(Registration.id == bindparam("key")).scalar_subquery()
                   if by_registration else bindparam("key"))
    return select(Activity.id).where(Activity.id == activity_id).with_for_update(key_share=True, of=Activity)


def _load_row(registration_id: int, lock: bool = True) -> _RegRow:
    if lock:
        _lock_activity_row(registration_id=registration_id)
    rows = _reg_rows(Registration.id == registration_id, lock=lock)
    if not rows:
        raise NotFound(_l("This registration does not exist."))
    return rows[0]


def _change_state(row: _RegRow, new: S, *, actor_id: int | None, action: str, audit: dict | None = None,
                  **values) -> None:
    """The only way a registration's state changes: legal per ``rules.TRANSITIONS``, still in the
    state we read, and with its place claimed or freed in the same transaction.

    Raises IllegalTransition, _StaleState (someone else changed it first) or ActivityFull (a place
    was needed and none is left; the row is left as it was).
    """
    old = row.state
    refusal = rules.transition_refusal(old, new)
    if refusal is not None:
        raise IllegalTransition(str(refusal))
    stmt = (update(Registration).where(Registration.id == row.id, Registration.state == old)
            .values(state=new, updated_at=now(), **values).execution_options(synchronize_session=False))
    if db.session.execute(stmt).rowcount != 1:
        raise _StaleState()
    delta = rules.place_delta(old, new)
    if delta > 0:
        full = _claim_place(row.activity_id, row.slot_id, row.quota_node_id)
        if full is not None:
            db.session.execute(
                update(Registration).where(Registration.id == row.id).values(state=old)
                .execution_options(synchronize_session=False))
            raise ActivityFull(FULL_MESSAGES[full], counter=full)
    elif delta < 0:
        _release_place(row.activity_id, row.slot_id, row.quota_node_id)
    record_transition(row.activity_id, old, new, row.user_id)
    row.state = new
    identity = db.session.identity_map.get(db.session.identity_key(Registration, row.id))
    if identity is not None:
        set_committed_value(identity, "state", new)
    # Ids and states only (no personal data): who (actor), what, when (``at``), before and after.
    log_action(actor_id, action, _AuditRef(row.id), from_state=old.value, to_state=new.value,
               activity_id=row.activity_id, **(audit or {}))


@dataclass
class _AuditRef:
    id: int
    __tablename__ = "registration"


def _position(row_id: int, activity_id: int, slot_id: int | None) -> int:
    return waitlist_position_by_id(row_id, activity_id, slot_id) or 0


def _promote(activity_id: int, slot_id: int | None, actor_id: int | None) -> int | None:
    """Offer a freed place to the first in line who can still take it; the id promoted, or None.

    Order: lottery rank (unranked last), then first come, then id.  A candidate who is no longer
    waiting, or whose unit's quota is used up, is skipped; a full activity or slot ends the search.
    """
    where = [Registration.activity_id == activity_id, Registration.state == S.WAITLISTED]
    if slot_id is not None:
        where.append(Registration.slot_id == slot_id)
    candidates = _reg_rows(*where, order_by=(Registration.queue_rank.asc().nulls_last(),
                                             Registration.created_at, Registration.id),
                           limit=PROMOTION_SCAN_LIMIT)
    for row in candidates:
        try:
            _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.promote")
        except _StaleState:
            continue
        except ActivityFull as full:
            if full.counter == "quota":
                continue
            return None
        _send("promoted", row.user_id, row.locale, row.title, row.starts_at)
        return row.id
    return None


def fill_free_places(activity_id: int, actor_id: int | None) -> list[int]:
    """Promote from the waiting list until the free places are used; call inside a write transaction.

    For a capacity raised by the organiser: everyone who now fits moves up, in waiting-list order.
    """
    _lock_activity_row(activity_id=activity_id)
    promoted: list[int] = []
    while (registration_id := _promote(activity_id, None, actor_id)) is not None:
        promoted.append(registration_id)
    return promoted


# --------------------------------------------------------------------------- sign-up

@dataclass
class _Plan:
    """Everything the sign-up transaction needs, as plain values (nothing lazy inside the lock)."""

    user_id: int
    locale: str | None
    activity_id: int
    title: str
    starts_at: datetime
    mode: SignupMode
    waitlist_enabled: bool
    capacity: int
    slot_id: int | None
    slot_capacity: int | None
    unit_node_id: int | None
    answers: dict | None
    health_consent_at: datetime | None
    health_consent_version: str | None
    entered_by_id: int | None
    activity_looked_full: bool = False  # when read before the transaction (a hint, see _claim_place)
    notices: dict = field(default_factory=dict)  # "confirmed"/"waitlisted" → _PreparedNotice

    @property
    def quota_node_id(self) -> int | None:
        return self.unit_node_id if self.mode == SignupMode.QUOTA else None

    def notice(self, name: str) -> _PreparedNotice:
        if name not in self.notices:  # not foreseen (never on the sign-up path): translate it now
            self.notices[name] = _prepare_notice(name, self.locale, self.title, self.starts_at)
        return self.notices[name]


def _validate_signup(activity: Activity, *, slot_id, answers, health_consent) -> tuple[dict, TimeSlot | None]:
    errors: dict[str, list[str]] = {}
    cleaned, answer_errors = rules.clean_answers(_question_specs(activity), answers)
    for key, messages in answer_errors.items():
        errors[key] = [str(m) for m in messages]
    slot = None
    if activity.uses_slots:
        if slot_id in (None, ""):
            errors["slot_id"] = [str(_l("Please choose a time slot."))]
        else:
            try:
                slot_key = None if isinstance(slot_id, bool) else int(slot_id)
            except (TypeError, ValueError):
                slot_key = None
            slot = next((s for s in activity.slots if s.id == slot_key), None)
            if slot is None:
                errors["slot_id"] = [str(_l("Please choose one of this activity's time slots."))]
    elif slot_id not in (None, ""):
        errors["slot_id"] = [str(_l("This activity has no time slots."))]
    if activity.kind == ActivityKind.HEALTH and health_consent is not True:
        errors["consent"] = [str(_l("Please agree to the processing of your health information; "
                                    "without it we cannot book the health service."))]
    if errors:
        raise ValidationFailed(errors)
    return cleaned, slot


def _unit_for(worker: rules.WorkerFacts, facts: rules.ActivityFacts, unit_node_id: int | None) -> int | None:
    """The unit a registration is counted for.

    With unit quotas: the given quota unit (which must contain the worker's union) or the nearest
    quota node above the worker's union.  Without: the worker's own union at sign-up time (so
    attendance by unit stays true when they later move).
    """
    if not facts.quota_nodes:
        if unit_node_id is not None and str(unit_node_id) != str(worker.union_id):
            raise NotEligible(_l("This worker does not belong to that union."))
        return worker.union_id
    if unit_node_id is None:
        unit = rules.quota_unit(worker.union_path, facts.quota_nodes)
        return unit.id if unit is not None else None
    chosen = next((n for n in facts.quota_nodes if str(n.id) == str(unit_node_id)), None)
    if chosen is None or not (worker.union_path or "").startswith(chosen.path):
        raise NotEligible(_l("This worker does not belong to that union's quota."))
    return chosen.id


def register(user: User, activity_id: int, *, slot_id=None, answers: dict | None = None,
             health_consent: bool = False, entered_by: User | None = None,
             unit_node_id: int | None = None) -> Registration:
    """Sign ``user`` up for the activity, or put them on its waiting list, or file their application.

    Raises NotFound, NotEligible, SignupClosed, ValidationFailed, AlreadyRegistered, ActivityFull, Busy.
    """
    activity = _activity_for_signup(activity_id)
    worker = _worker_facts(user)
    on_behalf = entered_by is not None and worker is not None and entered_by.id != worker.id
    facts = _activity_facts(activity)
    _raise_refusals(rules.eligibility_refusals(worker, facts, now(), ignore_window=on_behalf))
    if on_behalf and activity.kind == ActivityKind.HEALTH:
        raise NotEligible(_l("A health service needs the worker's own consent, so nobody can be signed up "
                             "for one by someone else."))
    cleaned, slot = _validate_signup(activity, slot_id=slot_id, answers=answers, health_consent=health_consent)
    unit = _unit_for(worker, facts, unit_node_id)
    is_health = activity.kind == ActivityKind.HEALTH
    plan = _Plan(
        user_id=worker.id, locale=user.locale, activity_id=activity.id, title=activity.title,
        starts_at=slot.starts_at if slot else activity.starts_at, mode=activity.mode,
        waitlist_enabled=activity.waitlist_enabled, capacity=activity.capacity,
        slot_id=slot.id if slot else None, slot_capacity=slot.capacity if slot else None,
        unit_node_id=unit, answers=cleaned or None,
        health_consent_at=now() if is_health else None,
        health_consent_version=current_app.config["HEALTH_CONSENT_VERSION"] if is_health else None,
        entered_by_id=entered_by.id if entered_by is not None else None,
        activity_looked_full=activity.taken >= activity.capacity,
    )
    if rules.initial_state(activity.mode) is None:  # the outcome is a place or the waiting list
        # The likely one, as the activity looked; the other is translated inside if it comes to that.
        likely = "waitlisted" if plan.activity_looked_full and activity.waitlist_enabled else "confirmed"
        plan.notices[likely] = _prepare_notice(likely, plan.locale, plan.title, plan.starts_at)
    for attempt in (1, 2):
        try:
            with _keep_loaded():
                if testing_flag("TESTING_DISABLE_CAPACITY_GUARD"):
                    registration = _register_naive(plan)
                else:
                    registration = _register_in_transaction(plan)
            break
        except IntegrityError:
            # The partial unique index: this worker already holds a live registration.
            existing = _live_registration_id(plan.user_id, plan.activity_id)
            if existing is not None:
                raise AlreadyRegistered(existing) from None
            if attempt == 2:  # not a duplicate after all (it was cancelled meanwhile, or another rule)
                raise
    # The counters moved in SQL: let the loaded rows read them afresh when next asked.
    db.session.expire(activity, ["taken"])
    if slot is not None:
        db.session.expire(slot, ["taken"])
    return registration


def _activity_for_signup(activity_id) -> Activity:
    """The activity with its eligibility rows in one query (the sign-up path counts statements)."""
    if not isinstance(activity_id, int) or isinstance(activity_id, bool):
        raise NotFound(_l("This activity does not exist."))
    row = db.session.execute(_activity_for_signup_statement(), {"activity_id": activity_id}).unique().first()
    if row is None:
        raise NotFound(_l("This activity does not exist."))
    activity = row.Activity
    if not row.has_questions:
        set_committed_value(activity, "questions", [])
    if not row.has_slots:
        set_committed_value(activity, "slots", [])
    return activity


@functools.cache
def _activity_for_signup_statement():
    """Built once.  Most activities have no questions and no time slots: two EXISTS in the same
    query spare the two statements that would load the empty collections."""
    has_questions = exists().where(Question.activity_id == Activity.id).label("has_questions")
    has_slots = exists().where(TimeSlot.activity_id == Activity.id).label("has_slots")
    # The organising union (joined by default) is not needed to sign up: loaded only if asked for.
    # Joining it cost about a fifth of this query's time in Python (building and reading a second entity).
    return (select(Activity, has_questions, has_slots).where(Activity.id == bindparam("activity_id"))
            .options(lazyload(Activity.node), joinedload(Activity.eligible_occupations),
                     joinedload(Activity.eligible_nodes)))


@contextmanager
def _keep_loaded():
    """Commit without expiring what the request has loaded, so returning the new registration and
    reading the user and activity afterwards costs no further queries.  (Counters changed in SQL are
    expired explicitly by the caller.)"""
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = previous


def _race_delay() -> None:
    delay = testing_flag("TESTING_RACE_DELAY", 0) or 0
    if delay:
        time.sleep(float(delay))


def _register_in_transaction(plan: _Plan) -> Registration:
    try:
        return _in_write_transaction(_register_tx, plan)
    except _PlaceFreed:  # rolled back before writing anything: claim first this time
        plan.activity_looked_full = False
        return _in_write_transaction(_register_tx, plan)


def _register_tx(plan: _Plan) -> Registration:
    state = rules.initial_state(plan.mode)
    if state is None:
        full = _claim_place(plan.activity_id, plan.slot_id, plan.quota_node_id, signup=True,
                            looked_full=plan.activity_looked_full)
        _race_delay()
        if full is None:
            state = S.CONFIRMED
        elif plan.waitlist_enabled:
            state = S.WAITLISTED
        else:
            existing = _live_registration_id(plan.user_id, plan.activity_id)
            if existing is not None:
                raise AlreadyRegistered(existing)
            raise ActivityFull(FULL_MESSAGES[full], counter=full)
    else:
        _still_published(plan.activity_id)
    return _insert_registration(plan, state)


def _insert_registration(plan: _Plan, state: S) -> Registration:
    # A Core INSERT, then the same values attached to the session as a loaded object (every column
    # set, so reading it back costs nothing): the unit of work's flush of one new object cost more
    # than the statement on the sign-up path.
    at = now()
    values = dict(
        activity_id=plan.activity_id, user_id=plan.user_id, slot_id=plan.slot_id,
        unit_node_id=plan.unit_node_id, state=state, queue_rank=None, answers=plan.answers,
        health_consent_at=plan.health_consent_at, health_consent_version=plan.health_consent_version,
        ticket_secret=secrets.token_urlsafe(32), entered_by_id=plan.entered_by_id, checked_in_at=None,
        created_at=at, updated_at=at,
    )
    new_id = db.session.execute(_REGISTRATION_INSERT, values).inserted_primary_key[0]
    registration = Registration(id=new_id, **values)
    make_transient_to_detached(registration)
    db.session.add(registration)
    if state == S.CONFIRMED:
        plan.notice("confirmed").enqueue(plan.user_id)
    elif state == S.WAITLISTED:
        # Known sort key (just inserted, unranked): one COUNT, kept on the object for the reply.
        position = _place_in_queue(registration.id, plan.activity_id, plan.slot_id,
                                   registration.queue_rank, registration.created_at)
        registration.position_at_signup = position
        plan.notice("waitlisted").enqueue(plan.user_id, position=position)
    log_action(plan.entered_by_id or plan.user_id, "registration.create", registration,
               from_state=None, to_state=state.value, activity_id=plan.activity_id,
               entered_by_id=plan.entered_by_id)
    # Last before the commit: every sign-up for the activity's day updates the same report row, and
    # on PostgreSQL its row lock is held from here to the commit; taken earlier, the sign-ups
    # queued on it for three more statements each.
    record_transition(plan.activity_id, None, state, plan.user_id)
    return registration


_REGISTRATION_INSERT = insert(Registration.__table__)


def _register_naive(plan: _Plan) -> Registration:
    """TEST ONLY (``TESTING_DISABLE_CAPACITY_GUARD``): the classic count-then-insert race.

    Counts the place-holders in one read, waits ``TESTING_RACE_DELAY``, then inserts in a separate
    write without touching ``taken``.  The concurrency tests' negative controls use it to show the
    race is real; ``create_app`` refuses the switch outside testing.
    """
    state = rules.initial_state(plan.mode)
    if state is None:
        where = [Registration.activity_id == plan.activity_id, Registration.holds_place]
        capacity = plan.capacity
        if plan.slot_id is not None:
            where.append(Registration.slot_id == plan.slot_id)
            capacity = plan.slot_capacity
        count = db.session.scalar(select(func.count(Registration.id)).where(*where))
        _race_delay()
        if count < capacity:
            state = S.CONFIRMED
        elif plan.waitlist_enabled:
            state = S.WAITLISTED
        else:
            db.session.rollback()
            raise ActivityFull()
    return _in_write_transaction(_insert_registration, plan, state)


def _live_registration_id(user_id: int, activity_id: int) -> int | None:
    """The worker's registration that takes part in the activity (live, attended or absent), if any:
    what the unique index allows one of."""
    return db.session.scalar(select(Registration.id).where(
        Registration.user_id == user_id, Registration.activity_id == activity_id,
        Registration.state.in_(TAKING_PART_STATES)))


# --------------------------------------------------------------------------- read-only views of the state

def signup_state(user: User | None, activity: Activity) -> SignupState:
    """Can ``user`` sign up now, and if not, why not (messages ready to show)."""
    at = now()
    worker = _worker_facts(user)
    facts = _activity_facts(activity)
    window = rules.window_state(at, activity.signup_opens_at, activity.signup_closes_at)
    refusals = rules.eligibility_refusals(worker, facts, at)
    existing = None
    if worker is not None:
        existing = db.session.scalar(
            select(Registration).where(Registration.user_id == worker.id,
                                       Registration.activity_id == activity.id,
                                       Registration.state.in_(TAKING_PART_STATES))
            .options(joinedload(Registration.slot)))
    places_left = activity.places_left
    length = waitlist_length(activity.id)
    needs_place = rules.initial_state(activity.mode) is None
    if worker is not None and activity.mode == SignupMode.QUOTA and not refusals:
        unit = rules.quota_unit(worker.union_path, facts.quota_nodes)
        quota = next((q for q in activity.unit_quotas if unit and q.node_id == unit.id), None)
        if quota is not None:
            places_left = min(places_left, max(quota.quota - quota.used, 0))
    reasons = [str(message) for _code, message in refusals]
    if existing is not None:
        reasons.append(str(_l("You have already signed up for this activity.")))
    full_without_list = needs_place and places_left <= 0 and not activity.waitlist_enabled
    if full_without_list and not refusals:
        reasons.append(str(MSG_ACTIVITY_FULL))
    return SignupState(
        can_sign_up=not reasons, reasons=reasons, existing=existing, window=window.value,
        places_left=places_left, waitlist_length=length,
        will_be_waitlisted=rules.will_be_waitlisted(activity.mode, places_left, activity.waitlist_enabled),
    )


def waitlist_length(activity_id: int, slot_id: int | None = None) -> int:
    where = [Registration.activity_id == activity_id, Registration.state == S.WAITLISTED]
    if slot_id is not None:
        where.append(Registration.slot_id == slot_id)
    return db.session.scalar(select(func.count(Registration.id)).where(*where)) or 0


def waitlist_position_by_id(registration_id: int, activity_id: int, slot_id: int | None) -> int | None:
    """1 + the number of waitlisted registrations ahead in the order of ``rules.waitlist_sort_key``.

    Two indexed statements whatever the queue's length: the sign-up rush calls this for every
    waitlisted worker, so the queue is never read into Python.
    """
    me = db.session.execute(
        select(Registration.queue_rank, Registration.created_at, Registration.state)
        .where(Registration.id == registration_id)
    ).first()
    if me is None or me.state != S.WAITLISTED:
        return None
    return _place_in_queue(registration_id, activity_id, slot_id, me.queue_rank, me.created_at)


def _place_in_queue(registration_id: int, activity_id: int, slot_id: int | None,
                    queue_rank: int | None, created_at: datetime) -> int:
    """One indexed COUNT of those ahead of a waitlisted registration whose sort key is known."""
    stmt = _queue_ahead_statement(ranked=queue_rank is not None, slotted=slot_id is not None)
    params = {"activity_id": activity_id, "registration_id": registration_id, "created_at": created_at,
              "queue_rank": queue_rank, "slot_id": slot_id}
    return (db.session.scalar(stmt, params) or 0) + 1


@functools.cache
def _queue_ahead_statement(ranked: bool, slotted: bool):
    """Built once per shape, values bound per call: on the sign-up path building a statement costs
    several times more than running it (see docs/performance.md).  Over the table (Core): it loads
    no objects."""
    R = Registration.__table__.c
    created_at, rank = bindparam("created_at", type_=R.created_at.type), bindparam("queue_rank", type_=Integer)
    same_rank_earlier = or_(R.created_at < created_at,
                            and_(R.created_at == created_at, R.id < bindparam("registration_id")))
    if not ranked:  # ranked entries come first, then unranked by arrival
        ahead = or_(R.queue_rank.is_not(None), and_(R.queue_rank.is_(None), same_rank_earlier))
    else:
        ahead = and_(R.queue_rank.is_not(None),
                     or_(R.queue_rank < rank, and_(R.queue_rank == rank, same_rank_earlier)))
    where = [R.activity_id == bindparam("activity_id"), R.state == S.WAITLISTED, ahead]
    if slotted:
        where.append(R.slot_id == bindparam("slot_id"))
    return select(func.count(R.id)).where(*where)


def waitlist_position(registration: Registration) -> int | None:
    """1 for the first in line (within the slot for slotted activities); None when not waiting."""
    if registration.state != S.WAITLISTED:
        return None
    return waitlist_position_by_id(registration.id, registration.activity_id, registration.slot_id)


def my_registrations(user: User) -> list[Registration]:
    stmt = (select(Registration).where(Registration.user_id == user.id)
            .options(joinedload(Registration.activity), joinedload(Registration.slot))
            .order_by(Registration.created_at.desc(), Registration.id.desc()))
    return list(db.session.scalars(stmt))


def get_own_registration(user: User, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id, options=[
        joinedload(Registration.activity), joinedload(Registration.slot)]) \
        if isinstance(registration_id, int) else None
    if registration is None or user is None or registration.user_id != getattr(user, "id", None):
        raise NotFound(_l("This registration does not exist."))
    return registration


def ticket_token(registration: Registration) -> str:
    """The secret a ticket's QR code carries; it identifies the registration and nothing else."""
    return registration.ticket_secret


def registration_for_ticket(token: str | None) -> Registration | None:
    if not isinstance(token, str) or len(token.strip()) != TICKET_LENGTH:
        return None
    return db.session.scalar(select(Registration).where(Registration.ticket_secret == token.strip())
                             .options(joinedload(Registration.activity), joinedload(Registration.user)))


# --------------------------------------------------------------------------- state changes

def _is_organiser(actor: User | None, node_id: int) -> bool:
    if actor is None:
        return False
    from ..unions.models import UnionNode

    node = db.session.get(UnionNode, node_id)
    return node is not None and has_role(actor, Role.ORGANISER, node=node)


def cancel(registration_id: int, actor: User) -> Registration:
    """Cancel a registration: its worker (before the cut-off) or an organiser of the activity.

    A freed place goes to the first in line on the waiting list (within the same slot).
    """
    current = _load_row(registration_id, lock=False)
    organiser = _is_organiser(actor, current.node_id)
    own = actor is not None and actor.id == current.user_id
    if not own and not organiser:
        raise NotFound(_l("This registration does not exist."))
    actor_id = actor.id

    def tx():
        row = _load_row(registration_id)
        if not organiser and not rules.worker_may_cancel(row.state, now(), row.activity_starts_at,
                                                          row.cancel_cutoff_at):
            if rules.can_transition(row.state, S.CANCELLED):
                raise CancellationClosed(_l("Cancellation closed at %(when)s. Please contact the organiser.",
                                            when=rules.local_time(rules.cancel_deadline(
                                                row.activity_starts_at, row.cancel_cutoff_at))))
        held_place = row.state in PLACE_STATES
        try:
            _change_state(row, S.CANCELLED, actor_id=actor_id, action="registration.cancel")
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now. "
                                       "Please reload the page.")) from None
        notice = "cancelled" if own and not organiser else "cancelled_by_organiser"
        _send(notice, row.user_id, row.locale, row.title, row.starts_at)
        if held_place and now() < row.activity_starts_at:
            _promote(row.activity_id, row.slot_id, actor_id)

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)


def _organiser_decision(registration_id: int, actor: User, approve_it: bool) -> Registration:
    actor_id = actor.id if actor is not None else None

    def tx():
        row = _load_row(registration_id)
        if row.mode != SignupMode.APPROVAL:
            raise IllegalTransition(_l("Only activities that need the organiser's approval have "
                                       "applications to approve or reject."))
        if row.state != S.PENDING:
            raise IllegalTransition(str(rules.STATE_EXPLANATIONS[row.state]))
        try:
            if not approve_it:
                _change_state(row, S.REJECTED, actor_id=actor_id, action="registration.reject")
                _send("rejected", row.user_id, row.locale, row.title, row.starts_at)
                return
            try:
                _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.approve")
                _send("approved", row.user_id, row.locale, row.title, row.starts_at)
            except ActivityFull as full:
                if not _waitlist_enabled(row.activity_id):
                    raise ActivityFull(_l("There is no place left to approve this application."),
                                       counter=full.counter) from None
                _change_state(row, S.WAITLISTED, actor_id=actor_id, action="registration.approve")
                position = _position(row.id, row.activity_id, row.slot_id)
                _send("approved_waitlisted", row.user_id, row.locale, row.title, row.starts_at,
                      position=position)
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now. "
                                       "Please reload the page.")) from None

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)


def _waitlist_enabled(activity_id: int) -> bool:
    return bool(db.session.scalar(select(Activity.waitlist_enabled).where(Activity.id == activity_id)))


def approve(registration_id: int, actor: User) -> Registration:
    """Approve a pending application: confirmed if a place is left, else waiting list (or ActivityFull)."""
    return _organiser_decision(registration_id, actor, True)


def reject(registration_id: int, actor: User) -> Registration:
    return _organiser_decision(registration_id, actor, False)


MSG_CHECKIN_STATES = {
    S.CANCELLED: _l("This registration has been cancelled; it cannot be checked in."),
    S.WAITLISTED: _l("This worker is still on the waiting list and has no place; they cannot be checked in."),
    S.PENDING: _l("This application has not been accepted yet; it cannot be checked in."),
    S.REJECTED: _l("This application was rejected; it cannot be checked in."),
    S.NOT_DRAWN: _l("This worker was not drawn in the lottery; they cannot be checked in."),
}


class CheckInClosed(Conflict):
    """A check-in outside the check-in window (``code``: checkin_not_open or checkin_closed)."""
    code = "checkin_closed"

    def __init__(self, code: str, message, window: rules.CheckInWindow):
        super().__init__(message)
        self.code = code
        self.window = window


#: How far ahead of the server's clock a phone's recorded check-in time may be (clock skew).
RECORDED_CLOCK_SKEW = timedelta(minutes=5)


def checkin_window(starts_at: datetime, ends_at: datetime, slot: bool) -> rules.CheckInWindow:
    """The check-in window of an activity, or of a slot ticket, with the configured margins."""
    config = current_app.config
    return rules.checkin_window(
        starts_at, ends_at, slot=slot,
        opens_before=timedelta(minutes=config.get("CHECKIN_OPENS_BEFORE_MINUTES", 120)),
        slot_early=timedelta(minutes=config.get("CHECKIN_SLOT_EARLY_MINUTES", 30)),
        grace=timedelta(minutes=config.get("CHECKIN_GRACE_AFTER_END_MINUTES", 0)))


def registration_checkin_window(registration: Registration) -> rules.CheckInWindow:
    slot = registration.slot
    if slot is not None:
        return checkin_window(slot.starts_at, slot.ends_at, True)
    return checkin_window(registration.activity.starts_at, registration.activity.ends_at, False)


def checkin_refusal(registration: Registration, at: datetime | None = None):
    """The message refusing a check-in of ``registration`` now (or at ``at``), or None (for pages)."""
    refusal = rules.checkin_refusal(registration_checkin_window(registration), at or now())
    return refusal[1] if refusal else None


def clean_override_reason(reason: str | None) -> str | None:
    """None: no override asked.  A blank reason is refused: an override must say why."""
    if reason is None:
        return None
    try:  # the text rule every form and API field follows (the door page's sync sends raw JSON)
        reason = clean_text(str(reason))
    except NotText as error:
        raise ValidationFailed({"override_reason": [str(error.message)]}) from None
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed({"override_reason": [str(_l(
            "Please give the reason for checking in outside the check-in time."))]})
    if len(reason) > rules.OVERRIDE_REASON_MAX:
        raise ValidationFailed({"override_reason": [str(_l(
            "The reason may have at most %(n)d characters.", n=rules.OVERRIDE_REASON_MAX))]})
    return reason


def _checked_in_time(recorded_at: datetime | None) -> datetime:
    """When the check-in happened: now, or the time an offline phone recorded (checked here)."""
    current = now()
    if recorded_at is None:
        return current
    if recorded_at.tzinfo is not None:
        from datetime import timezone

        recorded_at = recorded_at.astimezone(timezone.utc).replace(tzinfo=None)
    if recorded_at > current + RECORDED_CLOCK_SKEW:
        raise ValidationFailed({"recorded_at": [str(_l(
            "The recorded time lies in the future. Please check the phone's clock."))]})
    max_age = timedelta(hours=current_app.config.get("CHECKIN_RECORDED_MAX_AGE_HOURS", 24))
    if recorded_at < current - max_age:
        raise ValidationFailed({"recorded_at": [str(_l(
            "This check-in was recorded more than %(n)d hours ago; please check the person in with a "
            "reason instead.", n=int(max_age.total_seconds() // 3600)))]})
    return min(recorded_at, current)


def check_in(registration_id: int, actor: User | None, *, override_reason: str | None = None,
             recorded_at: datetime | None = None, after_the_end: bool = False) -> Registration:
    """Mark a confirmed (or no-show) registration as attended.  Checking in twice changes nothing.

    Only inside the check-in window (``rules.checkin_window``; a slot ticket: its slot's), judged at
    ``recorded_at`` when an offline phone recorded the check-in earlier, else now.  Outside it an
    organiser may still check in with ``override_reason`` (stored on the registration; the audit row
    says ``override``).  ``after_the_end``: the roster copying a paper sign-in sheet after the event,
    so only the window's opening applies.  Raises CheckInClosed, IllegalTransition, ValidationFailed.
    """
    actor_id = actor.id if actor is not None else None
    reason = clean_override_reason(override_reason)
    at = _checked_in_time(recorded_at)

    def tx():
        for _attempt in range(3):
            row = _load_row(registration_id)
            if row.state == S.ATTENDED:
                return
            if row.state not in (S.CONFIRMED, S.NO_SHOW):
                raise IllegalTransition(MSG_CHECKIN_STATES.get(row.state, rules.STATE_EXPLANATIONS[row.state]))
            window = checkin_window(row.starts_at, row.ends_at, row.slot_id is not None)
            refusal = rules.checkin_refusal(window, at)
            if refusal is not None and after_the_end and refusal[0] == "checkin_closed":
                refusal = None
            if refusal is not None and reason is None:
                raise CheckInClosed(refusal[0], refusal[1], window)
            override = refusal is not None
            audit = {"override": True} if override else {}
            if recorded_at is not None:
                audit["recorded_offline"] = True
            try:
                _change_state(row, S.ATTENDED, actor_id=actor_id, action="registration.check_in",
                              checked_in_at=at, checkin_override_reason=reason if override else None,
                              audit=audit)
                return
            except _StaleState:
                continue
        raise IllegalTransition(_l("This registration was changed by someone else just now."))

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)


def _erase_checkin_override_reasons(user_id: int) -> None:
    """Account erasure: an organiser's free-text reason for this person's check-in goes too."""
    db.session.execute(update(Registration).where(Registration.user_id == user_id,
                                                  Registration.checkin_override_reason.is_not(None))
                       .values(checkin_override_reason=None).execution_options(synchronize_session=False))


register_erasure_hook(_erase_checkin_override_reasons)


def undo_check_in(registration_id: int, actor: User | None) -> Registration:
    """Put an attended registration back to confirmed (a check-in made by mistake)."""
    actor_id = actor.id if actor is not None else None

    def tx():
        row = _load_row(registration_id)
        if row.state == S.CONFIRMED:
            return
        if row.state != S.ATTENDED:
            raise IllegalTransition(_l("Only a checked-in registration can have its check-in undone."))
        try:
            _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.undo_check_in",
                          checked_in_at=None, checkin_override_reason=None)
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now.")) from None

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)


def mark_no_show(registration_id: int, actor: User | None) -> Registration:
    """A confirmed worker did not come (frees the place; nobody is promoted once it has begun)."""
    actor_id = actor.id if actor is not None else None

    def tx():
        row = _load_row(registration_id)
        if row.state == S.NO_SHOW:
            return
        try:
            _change_state(row, S.NO_SHOW, actor_id=actor_id, action="registration.no_show")
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now.")) from None

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)


# --------------------------------------------------------------------------- lottery

def draw_lottery(activity_id: int, actor: User | None = None, seed: str | None = None) -> DrawResult:
    """Draw a lottery activity once sign-up has closed.

    ``random.Random(seed)`` shuffles the pending registrations ordered by id; the drawn order
    confirms up to capacity (per slot when slotted) and ranks the rest on the waiting list (or
    marks them not drawn when the activity has none).  The seed and time are stored on the
    activity and the whole order goes to the audit log, so anyone can re-run the draw.
    """
    activity = db.session.get(Activity, activity_id) if isinstance(activity_id, int) else None
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    if activity.mode != SignupMode.LOTTERY:
        raise DrawRefused(_l("This activity does not use a lottery."))
    if activity.status != ActivityStatus.PUBLISHED:
        raise DrawRefused(_l("Only a published activity can be drawn."))
    if activity.drawn_at is not None:
        raise DrawRefused(_l("The lottery for this activity has already been drawn."))
    if now() < activity.signup_closes_at:
        raise DrawRefused(_l("The lottery can only be drawn after sign-up closes at %(when)s.",
                             when=rules.local_time(activity.signup_closes_at)))
    seed = (seed or "").strip()[:64] or secrets.token_hex(16)
    actor_id = actor.id if actor is not None else None
    waitlist_enabled = activity.waitlist_enabled

    def tx() -> DrawResult:
        at = now()
        claimed = db.session.execute(
            update(Activity).where(Activity.id == activity_id, Activity.drawn_at.is_(None))
            .values(drawn_at=at, lottery_seed=seed).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            raise DrawRefused(_l("The lottery for this activity has already been drawn."))
        taken, capacity = db.session.execute(
            select(Activity.taken, Activity.capacity).where(Activity.id == activity_id)).one()
        slot_left = {sid: cap - tk for sid, cap, tk in db.session.execute(
            select(TimeSlot.id, TimeSlot.capacity, TimeSlot.taken).where(TimeSlot.activity_id == activity_id))}
        rows = {row.id: row for row in _reg_rows(Registration.activity_id == activity_id,
                                                 Registration.state == S.PENDING)}
        outcome = rules.allocate_draw([rules.DrawEntry(r.id, r.slot_id) for r in rows.values()], seed,
                                      capacity - taken, slot_left, waitlist_enabled)
        for reg_id in outcome.confirmed:
            _change_state(rows[reg_id], S.CONFIRMED, actor_id=actor_id, action="registration.draw")
            row = rows[reg_id]
            _send("lottery_confirmed", row.user_id, row.locale, row.title, row.starts_at)
        for reg_id, rank in outcome.waitlisted:
            _change_state(rows[reg_id], S.WAITLISTED, actor_id=actor_id, action="registration.draw",
                          queue_rank=rank)
        for reg_id in outcome.not_drawn:
            row = rows[reg_id]
            _change_state(row, S.NOT_DRAWN, actor_id=actor_id, action="registration.draw")
            _send("lottery_not_drawn", row.user_id, row.locale, row.title, row.starts_at)
        # Waiting-list positions count per slot when slotted.
        positions: dict[int | None, int] = {}
        for reg_id, _rank in outcome.waitlisted:
            row = rows[reg_id]
            positions[row.slot_id] = positions.get(row.slot_id, 0) + 1
            _send("lottery_waitlisted", row.user_id, row.locale, row.title, row.starts_at,
                  position=positions[row.slot_id])
        log_action(actor_id, "activity.lottery_draw", _ActivityRef(activity_id), seed=seed,
                   order=outcome.order, confirmed=len(outcome.confirmed),
                   waitlisted=len(outcome.waitlisted), not_drawn=len(outcome.not_drawn))
        return DrawResult(activity_id=activity_id, seed=seed, confirmed=len(outcome.confirmed),
                          waitlisted=len(outcome.waitlisted), not_drawn=len(outcome.not_drawn),
                          order=outcome.order)

    return _in_write_transaction(tx)


@dataclass
class _ActivityRef:
    id: int
    __tablename__ = "activity"


__all__ = [
    "ActivityFull", "AlreadyRegistered", "Busy", "CancellationClosed", "DrawRefused", "DrawResult",
    "IllegalTransition", "NotEligible", "SignupClosed", "SignupState", "approve", "cancel", "check_in",
    "draw_lottery", "get_own_registration", "mark_no_show", "my_registrations", "register",
    "registration_for_ticket", "reject", "signup_state", "ticket_token", "undo_check_in",
    "waitlist_length", "waitlist_position",
]


# =========================================================================== organiser tools
# Added for the roster, the door check-in page and the check-in API.  Every function below calls the
# engine's state changers above (check_in, approve, reject, mark_no_show, _change_state); none has
# rules of its own about which transitions are allowed.

#: Most registrations one bulk action or one message may name.
BULK_LIMIT = 1000
#: Longest notice body (one long SMS) and subject.
NOTICE_BODY_MAX = 500
NOTICE_SUBJECT_MAX = 60
#: States a notice "to everyone" reaches: people still taking part or who took part.
NOTICE_ALL_STATES = (S.PENDING, S.CONFIRMED, S.WAITLISTED, S.ATTENDED, S.NO_SHOW)


class WrongActivity(Conflict):
    code = "wrong_activity"
    default_message = _l("This ticket is for another activity; it cannot be checked in here.")


class UnknownTicket(NotFound):
    code = "unknown_ticket"
    default_message = _l("This ticket code is not known. Please check it, or search by name.")


class NotStartedYet(Conflict):
    code = "not_started"
    default_message = _l("This can only be done once the activity has started.")


@dataclass
class CheckInResult:
    registration: Registration
    already: bool  # it had been checked in before this request
    replay: bool = False  # answered from an earlier request with the same client id


@dataclass
class WalkInResult:
    registration: Registration
    created_account: bool
    existing_registration: bool
    checked_in: bool
    check_in_refused: str | None = None  # why the asked-for check-in did not happen


@dataclass
class BulkResult:
    done: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (registration id, name, message)


def _registration_of_activity(activity_id: int, registration_id) -> Registration:
    registration = db.session.get(Registration, registration_id, options=[joinedload(Registration.user)]) \
        if isinstance(registration_id, int) and not isinstance(registration_id, bool) else None
    if registration is None or registration.activity_id != activity_id:
        raise NotFound(_l("This registration does not exist."))
    return registration


def _check_in_result(registration_id: int, actor: User | None, **how) -> CheckInResult:
    before = db.session.scalar(select(Registration.state).where(Registration.id == registration_id))
    registration = check_in(registration_id, actor, **how)
    return CheckInResult(registration, already=before == S.ATTENDED)


def check_in_registration(activity_id: int, registration_id: int, actor: User, *,
                          override_reason: str | None = None) -> CheckInResult:
    """Door check-in of one registration found by search; it must belong to ``activity_id``."""
    registration = _registration_of_activity(activity_id, registration_id)
    return _check_in_result(registration.id, actor, override_reason=override_reason)


def undo_check_in_registration(activity_id: int, registration_id: int, actor: User) -> Registration:
    registration = _registration_of_activity(activity_id, registration_id)
    return undo_check_in(registration.id, actor)


def ticket_digest(token: str) -> str:
    """SHA-256 of a ticket token: what an offline scanner caches instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_in_ticket(token: str | None, actor: User, *, activity_id: int | None = None,
                    client_id: str | None = None, override_reason: str | None = None,
                    recorded_at: datetime | None = None) -> CheckInResult:
    """Check in the registration a scanned ticket names.

    ``activity_id``: the activity being checked in at the door (a ticket of another one is refused).
    ``client_id``: a UUID the scanning device made for this request; sending it again returns the
    first answer and changes nothing (even if the check-in was undone since).  Two devices checking
    the same ticket in at once make one check-in: ``check_in`` changes only a row still confirmed.
    ``override_reason`` and ``recorded_at``: see ``check_in`` (the check-in window).
    """
    # Authorise first, a replay exactly like a new request: a client id is no credential, so sending
    # someone else's again must not return their attendee (issue 14, defect 8).
    registration = registration_for_ticket(token)
    if registration is None:
        raise UnknownTicket()
    organiser = _is_organiser(actor, registration.activity.node_id)
    if activity_id is not None and registration.activity_id != activity_id:
        if organiser:
            raise WrongActivity(_l("This ticket is for another activity: “%(title)s”. It cannot be "
                                   "checked in here.", title=registration.activity.title))
        raise WrongActivity()
    if not organiser:
        raise NotAllowed(_l("You do not organise the activity this ticket is for."))
    if client_id is not None:
        receipt = db.session.scalar(select(CheckInReceipt).where(CheckInReceipt.client_id == client_id))
        if receipt is not None:
            if receipt.registration_id != registration.id:
                raise Conflict(_l("This request id was already used for another ticket."), field="client_id")
            return CheckInResult(registration, already=True, replay=True)
    result = _check_in_result(registration.id, actor, override_reason=override_reason, recorded_at=recorded_at)
    if client_id is not None:
        try:
            with write_transaction():
                db.session.add(CheckInReceipt(client_id=client_id, registration_id=registration.id,
                                              actor_id=actor.id if actor is not None else None))
        except IntegrityError:
            db.session.rollback()  # the same request arrived twice at once: the other one recorded it
    return result


def promote(registration_id: int, actor: User) -> Registration:
    """An organiser gives a place to this person on the waiting list (not necessarily the first in
    line); refused with ActivityFull when no place is free."""
    actor_id = actor.id if actor is not None else None

    def tx():
        row = _load_row(registration_id)
        if row.state != S.WAITLISTED:
            raise IllegalTransition(_l("Only someone on the waiting list can be given a place."))
        try:
            _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.promote")
        except _StaleState:
            raise IllegalTransition(_l("This registration was changed by someone else just now.")) from None
        except ActivityFull as full:
            raise ActivityFull(_l("No place is free. Raise the number of places or cancel a registration "
                                  "first."), counter=full.counter) from None
        _send("promoted", row.user_id, row.locale, row.title, row.starts_at)

    _in_write_transaction(tx)
    return db.session.get(Registration, registration_id)


def _require_started(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id) if isinstance(activity_id, int) else None
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    if now() < activity.starts_at:
        raise NotStartedYet(_l("No-shows can only be marked once the activity has started (%(when)s).",
                               when=rules.local_time(activity.starts_at)))
    return activity


def _no_show_after_start(registration_id: int, actor: User) -> Registration:
    activity_id = db.session.scalar(select(Registration.activity_id).where(Registration.id == registration_id))
    if activity_id is not None:
        _require_started(activity_id)
    return mark_no_show(registration_id, actor)


#: Bulk actions of the roster, each one of the engine's state changers.
BULK_ACTIONS: dict[str, Callable[[int, User], Registration]] = {
    "approve": approve,
    "reject": reject,
    "promote": promote,
    "attended": functools.partial(check_in, after_the_end=True),  # copying the paper sign-in sheet
    "no_show": _no_show_after_start,
}


def bulk_apply(activity_id: int, registration_ids, action: str, actor: User) -> BulkResult:
    """Apply one action to the chosen registrations of ``activity_id``, each on its own, so one that
    cannot change (e.g. already rejected) is reported and the rest go ahead."""
    change = BULK_ACTIONS.get(action)
    if change is None:
        raise ValidationFailed({"action": [str(_l("Please choose an action."))]})
    ids = clean_ids(registration_ids)
    if not ids:
        raise ValidationFailed({"ids": [str(_l("Please tick at least one registration."))]})
    names = dict(db.session.execute(
        select(Registration.id, User.name).join(User, User.id == Registration.user_id)
        .where(Registration.activity_id == activity_id, Registration.id.in_(ids))).all())
    result = BulkResult()
    for reg_id in ids:
        if reg_id not in names:
            result.refused.append((reg_id, "", str(_l("This registration does not exist."))))
            continue
        try:
            change(reg_id, actor)
        except DomainError as error:
            result.refused.append((reg_id, names[reg_id], str(error.message)))
        else:
            result.done += 1
    return result


def clean_ids(values) -> list[int]:
    ids: list[int] = []
    for value in values or ():
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if 0 < number < 2**31 and number not in ids:
            ids.append(number)
    if len(ids) > BULK_LIMIT:
        raise ValidationFailed({"ids": [str(_l("Please choose at most %(n)d registrations at a time.",
                                               n=BULK_LIMIT))]})
    return ids


def mark_rest_no_show(activity_id: int, actor: User) -> int:
    """After the start: everyone still confirmed (not checked in) becomes a no-show, in one transaction.
    Returns how many were marked."""
    _require_started(activity_id)
    actor_id = actor.id if actor is not None else None

    def tx() -> int:
        _lock_activity_row(activity_id=activity_id)
        rows = _reg_rows(Registration.activity_id == activity_id, Registration.state == S.CONFIRMED, lock=True)
        marked = 0
        for row in rows:
            try:
                _change_state(row, S.NO_SHOW, actor_id=actor_id, action="registration.no_show")
            except _StaleState:
                continue
            marked += 1
        log_action(actor_id, "activity.mark_no_shows", _ActivityRef(activity_id), count=marked)
        return marked

    return _in_write_transaction(tx)


def walk_in(activity_id: int, *, mobile: str, name: str | None, actor: User, slot_id=None,
            answers: dict | None = None, check_in_now: bool = False) -> WalkInResult:
    """Register someone at the door by mobile number, making an unactivated account (with the name the
    organiser gives) when the number has none; optionally check them in at once.

    Every sign-up rule holds except the window (``register(entered_by=...)``).  An application to an
    approval activity is approved on the spot.  Someone already registered is not registered again:
    their registration is used (and checked in when asked).
    """
    from ..accounts.activation import issue_code
    from ..accounts.services import create_user, find_by_mobile, mobile_error, normalise_mobile

    mobile = normalise_mobile(mobile)
    error = mobile_error(mobile)
    if error:
        raise ValidationFailed({"mobile": [error]})
    user = find_by_mobile(mobile)
    created = False
    if user is None:
        if not (name or "").strip():
            raise ValidationFailed({"name": [str(_l(
                "No account has this mobile number yet. Please enter the worker's name to make one."))]})
        # Refuse what register() would refuse anyway before making the account: a refused walk-in
        # must leave nothing behind.
        activity = _activity_for_signup(activity_id)
        if activity.kind == ActivityKind.HEALTH:
            raise NotEligible(_l("A health service needs the worker's own consent, so nobody can be signed up "
                                 "for one by someone else."))
        _validate_signup(activity, slot_id=slot_id or None, answers=answers, health_consent=False)
        try:
            with write_transaction():
                user = create_user(mobile, name, None, created_by=actor, activated=False)
                issue_code(user)  # the worker activates the account with the code from the outbox
            created = True
        except IntegrityError:
            db.session.rollback()  # another volunteer made it a moment ago
            user = find_by_mobile(mobile)
            if user is None:
                raise
    existing = False
    try:
        registration = register(user, activity_id, slot_id=slot_id or None, answers=answers, entered_by=actor)
    except AlreadyRegistered as already:
        registration = db.session.get(Registration, already.registration_id)
        existing = True
    if registration.state == S.PENDING and registration.activity.mode == SignupMode.APPROVAL:
        registration = approve(registration.id, actor)
    checked_in, refused = False, None
    if check_in_now:
        try:
            registration = check_in(registration.id, actor)
            checked_in = True
        except (IllegalTransition, CheckInClosed) as error:  # e.g. waiting list, or not yet the day
            refused = str(error.message)
    return WalkInResult(registration, created_account=created, existing_registration=existing,
                        checked_in=checked_in, check_in_refused=refused)


def send_notice(activity_id: int, actor: User, *, subject: str, body: str,
                registration_ids=None, state: S | None = None) -> int:
    """Queue a message from the organiser to the chosen registrants through the outbox.

    Recipients: the registrations named in ``registration_ids`` (when given), else everyone in
    ``state``, else everyone still taking part or who took part (``NOTICE_ALL_STATES``).
    One message per person.  Returns how many were queued.
    """
    subject = (subject or "").strip()
    body = (body or "").strip()
    errors: dict[str, list[str]] = {}
    if not body:
        errors["body"] = [str(_l("Please write the message."))]
    elif len(body) > NOTICE_BODY_MAX:
        errors["body"] = [str(_l("The message may have at most %(n)d characters.", n=NOTICE_BODY_MAX))]
    if len(subject) > NOTICE_SUBJECT_MAX:
        errors["subject"] = [str(_l("The subject may have at most %(n)d characters.", n=NOTICE_SUBJECT_MAX))]
    where = [Registration.activity_id == activity_id]
    if registration_ids is not None:
        ids = clean_ids(registration_ids)
        if not ids:
            errors["ids"] = [str(_l("Please tick at least one registration."))]
        where.append(Registration.id.in_(ids))
    elif state is not None:
        where.append(Registration.state == state)
    else:
        where.append(Registration.state.in_(NOTICE_ALL_STATES))
    if errors:
        raise ValidationFailed(errors)
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    subject = subject or activity.title
    actor_id = actor.id if actor is not None else None

    def tx() -> int:
        user_ids = db.session.scalars(select(Registration.user_id).where(*where).distinct()).all()
        for user_id in user_ids:
            enqueue(user_id, "activity.notice", body, subject=subject)
        log_action(actor_id, "activity.notice", _ActivityRef(activity_id), recipients=len(user_ids),
                   state=state.value if state is not None else None,
                   selected=registration_ids is not None)
        return len(user_ids)

    return _in_write_transaction(tx)


def record_full_mobile_export(activity_id: int, actor: User, export_format: str) -> None:
    """Audit an export that shows full mobile numbers (ids only, no personal data)."""
    with write_transaction():
        log_action(actor.id if actor is not None else None, "roster.export_full_mobile",
                   _ActivityRef(activity_id), format=export_format)


__all__ += [
    "BulkResult", "CheckInClosed", "CheckInResult", "NotStartedYet", "UnknownTicket", "WalkInResult", "WrongActivity",
    "bulk_apply", "check_in_registration", "check_in_ticket", "mark_rest_no_show", "promote",
    "record_full_mobile_export", "send_notice", "ticket_digest", "undo_check_in_registration", "walk_in",
]


def check_in_offline(activity_id: int, actor: User, *, client_id: str, registration_id: int | None = None,
                     token: str | None = None, recorded_at: datetime | None = None,
                     override_reason: str | None = None) -> CheckInResult:
    """A check-in the door page recorded while offline, sent when the network returned.

    The phone's cached roster holds no ticket codes (only their digests), so a person found by name is
    sent as ``registration_id``; the ticket code is looked up here and the check-in goes through
    ``check_in_ticket`` — the same idempotent path as ``POST /api/v1/checkins``: the same ``client_id``
    twice is one check-in.  ``recorded_at``: when the phone recorded it; the check-in window is judged
    at that time (an offline check-in made at the door is not refused for arriving after the end).
    """
    if registration_id is not None:
        registration = _registration_of_activity(activity_id, registration_id)
        token = registration.ticket_secret
    return check_in_ticket(token, actor, activity_id=activity_id, client_id=client_id, recorded_at=recorded_at,
                           override_reason=override_reason)


__all__ += ["check_in_offline"]
