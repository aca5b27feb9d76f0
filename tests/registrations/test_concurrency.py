"""Many threads against a real database (SQLite file or PostgreSQL): capacity holds exactly.

Each test has a negative control that switches the guard off (TESTING_DISABLE_CAPACITY_GUARD: a
count-then-insert, widened by TESTING_RACE_DELAY) and must see overbooking — otherwise the test
would prove nothing.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from unionevents.accounts.models import Role, User
from unionevents.activities.models import Activity, ActivityKind, TimeSlot
from unionevents.activities.services import add_slots
from unionevents.core.audit import AuditLog
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

pytestmark = pytest.mark.concurrency


@contextmanager
def unguarded(app, delay: float):
    """The negative control's switches, restored afterwards."""
    saved = (app.config["TESTING_DISABLE_CAPACITY_GUARD"], app.config["TESTING_RACE_DELAY"])
    app.config["TESTING_DISABLE_CAPACITY_GUARD"] = True
    app.config["TESTING_RACE_DELAY"] = delay
    try:
        yield
    finally:
        app.config["TESTING_DISABLE_CAPACITY_GUARD"], app.config["TESTING_RACE_DELAY"] = saved


def run_together(app, jobs):
    """Run every job in its own thread, released together by a barrier; (results, errors) by index."""
    db.session.commit()  # the test's own session holds no transaction while the threads run
    barrier = threading.Barrier(len(jobs))
    results: dict[int, object] = {}
    errors: dict[int, BaseException] = {}

    def run(index, job):
        with app.app_context(), app.test_request_context():
            try:
                barrier.wait(timeout=60)
                results[index] = job()
            except BaseException as error:  # noqa: BLE001 - every error is reported by the test
                errors[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    db.session.expire_all()
    return results, errors


def sign_up(user_id: int, activity_id: int, jitter: float = 0.0, **kwargs):
    def job():
        if jitter:
            time.sleep(random.random() * jitter)
        user = db.session.get(User, user_id)
        registration = services.register(user, activity_id, **kwargs)
        return registration.id, registration.state
    return job


def cancel_job(registration_id: int, user_id: int, jitter: float = 0.0):
    def job():
        if jitter:
            time.sleep(random.random() * jitter)
        services.cancel(registration_id, db.session.get(User, user_id))
        return registration_id, S.CANCELLED
    return job


def states(activity_id: int, slot_id: int | None = None) -> Counter:
    stmt = select(Registration.state).where(Registration.activity_id == activity_id)
    if slot_id is not None:
        stmt = stmt.where(Registration.slot_id == slot_id)
    return Counter(db.session.scalars(stmt))


def assert_invariants(activity_id: int) -> None:
    """taken == place-holders <= capacity; one live registration per worker; no free place while
    someone waits (promotion was not lost)."""
    taken, capacity = db.session.execute(
        select(Activity.taken, Activity.capacity).where(Activity.id == activity_id)).one()
    holding = db.session.scalar(select(func.count(Registration.id)).where(
        Registration.activity_id == activity_id, Registration.holds_place))
    assert taken == holding <= capacity
    live = Counter(db.session.scalars(select(Registration.user_id).where(
        Registration.activity_id == activity_id, Registration.is_live)))
    assert not live or max(live.values()) == 1
    for slot_id, slot_taken, slot_capacity in db.session.execute(
            select(TimeSlot.id, TimeSlot.taken, TimeSlot.capacity).where(TimeSlot.activity_id == activity_id)):
        assert slot_taken == states(activity_id, slot_id)[S.CONFIRMED] <= slot_capacity
    if taken < capacity:
        assert states(activity_id)[S.WAITLISTED] == 0, "a place is free while someone waits"


def no_errors(errors):
    assert not errors, {i: repr(e) for i, e in list(errors.items())[:5]}


# --------------------------------------------------------------------------- capacity

def test_200_simultaneous_sign_ups_for_50_places(app, make, workers):
    activity = make.activity("热门课程", capacity=50)
    people = [w.id for w in workers(200)]
    started = time.monotonic()
    results, errors = run_together(app, [sign_up(uid, activity.id) for uid in people])
    elapsed = time.monotonic() - started
    no_errors(errors)
    assert len(results) == 200
    counted = Counter(state for _id, state in results.values())
    assert counted == {S.CONFIRMED: 50, S.WAITLISTED: 150}
    assert states(activity.id) == {S.CONFIRMED: 50, S.WAITLISTED: 150}
    assert db.session.get(Activity, activity.id).taken == 50
    positions = sorted(services.waitlist_position(r) for r in db.session.scalars(
        select(Registration).where(Registration.state == S.WAITLISTED)))
    assert positions == list(range(1, 151))
    assert_invariants(activity.id)
    assert elapsed < 60


def test_negative_control_count_then_insert_overbooks(app, make, workers):
    activity = make.activity("热门课程", capacity=10)
    people = [w.id for w in workers(60)]
    with unguarded(app, delay=0.2):
        results, errors = run_together(app, [sign_up(uid, activity.id) for uid in people])
    no_errors(errors)
    confirmed = states(activity.id)[S.CONFIRMED]
    assert confirmed > 10, f"the race did not show: {confirmed} confirmed for 10 places"


def test_the_guard_holds_even_with_the_widened_window(app, make, workers):
    activity = make.activity("热门课程", capacity=5)
    people = [w.id for w in workers(20)]
    app.config["TESTING_RACE_DELAY"] = 0.01
    try:
        results, errors = run_together(app, [sign_up(uid, activity.id) for uid in people])
    finally:
        app.config["TESTING_RACE_DELAY"] = 0.0
    no_errors(errors)
    assert states(activity.id) == {S.CONFIRMED: 5, S.WAITLISTED: 15}
    assert_invariants(activity.id)


# --------------------------------------------------------------------------- slot capacity

def health_activity(make, capacity_each: int):
    activity = make.activity("送健康", kind=ActivityKind.HEALTH, capacity=0)
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, capacity_each)
    db.session.commit()
    return activity


