"""Sign-up: eligibility, places (or the waiting list, or an application), and what a worker sees
before signing up (``signup_state``)."""
from __future__ import annotations

import functools
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import format_date, lazy_gettext as _l
from sqlalchemy import bindparam, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ...accounts.models import User
from ...activities.models import Activity, ActivityKind, Question, SignupMode, TimeSlot, Visibility
from ...core.audit import log_action
from ...core.db import testing_flag
from ...core.errors import NotFound, ValidationFailed
from ...core.events import emit
from ...core.metrics import SIGNUPS, outcome_of
from ...core.timeutil import now, utc_to_local
from ...extensions import db
from .. import rules, ticket_codes
from ..events import TRANSITION
from ..models import TAKING_PART_STATES, Registration, RegistrationState as S
from ..rules import Refusal
from ..signup_verdict import Verdict, verdict
from .counters import _claim_place, _PlaceFreed, _still_published
from .errors import FULL_MESSAGES, MSG_ACTIVITY_FULL, ActivityFull, AlreadyRegistered, NotEligible, SignupClosed
from .notices import _prepare_notice, _PreparedNotice
from .transactions import _in_write_transaction
from .waitlist import _place_in_queue, waitlist_length, waitlist_position


@dataclass
class SignupState:
    can_sign_up: bool
    reasons: list[str]
    existing: Registration | None
    window: str
    places_left: int
    waitlist_length: int
    will_be_waitlisted: bool
    #: What the activity's card says (``signup_verdict``): the same rule as the catalogue's.
    verdict: Verdict | None = None


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


def _count_outcome(service):
    """Count every sign-up by outcome (``unionevents_signups_total``): the state reached once committed,
    or the refusal's name."""
    @functools.wraps(service)
    def counted(*args, **kwargs) -> Registration:
        try:
            registration = service(*args, **kwargs)
        except Exception as error:
            SIGNUPS.labels(outcome_of(error)).inc()
            raise
        SIGNUPS.labels(registration.state.value).inc()
        return registration

    return counted


def _plan_for(user: User, activity_id: int, *, slot_id=None, answers: dict | None = None,
              health_consent: bool = False, entered_by: User | None = None, unit_node_id: int | None = None):
    """Check everything a sign-up needs before writing: (activity, slot, plan).  Raises the refusals."""
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
    return activity, slot, plan


@_count_outcome
def register(user: User, activity_id: int, *, slot_id=None, answers: dict | None = None,
             health_consent: bool = False, entered_by: User | None = None,
             unit_node_id: int | None = None) -> Registration:
    """Sign ``user`` up for the activity, or put them on its waiting list, or file their application.

    Raises NotFound, NotEligible, SignupClosed, ValidationFailed, AlreadyRegistered, ActivityFull, Busy.
    """
    activity, slot, plan = _plan_for(user, activity_id, slot_id=slot_id, answers=answers,
                                     health_consent=health_consent, entered_by=entered_by,
                                     unit_node_id=unit_node_id)
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
            # Not a duplicate: cancelled meanwhile, or (about once in 10⁸ sign-ups) the random ticket
            # code clashed with another in the activity; the second attempt draws a fresh one.
            if attempt == 2:
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
    # The organising union (joined by default) is not needed to sign up: loaded only if asked for
    # (docs/performance.md, "Why the code is shaped this way").
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


