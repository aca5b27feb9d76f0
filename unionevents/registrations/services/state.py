"""The one state changer: ``_change_state``, and the rows it works on.

Every state change of a registration goes through ``_change_state``, which checks the transition table
in ``rules.py``, updates the row only if it is still in the state read (so two organisers cannot both
act on it), moves the place counters with it, writes the audit row and announces the change
(``events.TRANSITION``; the report counters listen) — all in the caller's transaction."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ...accounts.models import User
from ...activities.models import Activity, SignupMode, TimeSlot
from ...core.audit import Ref, log_action
from ...core.db import is_sqlite
from ...core.errors import NotFound
from ...core.events import emit
from ...core.timeutil import now
from ...extensions import db
from .. import rules
from ..events import TRANSITION
from ..models import Registration, RegistrationState as S
from .counters import _claim_place, _release_place
from .errors import FULL_MESSAGES, ActivityFull, IllegalTransition, _StaleState


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
    # An offer lives only until the place's next change: one that makes a new offer says so; any
    # other (a check-in, its undo, a cancellation) must not leave a deadline for expire_offers.
    values.setdefault("offer_expires_at", None)
    stmt = (update(Registration).where(Registration.id == row.id, Registration.state == old)
            .values(state=new, updated_at=now(), **values).execution_options(synchronize_session=False))
    if db.session.execute(stmt).rowcount != 1:
        raise _StaleState()
    delta = rules.place_delta(old, new)
    if delta > 0:
        full = _claim_place(row.activity_id, row.slot_id, row.quota_node_id)
        if full is not None:
            # Undone, deadline included: a row that held no place holds no offer (the caller may go on
            # and commit, as promotion does when the activity turns out to be full).
            db.session.execute(
                update(Registration).where(Registration.id == row.id).values(state=old, offer_expires_at=None)
                .execution_options(synchronize_session=False))
            raise ActivityFull(FULL_MESSAGES[full], counter=full)
    elif delta < 0:
        _release_place(row.activity_id, row.slot_id, row.quota_node_id)
    emit(TRANSITION, activity_id=row.activity_id, old=old, new=new, user_id=row.user_id)
    row.state = new
    identity = db.session.identity_map.get(db.session.identity_key(Registration, row.id))
    if identity is not None:
        set_committed_value(identity, "state", new)
        set_committed_value(identity, "offer_expires_at", values["offer_expires_at"])
    # Ids and states only (no personal data): who (actor), what, when (``at``), before and after.
    log_action(actor_id, action, Ref("registration", row.id), from_state=old.value, to_state=new.value,
               activity_id=row.activity_id, **(audit or {}))
