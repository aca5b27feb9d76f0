"""Cancel, approve, reject: the worker's and the organiser's decisions on a registration,
and cancelling every live registration of a cancelled activity."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select

from ...accounts.models import Role, User
from ...activities.models import Activity, SignupMode
from ...core.errors import NotFound
from ...core.permissions import has_role
from ...core.timeutil import now
from ...extensions import db
from .. import rules
from ..models import LIVE_STATES, PLACE_STATES, Registration, RegistrationState as S
from .errors import ActivityFull, CancellationClosed, IllegalTransition, _StaleState
from .notices import _send
from .state import _change_state, _load_row, _lock_activity_row, _reg_rows, _RegRow
from .transactions import _in_write_transaction
from .waitlist import _position, _promote


def _is_organiser(actor: User | None, node_id: int) -> bool:
    if actor is None:
        return False
    from ...unions.models import UnionNode

    node = db.session.get(UnionNode, node_id)
    return node is not None and has_role(actor, Role.ORGANISER, node=node)


def cancel(registration_id: int, actor: User) -> Registration:
    """Cancel a registration: its worker (before the cut-off) or an organiser of the activity.

    A freed place goes to the first in line on the waiting list (within the same slot).
    """
    current = _load_row(registration_id, lock=False)
    own = actor is not None and actor.id == current.user_id
    # Whether the actor organises the activity is asked only where it decides something: someone
    # else's registration (may they cancel it at all), or their own past the worker's cut-off.
    # Most cancellations are a worker's own, in time: no grant to look up.
    organiser = not own and _is_organiser(actor, current.node_id)
    if not own and not organiser:
        raise NotFound(_l("This registration does not exist."))
    actor_id = actor.id

    def tx():
        row = _load_row(registration_id)
        past_cut_off = not rules.worker_may_cancel(row.state, now(), row.activity_starts_at, row.cancel_cutoff_at)
        # Organisers may cancel at any time, their own registration too: asked only past the cut-off.
        if past_cut_off and not (organiser or _is_organiser(actor, row.node_id)):
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
        notice = "cancelled" if own else "cancelled_by_organiser"
        _send(notice, row.user_id, row.locale, row.title, row.starts_at, activity_id=row.activity_id)
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
                _send("rejected", row.user_id, row.locale, row.title, row.starts_at, activity_id=row.activity_id)
                return
            try:
                _change_state(row, S.CONFIRMED, actor_id=actor_id, action="registration.approve")
                _send("approved", row.user_id, row.locale, row.title, row.starts_at, activity_id=row.activity_id,
                      registration_id=row.id)
            except ActivityFull as full:
                if not _waitlist_enabled(row.activity_id):
                    raise ActivityFull(_l("There is no place left to approve this application."),
                                       counter=full.counter) from None
                _change_state(row, S.WAITLISTED, actor_id=actor_id, action="registration.approve")
                position = _position(row.id, row.activity_id, row.slot_id)
                _send("approved_waitlisted", row.user_id, row.locale, row.title, row.starts_at,
                      activity_id=row.activity_id, position=position)
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


def cancel_for_activity(activity_id: int, actor_id: int | None) -> list[_RegRow]:
    """The activity itself is being cancelled: cancel every live registration (pending, confirmed,
    waiting list), each through ``_change_state`` — the same audit row, place counters and report
    counts as any other cancellation.  No single-registration rule (cut-off, own registration)
    applies and nobody is promoted; the caller tells each person (its own message, with the reason).

    Call inside the caller's write transaction, after locking the activity.  Returns the cancelled
    rows (``id``, ``user_id``, ...), in id order.
    """
    _lock_activity_row(activity_id=activity_id)
    rows = _reg_rows(Registration.activity_id == activity_id, Registration.state.in_(LIVE_STATES),
                     order_by=(Registration.id,), lock=True)
    for row in rows:
        _change_state(row, S.CANCELLED, actor_id=actor_id, action="registration.cancel")
    # The counters moved in SQL: the loaded activity, slots and quotas read them afresh when next asked.
    activity = db.session.identity_map.get(db.session.identity_key(Activity, activity_id))
    if activity is not None:
        db.session.expire(activity, ["taken"])
        unloaded = inspect(activity).unloaded
        for slot in activity.slots if "slots" not in unloaded else ():
            db.session.expire(slot, ["taken"])
        for quota in activity.unit_quotas if "unit_quotas" not in unloaded else ():
            db.session.expire(quota, ["used"])
    return rows
