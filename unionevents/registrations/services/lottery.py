"""The lottery draw: a seeded, re-runnable shuffle of the pending registrations, committed before
sign-up (the seed's SHA-256 is public from publication) and revealed after the draw."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ...accounts.models import User
from ...activities.draw import published_order, recompute_text, seed_digest
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
    seed = (seed or "").strip()[:64]
    committed = activity.lottery_seed_hash is not None and activity.lottery_seed is not None
    if committed:
        if seed and seed != activity.lottery_seed:
            raise DrawRefused(_l("This draw's seed was fixed when sign-up opened (its SHA-256 is on the "
                                 "activity page), so it cannot be replaced."))
        seed = activity.lottery_seed
    seed = seed or secrets.token_hex(16)
    actor_id = actor.id if actor is not None else None
    waitlist_enabled = activity.waitlist_enabled

    def tx() -> DrawResult:
        at = now()
        claimed = db.session.execute(
            update(Activity).where(Activity.id == activity_id, Activity.drawn_at.is_(None))
            .values(drawn_at=at, lottery_seed=seed, lottery_seed_hash=seed_digest(seed))
            .execution_options(synchronize_session=False)).rowcount
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
        db.session.execute(update(Activity).where(Activity.id == activity_id)
                           .values(lottery_order=",".join(str(i) for i in outcome.order))
                           .execution_options(synchronize_session=False))
        log_action(actor_id, "activity.lottery_draw", Ref("activity", activity_id), seed=seed,
                   committed_before_signup=committed, order=outcome.order, confirmed=len(outcome.confirmed),
                   waitlisted=len(outcome.waitlisted), not_drawn=len(outcome.not_drawn))
        return DrawResult(activity_id=activity_id, seed=seed, confirmed=len(outcome.confirmed),
                          waitlisted=len(outcome.waitlisted), not_drawn=len(outcome.not_drawn),
                          order=outcome.order)

    return _in_write_transaction(tx)


@dataclass
class DrawCheck:
    """The published draw recomputed: does the seed give the hash shown and the order published?"""

    activity_id: int
    seed: str
    seed_hash: str
    order: list[int]
    hash_matches: bool
    order_matches: bool

    @property
    def matches(self) -> bool:
        return self.hash_matches and self.order_matches


def verify_draw(activity_id: int) -> DrawCheck:
    """Recompute a drawn lottery from what its page publishes (seed, hash, order)."""
    activity = db.session.get(Activity, activity_id) if isinstance(activity_id, int) else None
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    if activity.drawn_at is None or not activity.lottery_seed:
        raise DrawRefused(_l("This activity has not been drawn yet."))
    order = published_order(activity)
    return DrawCheck(activity_id=activity.id, seed=activity.lottery_seed, seed_hash=activity.lottery_seed_hash or "",
                     order=order, hash_matches=seed_digest(activity.lottery_seed) == activity.lottery_seed_hash,
                     order_matches=rules.lottery_order(order, activity.lottery_seed) == order)


@dataclass
class DrawRow:
    position: int
    registration_id: int
    state: S
    yours: bool


@dataclass
class PublishedDraw:
    """What an activity page shows of its lottery: the hash before the draw; after it the seed,
    the order (registration numbers, each with its state now) and how to recompute it."""

    seed_hash: str | None
    seed: str | None = None
    rows: list[DrawRow] = field(default_factory=list)
    recompute: str = ""

    @property
    def drawn(self) -> bool:
        return self.seed is not None


def published_draw(activity: Activity, viewer_id: int | None = None) -> PublishedDraw | None:
    """None for an activity without a lottery; never the seed before the draw."""
    if activity.mode != SignupMode.LOTTERY:
        return None
    if activity.drawn_at is None:
        return PublishedDraw(seed_hash=activity.lottery_seed_hash)
    order = published_order(activity)
    owners = dict(db.session.execute(select(Registration.id, Registration.user_id)
                                     .where(Registration.id.in_(order))).all()) if order else {}
    states = dict(db.session.execute(select(Registration.id, Registration.state)
                                     .where(Registration.id.in_(order))).all()) if order else {}
    rows = [DrawRow(position=i + 1, registration_id=reg_id, state=states.get(reg_id, S.CANCELLED),
                    yours=viewer_id is not None and owners.get(reg_id) == viewer_id)
            for i, reg_id in enumerate(order)]
    return PublishedDraw(seed_hash=activity.lottery_seed_hash, seed=activity.lottery_seed, rows=rows,
                         recompute=recompute_text(activity))
