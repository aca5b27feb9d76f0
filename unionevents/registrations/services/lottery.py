"""The lottery draw: a seeded, re-runnable shuffle of the pending registrations."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ...accounts.models import User
from ...activities.models import Activity, ActivityStatus, SignupMode, TimeSlot
from ...core.audit import Ref, log_action
from ...core.errors import NotFound
from ...core.timeutil import now
from ...extensions import db
from .. import rules
from ..models import Registration, RegistrationState as S
from .errors import DrawRefused
from .notices import _send
from .state import _change_state, _reg_rows
from .transactions import _in_write_transaction


@dataclass
class DrawResult:
    activity_id: int
    seed: str
    confirmed: int
    waitlisted: int
    not_drawn: int
    order: list[int] = field(default_factory=list)


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
            _send("lottery_confirmed", row.user_id, row.locale, row.title, row.starts_at, activity_id=activity_id,
                  registration_id=row.id)
        for reg_id, rank in outcome.waitlisted:
            _change_state(rows[reg_id], S.WAITLISTED, actor_id=actor_id, action="registration.draw",
                          queue_rank=rank)
        for reg_id in outcome.not_drawn:
            row = rows[reg_id]
            _change_state(row, S.NOT_DRAWN, actor_id=actor_id, action="registration.draw")
            _send("lottery_not_drawn", row.user_id, row.locale, row.title, row.starts_at, activity_id=activity_id)
        # Waiting-list positions count per slot when slotted.
        positions: dict[int | None, int] = {}
        for reg_id, _rank in outcome.waitlisted:
            row = rows[reg_id]
            positions[row.slot_id] = positions.get(row.slot_id, 0) + 1
            _send("lottery_waitlisted", row.user_id, row.locale, row.title, row.starts_at,
                  activity_id=activity_id, position=positions[row.slot_id])
        log_action(actor_id, "activity.lottery_draw", Ref("activity", activity_id), seed=seed,
                   order=outcome.order, confirmed=len(outcome.confirmed),
                   waitlisted=len(outcome.waitlisted), not_drawn=len(outcome.not_drawn))
        return DrawResult(activity_id=activity_id, seed=seed, confirmed=len(outcome.confirmed),
                          waitlisted=len(outcome.waitlisted), not_drawn=len(outcome.not_drawn),
                          order=outcome.order)

    return _in_write_transaction(tx)