def test_slot_capacity_under_a_rush(app, make, workers):
    activity = health_activity(make, capacity_each=10)
    first, second = (s.id for s in activity.slots)
    people = [w.id for w in workers(80)]
    jobs = [sign_up(uid, activity.id, slot_id=first if i % 4 else second, health_consent=True)
            for i, uid in enumerate(people)]
    results, errors = run_together(app, jobs)
    no_errors(errors)
    assert states(activity.id, first) == {S.CONFIRMED: 10, S.WAITLISTED: 50}
    assert states(activity.id, second) == {S.CONFIRMED: 10, S.WAITLISTED: 10}
    assert db.session.get(TimeSlot, first).taken == 10 and db.session.get(TimeSlot, second).taken == 10
    assert_invariants(activity.id)


def test_negative_control_slot_overbooks(app, make, workers):
    activity = health_activity(make, capacity_each=5)
    first = activity.slots[0].id
    people = [w.id for w in workers(40)]
    with unguarded(app, delay=0.2):
        results, errors = run_together(
            app, [sign_up(uid, activity.id, slot_id=first, health_consent=True) for uid in people])
    no_errors(errors)
    assert states(activity.id, first)[S.CONFIRMED] > 5


# --------------------------------------------------------------------------- double submits

def double_submits(app, activity_id: int, people: list[int], copies: int):
    jobs = [sign_up(uid, activity_id) for uid in people for _ in range(copies)]
    results, errors = run_together(app, jobs)
    for error in errors.values():
        assert isinstance(error, services.AlreadyRegistered), repr(error)
    return results, errors


