"""Waiting-list offers that expire: a freed place is offered to the next in line with a deadline
(held for them meanwhile), taken with one tap, or passed on when nobody answers — and never sold
twice, on either engine, even with sign-ups, cancellations and expiries racing."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from unionevents.activities.models import Activity
from unionevents.core.errors import Conflict, NotFound, ValidationFailed
from unionevents.core.outbox import OutboxMessage, Priority
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.notifications.reminders import send_due_reminders
from unionevents.registrations import rules, services
from unionevents.registrations.models import Registration, RegistrationState as S

from .test_concurrency import assert_invariants, cancel_job, no_errors, run_together, sign_up
from tests.registrations.organiser_fixtures import act_as, organiser, tree  # noqa: F401 - fixtures


def _reg(registration_id):
    db.session.expire_all()
    return db.session.get(Registration, registration_id)


def _messages(user, kind):
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.user_id == user.id, OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def _full_with_queue(make, workers, starts_in=timedelta(days=10), **fields):
    activity = make.activity("花卉养护课", capacity=1, starts_in=starts_in, **fields)
    holder, first, second = (make.user(name) for name in ("占位", "排队一", "排队二"))
    held = services.register(holder, activity.id)
    queue = [services.register(w, activity.id) for w in (first, second)]
    return activity, held, holder, queue, (first, second)


def test_deadline_rule_default_and_shortened_near_the_start():
    at = now()
    assert rules.offer_deadline(at, at + timedelta(days=10), 12) == at + timedelta(hours=12)
    assert rules.offer_deadline(at, at + timedelta(hours=6), 12) == at + timedelta(hours=3)  # halfway
    assert rules.offer_deadline(at, at + timedelta(minutes=20), 12) == at + timedelta(minutes=15)
    assert rules.offer_deadline(at, at + timedelta(minutes=10), 12) == at + timedelta(minutes=10)


@pytest.mark.usefixtures("english")
def test_a_freed_place_is_offered_held_and_taken_with_one_tap(make, workers, act_as, tree):
    activity, held, holder, (w1, w2), (first, second) = _full_with_queue(make, workers)
    services.cancel(held.id, holder)
    offered = _reg(w1.id)
    assert offered.state == S.CONFIRMED
    assert abs((offered.offer_expires_at - now() - timedelta(hours=12)).total_seconds()) < 5
    assert db.session.get(Activity, activity.id).taken == 1  # held for them
    late = services.register(workers(1)[0], activity.id)
    assert late.state == S.WAITLISTED  # the held place is not sold again
    [sms] = _messages(first, "registration.offered")
    assert sms.priority == Priority.TIMELY and f"/t/{w1.id}/ok" in sms.body and "花卉养护课" in sms.body
    assert send_due_reminders(activity.starts_at - timedelta(hours=1)) == 0  # an open offer is its own notice

    client = act_as(first)
    detail = client.get(f"/me/registrations/{w1.id}").get_data(as_text=True)
    assert "This place is held for you until" in detail and f'href="/t/{w1.id}/ok"' in detail
    page = client.get(f"/t/{w1.id}/ok")
    assert page.status_code == 200 and "Take the place" in page.get_data(as_text=True)
    assert _reg(w1.id).offer_expires_at is not None  # opening the link changes nothing
    accepted = client.post(f"/t/{w1.id}/ok")
    assert accepted.status_code == 302 and accepted.location.endswith(f"/me/registrations/{w1.id}")
    assert _reg(w1.id).offer_expires_at is None and _reg(w1.id).state == S.CONFIRMED
    [confirmed] = _messages(first, "registration.offer_accepted")
    assert f"/t/{w1.id}/x" in confirmed.body  # release my place
    with pytest.raises(Conflict):
        services.accept_offer(w1.id, first)  # no open offer any more
    with pytest.raises(NotFound):
        services.accept_offer(w2.id, first)  # someone else's registration
    assert act_as(second).get(f"/t/{w1.id}/ok").status_code == 404
    assert services.expire_offers(now() + timedelta(days=1)) == 0  # accepted: never expires


def test_an_unanswered_offer_passes_on_to_the_next_in_line(make, workers, frozen_time):
    activity, held, holder, (w1, w2), (first, second) = _full_with_queue(make, workers)
    services.cancel(held.id, holder)
    deadline = _reg(w1.id).offer_expires_at
    assert services.expire_offers(deadline - timedelta(minutes=1)) == 0
    assert services.expire_offers(deadline) == 1
    assert _reg(w1.id).state == S.CANCELLED and _reg(w2.id).state == S.CONFIRMED
    assert _reg(w2.id).offer_expires_at is not None and _messages(second, "registration.offered")
    assert _messages(first, "registration.offer_expired")
    assert db.session.get(Activity, activity.id).taken == 1
    assert_invariants(activity.id)
    frozen_time(_reg(w2.id).offer_expires_at + timedelta(seconds=1))
    with pytest.raises(Conflict):  # too late: and it passes on at once
        services.accept_offer(w2.id, second)
    assert _reg(w2.id).state == S.CANCELLED
    assert db.session.get(Activity, activity.id).taken == 0  # nobody left in line
    assert_invariants(activity.id)


def test_the_organiser_sets_the_time_to_answer(make, workers, organiser, tree):
    activity, held, holder, (w1, _w2), _ = _full_with_queue(make, workers)
    assert services.set_offer_hours(organiser, activity.id, 2) == 2
    for bad in (0, 169, "3"):
        with pytest.raises(ValidationFailed):
            services.set_offer_hours(organiser, activity.id, bad)
    services.cancel(held.id, holder)
    left = _reg(w1.id).offer_expires_at - now()
    assert timedelta(hours=2) - timedelta(seconds=5) < left <= timedelta(hours=2)


def test_near_the_start_the_offer_is_shorter(make, workers):
    activity, held, holder, (w1, _w2), _ = _full_with_queue(
        make, workers, starts_in=timedelta(hours=4), signup_closes_at=now() + timedelta(hours=1))
    services.cancel(held.id, holder)
    left = _reg(w1.id).offer_expires_at - now()
    assert timedelta(hours=2) - timedelta(seconds=5) < left <= timedelta(hours=2)


@pytest.mark.concurrency
def test_expiries_cancellations_and_sign_ups_racing_never_sell_a_place_twice(app, make, workers):
    activity = make.activity("热门课程", capacity=10)
    holders = workers(10)
    held = [services.register(w, activity.id) for w in holders]
    waiting = [services.register(w, activity.id) for w in workers(10)]
    assert all(r.state == S.WAITLISTED for r in waiting)
    for registration, person in zip(held[:5], holders[:5]):
        services.cancel(registration.id, person)  # five offers open
    assert db.session.scalar(select(func.count()).where(Registration.offer_expires_at.is_not(None))) == 5
    # The five offers' deadline has come (the offers made during the run end later: not expired).
    later = db.session.scalar(select(func.max(Registration.offer_expires_at)))

    def expire():
        return services.expire_offers(later)

    newcomers = workers(20)
    jobs = ([expire, expire, expire] + [sign_up(w.id, activity.id, jitter=0.05) for w in newcomers]
            + [cancel_job(r.id, p.id, jitter=0.05) for r, p in zip(held[5:8], holders[5:8])])
    results, errors = run_together(app, jobs)
    no_errors(errors)
    assert sum(results[i] for i in range(3)) == 5  # each expired offer passed on exactly once
    assert_invariants(activity.id)
    assert db.session.get(Activity, activity.id).taken == 10  # every freed place was taken again
    # The queue came first: the offers ran out for the first five, the next five hold places.
    assert [_reg(r.id).state for r in waiting] == [S.CANCELLED] * 5 + [S.CONFIRMED] * 5


def test_the_app_accepts_an_offer_through_the_api(make, workers, client):
    from tests.api_support import bearer

    activity, held, holder, (w1, w2), (first, second) = _full_with_queue(make, workers)
    services.cancel(held.id, holder)
    mine = client.get(f"/api/v1/registrations/{w1.id}", headers=bearer(first)).get_json()
    assert mine["state"] == "confirmed" and mine["offer_expires_at"].endswith("+00:00")
    assert client.post(f"/api/v1/registrations/{w1.id}/accept", headers=bearer(second)).status_code == 404
    assert client.post(f"/api/v1/registrations/{w1.id}/accept").status_code == 401
    accepted = client.post(f"/api/v1/registrations/{w1.id}/accept", headers=bearer(first))
    assert accepted.status_code == 200 and accepted.get_json()["offer_expires_at"] is None
    again = client.post(f"/api/v1/registrations/{w1.id}/accept", headers=bearer(first))
    assert again.status_code == 409


def test_checking_in_an_offered_place_ends_the_offer_even_after_an_undo(make, workers, organiser, tree):
    """A delegate at the door with an unanswered offer is checked in: the offer is over. An undone
    check-in must not leave the old deadline behind for expire_offers to cancel them by."""
    activity, held, holder, (w1, _w2), (first, _second) = _full_with_queue(
        make, workers, starts_in=timedelta(hours=2), signup_closes_at=now() + timedelta(minutes=30))
    services.cancel(held.id, holder)
    deadline = _reg(w1.id).offer_expires_at
    assert deadline is not None
    services.check_in(w1.id, organiser, override_reason="提前到场")
    assert _reg(w1.id).offer_expires_at is None
    services.undo_check_in(w1.id, organiser)
    assert _reg(w1.id).state == S.CONFIRMED and _reg(w1.id).offer_expires_at is None
    assert services.expire_offers(deadline + timedelta(hours=1)) == 0
    assert _reg(w1.id).state == S.CONFIRMED


def test_an_offer_refused_for_want_of_a_place_leaves_no_deadline_behind(make, workers):
    """Filling free places tries the next in line until the activity says full; that last try is
    undone, and with it the deadline it set: a worker still waiting holds no offer (bench/invariants.py
    found waiting registrations left with a deadline)."""
    from unionevents.core.db import write_transaction

    activity, held, holder, queue, _people = _full_with_queue(make, workers)
    with write_transaction():
        assert services.fill_free_places(activity.id, None) == []  # full: nobody moves up
    for registration in queue:
        row = _reg(registration.id)
        assert row.state == S.WAITLISTED and row.offer_expires_at is None, (row.state, row.offer_expires_at)
