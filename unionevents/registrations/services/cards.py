"""The catalogue's per-card verdicts for one worker, a page at a time (read only).

A fixed number of statements per page whatever its length: the worker's registrations among the
page's activities (one), their waiting-list places (one, ``waitlist_positions``); the activities'
eligibility rows and quotas come with the page (``activities.queries.catalogue``).  Each card is then judged by the engine's
own rules: ``rules.eligibility_refusals`` and ``signup_verdict.verdict``, as ``signup_state`` does.
"""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from ...accounts.models import User
from ...activities.models import Activity
from ...core.timeutil import now
from ...extensions import db
from .. import rules
from ..models import TAKING_PART_STATES, Registration, RegistrationState as S
from ..signup_verdict import Verdict, verdict
from .signup import _activity_facts, _worker_facts, places_for

def waitlist_positions(registration_ids: list[int]) -> dict[int, int]:
    """Waiting-list place (1 = next) of each of these registrations still waitlisted, in one statement:
    the order of ``rules.waitlist_sort_key`` (and of ``waitlist_position``), within the slot if any."""
    if not registration_ids:
        return {}
    me, other = aliased(Registration), aliased(Registration)
    same_rank_earlier = or_(other.created_at < me.created_at,
                            and_(other.created_at == me.created_at, other.id < me.id))
    ahead = or_(
        and_(me.queue_rank.is_(None),
             or_(other.queue_rank.is_not(None), and_(other.queue_rank.is_(None), same_rank_earlier))),
        and_(me.queue_rank.is_not(None), other.queue_rank.is_not(None),
             or_(other.queue_rank < me.queue_rank, and_(other.queue_rank == me.queue_rank, same_rank_earlier))),
    )
    join = and_(other.activity_id == me.activity_id, other.state == S.WAITLISTED, ahead,
                or_(me.slot_id.is_(None), other.slot_id == me.slot_id))
    rows = db.session.execute(
        select(me.id, func.count(other.id)).select_from(me).outerjoin(other, join)
        .where(me.id.in_(registration_ids), me.state == S.WAITLISTED).group_by(me.id))
    return {registration_id: ahead_count + 1 for registration_id, ahead_count in rows}


def judge(activity: Activity, worker: rules.WorkerFacts | None, at, existing: tuple | None,
          position: int | None) -> Verdict:
    """One card: ``existing`` is (registration id, state) of the worker's registration taking part."""
    facts = _activity_facts(activity)
    refusals = rules.eligibility_refusals(worker, facts, at)
    return verdict(
        refusals, existing_state=existing[1] if existing else None, existing_id=existing[0] if existing else None,
        waitlist_position=position, places_left=places_for(activity, worker, facts),
        needs_place=rules.initial_state(activity.mode) is None, waitlist_enabled=activity.waitlist_enabled,
        eligible_node_names=[node.name for node in facts.eligible_nodes])


def card_verdicts(user: User | None, activities: list[Activity]) -> dict[int, Verdict]:
    """activity id → what its card tells ``user`` (None or anonymous: a visitor)."""
    at = now()
    worker = _worker_facts(user)
    existing: dict[int, tuple[int, S]] = {}
    if worker is not None and activities:
        rows = db.session.execute(select(Registration.activity_id, Registration.id, Registration.state).where(
            Registration.user_id == worker.id, Registration.activity_id.in_([a.id for a in activities]),
            Registration.state.in_(TAKING_PART_STATES)))
        existing = {activity_id: (registration_id, S(state)) for activity_id, registration_id, state in rows}
    positions = waitlist_positions([rid for rid, state in existing.values() if state == S.WAITLISTED])
    return {activity.id: judge(activity, worker, at, existing.get(activity.id),
                               positions.get(existing[activity.id][0]) if activity.id in existing else None)
            for activity in activities}