def test_identical_parallel_submits_make_one_registration_each(app, make, workers):
    activity = make.activity("限量讲座", capacity=30)
    people = [w.id for w in workers(50)]
    results, errors = double_submits(app, activity.id, people, copies=4)
    per_worker = Counter(db.session.scalars(select(Registration.user_id).where(
        Registration.activity_id == activity.id)))
    assert len(per_worker) == 50 and set(per_worker.values()) == {1}
    # every reply names that worker's one registration
    ids = dict(db.session.execute(select(Registration.user_id, Registration.id)).all())
    jobs_users = [uid for uid in people for _ in range(4)]
    for index, uid in enumerate(jobs_users):
        named = results[index][0] if index in results else errors[index].registration_id
        assert named == ids[uid]
    assert states(activity.id) == {S.CONFIRMED: 30, S.WAITLISTED: 20}
    assert_invariants(activity.id)


def test_negative_control_double_submits_overbook(app, make, workers):
    activity = make.activity("限量讲座", capacity=10)
    people = [w.id for w in workers(30)]
    with unguarded(app, delay=0.2):
        double_submits(app, activity.id, people, copies=2)
    assert states(activity.id)[S.CONFIRMED] > 10
    # the unique index still holds: overbooking, but never two live registrations for one worker
    per_worker = Counter(db.session.scalars(select(Registration.user_id).where(
        Registration.activity_id == activity.id, Registration.is_live)))
    assert set(per_worker.values()) == {1}


# --------------------------------------------------------------------------- promotions racing cancellations

def test_promotions_racing_cancellations(app, make, workers):
    activity = make.activity("热门课程", capacity=50)
    first_wave = [w.id for w in workers(70)]
    regs = {uid: services.register(db.session.get(User, uid), activity.id).id for uid in first_wave}
    assert states(activity.id) == {S.CONFIRMED: 50, S.WAITLISTED: 20}
    leaving_holders = first_wave[:25]
    leaving_waiters = first_wave[60:65]
    newcomers = [w.id for w in workers(40)]
    jobs = [cancel_job(regs[uid], uid, jitter=0.05) for uid in leaving_holders + leaving_waiters]
    jobs += [sign_up(uid, activity.id, jitter=0.05) for uid in newcomers]
    results, errors = run_together(app, jobs)
    no_errors(errors)
    assert_invariants(activity.id)
    counted = states(activity.id)
    assert counted[S.CANCELLED] == 30
    assert counted[S.CONFIRMED] == 50  # 25 freed places, 55 people wanting one
    assert counted[S.WAITLISTED] == 70 + 40 - 30 - 50
    assert db.session.get(Activity, activity.id).taken == 50


def test_negative_control_cancellations_and_naive_sign_ups_overbook(app, make, workers):
    activity = make.activity("热门课程", capacity=20, waitlist_enabled=False)
    holders = [w.id for w in workers(20)]
    regs = {uid: services.register(db.session.get(User, uid), activity.id).id for uid in holders}
    newcomers = [w.id for w in workers(30)]

    def late_sign_up(uid):
        inner = sign_up(uid, activity.id)

        def job():
            time.sleep(0.3)  # let the cancellations land first, then all count the same free places
            return inner()
        return job

    jobs = [cancel_job(regs[uid], uid) for uid in holders[:10]] + [late_sign_up(uid) for uid in newcomers]
    with unguarded(app, delay=0.2):
        results, errors = run_together(app, jobs)
    assert all(isinstance(e, services.ActivityFull) for e in errors.values()), errors
    assert states(activity.id)[S.CONFIRMED] > 20


# --------------------------------------------------------------------------- double check-in

def test_parallel_check_ins_of_one_ticket_check_in_once(app, make, workers, organiser_id, frozen_time):
    activity = make.activity("报告会", capacity=5)
    (person,) = workers(1)
    registration_id = services.register(person, activity.id).id
    frozen_time(activity.starts_at)

    def scan():
        result = services.check_in(registration_id, db.session.get(User, organiser_id))
        return result.state

    results, errors = run_together(app, [scan for _ in range(20)])
    no_errors(errors)
    assert set(results.values()) == {S.ATTENDED}
    audit = db.session.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == "registration.check_in", AuditLog.object_id == registration_id))
    assert audit == 1
    assert_invariants(activity.id)


@pytest.fixture
def organiser_id(make):
    make.tree()
    return make.user("检票员", role=Role.ORGANISER, scope="丰台区玉泉营街道总工会").id