def register_all(user: User, activity_ids: list[int]) -> list[Registration]:
    """Sign ``user`` up for every activity of ``activity_ids`` (a whole series) in ONE transaction: each
    occurrence's place is claimed as ``register`` claims it, and if any is refused (full, closed, not
    eligible, a waiting list) nothing is written.  Only for modes where a place is given at once."""
    plans = []
    for activity_id in activity_ids:
        activity, _slot, plan = _plan_for(user, activity_id)
        if rules.initial_state(activity.mode) is not None:
            raise NotEligible(_l("%(title)s takes applications one by one; sign up for it on its own page.",
                                 title=activity.title))
        plan.activity_looked_full = False  # claim first: a full occurrence refuses the whole series
        plan.notices["confirmed"] = _prepare_notice("confirmed", plan.locale, plan.title, plan.starts_at)
        plans.append((activity, plan))

    def tx():
        made = []
        for activity, plan in plans:
            full = _claim_place(plan.activity_id, plan.slot_id, plan.quota_node_id, signup=True,
                                looked_full=False)
            if full is not None:
                raise ActivityFull(_l("%(title)s on %(date)s is full, so nobody was signed up for the series.",
                                      title=activity.title, date=format_date(utc_to_local(activity.starts_at))),
                                   counter=full)
            made.append(_insert_registration(plan, S.CONFIRMED))
        return made

    try:
        with _keep_loaded():
            made = _in_write_transaction(tx)
    except IntegrityError:
        for activity_id in activity_ids:
            existing = _live_registration_id(user.id, activity_id)
            if existing is not None:
                raise AlreadyRegistered(existing) from None
        raise
    for activity, _plan in plans:
        db.session.expire(activity, ["taken"])
    return made


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
    # set, so reading it back costs nothing; docs/performance.md, "Why the code is shaped this way").
    at = now()
    values = dict(
        activity_id=plan.activity_id, user_id=plan.user_id, slot_id=plan.slot_id,
        unit_node_id=plan.unit_node_id, state=state, queue_rank=None, answers=plan.answers,
        health_consent_at=plan.health_consent_at, health_consent_version=plan.health_consent_version,
        ticket_secret=secrets.token_urlsafe(32), ticket_code=ticket_codes.new_code(), entered_by_id=plan.entered_by_id, checked_in_at=None,
        created_at=at, updated_at=at,
    )
    new_id = db.session.execute(_REGISTRATION_INSERT, values).inserted_primary_key[0]
    registration = Registration(id=new_id, **values)
    make_transient_to_detached(registration)
    db.session.add(registration)
    if state == S.CONFIRMED:
        plan.notice("confirmed").enqueue(plan.user_id, activity_id=plan.activity_id, registration_id=new_id)
    elif state == S.WAITLISTED:
        # Known sort key (just inserted, unranked): one COUNT, kept on the object for the reply.
        position = _place_in_queue(registration.id, plan.activity_id, plan.slot_id,
                                   registration.queue_rank, registration.created_at)
        registration.position_at_signup = position
        plan.notice("waitlisted").enqueue(plan.user_id, activity_id=plan.activity_id, position=position)
    log_action(plan.entered_by_id or plan.user_id, "registration.create", registration,
               from_state=None, to_state=state.value, activity_id=plan.activity_id,
               entered_by_id=plan.entered_by_id)
    # Last before the commit: every sign-up for the activity's day updates the same report row, and
    # on PostgreSQL its row lock is held from here to the commit; taken earlier, the sign-ups
    # queued on it for three more statements each.
    emit(TRANSITION, activity_id=plan.activity_id, old=None, new=state, user_id=plan.user_id)
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
    places_left = places_for(activity, worker, facts) if not refusals else activity.places_left
    length = waitlist_length(activity.id)
    needs_place = rules.initial_state(activity.mode) is None
    position = waitlist_position(existing) if existing is not None else None
    card = verdict(refusals, existing_state=existing.state if existing is not None else None,
                   existing_id=existing.id if existing is not None else None, waitlist_position=position,
                   places_left=places_left, needs_place=needs_place, waitlist_enabled=activity.waitlist_enabled,
                   eligible_node_names=[node.name for node in facts.eligible_nodes])
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
        verdict=card,
    )


def places_for(activity: Activity, worker: rules.WorkerFacts | None, facts: rules.ActivityFacts) -> int:
    """Free places as this worker sees them: a quota activity counts their union's share."""
    places_left = activity.places_left
    if worker is not None and activity.mode == SignupMode.QUOTA:
        unit = rules.quota_unit(worker.union_path, facts.quota_nodes)
        quota = next((q for q in activity.unit_quotas if unit and q.node_id == unit.id), None)
        if quota is not None:
            places_left = min(places_left, max(quota.quota - quota.used, 0))
    return places_left
