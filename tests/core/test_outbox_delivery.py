"""Delivering the outbox: a claim per batch, results marked one by one, retries with backoff, dead
letters, leases that expire, a worker that stops cleanly, and two workers that never send twice."""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from unionevents.core.outbox import (OutboxMessage, OutboxState as S, PermanentDeliveryError, Priority,
                                     enqueue)
from unionevents.core.outbox_delivery import (Settings, claim, deliver_batch, deliver_due, deliver_pending,
                                              outbox_stats, retry)
from unionevents.core.db import write_transaction
from unionevents.core.timeutil import now
from unionevents.extensions import db

NOON = datetime(2026, 12, 7, 4, 0)  # 12:00 in Beijing: outside the quiet hours


class Relay:
    """A sender that records what it was given; numbers in ``rejected`` are refused for good, numbers
    in ``flaky`` fail (retryably) every time."""

    def __init__(self, rejected=(), flaky=()):
        self.rejected, self.flaky = set(rejected), set(flaky)
        self.sent: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def send(self, message, recipient):
        if recipient in self.rejected:
            raise PermanentDeliveryError("relay refused: HTTP 400")
        if recipient in self.flaky:
            raise ConnectionError("relay down")
        with self.lock:
            self.sent.append((message.id, recipient))


def _queue(*addresses, priority=Priority.NOTICE, **kwargs) -> list[int]:
    with write_transaction():
        return [enqueue(None, "test", f"消息 {a}", priority=priority, address=a, **kwargs) for a in addresses]


def _message(message_id) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message_id)


@pytest.fixture
def settings(app):
    return Settings.from_config(app.config)


@pytest.fixture
def at_noon(frozen_time):
    frozen_time(NOON)
    return NOON


def test_rejected_messages_at_the_head_do_not_hold_back_the_good_one(app, at_noon, settings):
    """The bug of issue 17: two refused messages at the head of the queue, a limit of two per run,
    and the good message behind them was never tried, run after run."""
    bad = _queue("13900000001", "13900000002")
    good = _queue("13900000003")
    relay = Relay(rejected={"13900000001", "13900000002"})
    for _ in range(3):  # three cron runs
        deliver_due(limit=2, sender=relay)
    assert relay.sent == [(good[0], "13900000003")]
    assert [_message(i).state for i in bad] == [S.DEAD, S.DEAD]
    assert _message(bad[0]).last_error == "relay refused: HTTP 400" and _message(bad[0]).attempts == 1


def test_failing_messages_at_the_head_wait_their_backoff_behind_the_good_ones(app, at_noon, settings):
    flaky = _queue("13900000001", "13900000002")
    good = _queue("13900000003")
    relay = Relay(flaky={"13900000001", "13900000002"})
    deliver_due(limit=2, sender=relay)
    deliver_due(limit=2, sender=relay)
    assert relay.sent == [(good[0], "13900000003")]
    message = _message(flaky[0])
    assert message.state is S.FAILED and message.attempts == 1 and message.next_attempt_at > now()
    assert message.last_error == "ConnectionError: relay down"


def test_backoff_doubles_after_each_failure_and_the_message_dies_after_the_last_attempt(app, frozen_time):
    app.config.update(OUTBOX_MAX_ATTEMPTS=4, OUTBOX_BACKOFF_BASE_SECONDS=10)
    try:
        settings = Settings.from_config(app.config)
        (message_id,) = _queue("13900000001")
        relay = Relay(flaky={"13900000001"})
        at, waits = NOON, []
        for attempt in range(1, 5):
            frozen_time(at)
            result = deliver_batch(relay, 10, settings=settings, rand=lambda: 1.0)
            assert result.claimed == 1
            message = _message(message_id)
            assert message.attempts == attempt
            if attempt < 4:
                assert message.state is S.FAILED
                waits.append((message.next_attempt_at - at).total_seconds())
                frozen_time(message.next_attempt_at - timedelta(seconds=1))
                assert deliver_batch(relay, 10, settings=settings).claimed == 0  # not yet
                at = message.next_attempt_at
        assert waits == [10, 20, 40]
        assert message.state is S.DEAD and message.next_attempt_at is None
        frozen_time(at + timedelta(days=1))
        assert deliver_batch(relay, 10, settings=settings).claimed == 0  # dead stays dead
    finally:
        app.config.update(OUTBOX_MAX_ATTEMPTS=8, OUTBOX_BACKOFF_BASE_SECONDS=30)


def test_a_crashed_workers_claim_expires_and_another_worker_sends(app, frozen_time, settings):
    frozen_time(NOON)
    ids = _queue("13900000001", "13900000002")
    claimed = claim(10, settings)  # a worker claims, then dies before sending anything
    assert [c.message.id for c in claimed] == ids
    assert {_message(i).state for i in ids} == {S.SENDING}
    relay = Relay()
    assert deliver_batch(relay, 10, settings=settings).claimed == 0  # the lease holds
    frozen_time(NOON + timedelta(seconds=settings.lease_seconds))
    assert deliver_batch(relay, 10, settings=settings).sent == 2
    assert [i for i, _ in relay.sent] == ids
    assert [_message(i).attempts for i in ids] == [2, 2]


def test_a_late_result_from_a_reclaimed_claim_changes_nothing(app, frozen_time, settings):
    from unionevents.core.outbox_delivery import _mark

    frozen_time(NOON)
    (message_id,) = _queue("13900000001")
    stale = claim(10, settings)[0]
    frozen_time(NOON + timedelta(seconds=settings.lease_seconds + 1))
    deliver_batch(Relay(), 10, settings=settings)  # reclaimed and sent by another worker
    _mark(stale.message, ConnectionError("late"), settings, rand=lambda: 1.0)  # the first one wakes up
    message = _message(message_id)
    assert message.state is S.SENT and message.last_error is None


def test_stopping_finishes_the_message_in_hand_and_hands_back_the_rest(app, at_noon, settings):
    ids = _queue("13900000001", "13900000002", "13900000003")
    relay = Relay()
    result = deliver_batch(relay, 10, should_stop=lambda: len(relay.sent) >= 1, settings=settings)
    assert (result.claimed, result.sent, result.released) == (3, 1, 2)
    assert [(m.state, m.attempts) for m in map(_message, ids)] == [(S.SENT, 1), (S.QUEUED, 0), (S.QUEUED, 0)]
    assert deliver_batch(relay, 10, settings=settings).sent == 2  # at once, no lease to wait for


def test_a_message_with_no_address_goes_dead_at_once(app, at_noon, make):
    user = make.user("没号码")
    db.session.commit()
    with write_transaction():
        message_id = enqueue(None, "test", "无地址")
        enqueue(user.id, "test", "有地址")
    _relay = Relay()
    assert deliver_pending() == 1
    assert _message(message_id).state is S.DEAD
    assert _message(message_id).last_error == "no address for the recipient"


def test_retry_queues_a_dead_message_again_with_a_fresh_budget(app, at_noon, settings):
    (message_id,) = _queue("13900000001")
    deliver_due(sender=Relay(rejected={"13900000001"}))
    assert _message(message_id).state is S.DEAD
    with write_transaction():
        assert retry(message_id) is True
        assert retry(message_id) is False  # queued already: nothing to retry
    assert (_message(message_id).state, _message(message_id).attempts) == (S.QUEUED, 0)
    relay = Relay()
    deliver_due(sender=relay)
    assert relay.sent == [(message_id, "13900000001")]


def test_outbox_stats_count_every_state(app, at_noon):
    _queue("13900000001", "13900000002", "13900000003", "13900000004")
    deliver_due(limit=3, sender=Relay(rejected={"13900000001"}, flaky={"13900000002"}))
    assert outbox_stats() == {"queued": 1, "sending": 0, "sent": 1, "failed": 1, "dead": 1}


# --- quiet hours and the bulk limit ------------------------------------------------------------------

def test_bulk_sms_wait_through_the_quiet_hours_but_codes_and_reminders_go(app, frozen_time):
    frozen_time(datetime(2026, 12, 7, 15, 0))  # 23:00 in Beijing
    bulk = _queue("13900000001", priority=Priority.BULK)
    code = _queue("13900000002", priority=Priority.CODE)
    timely = _queue("13900000003", priority=Priority.TIMELY)
    relay = Relay()
    deliver_due(sender=relay)
    assert [i for i, _ in relay.sent] == code + timely
    assert _message(bulk[0]).state is S.QUEUED and _message(bulk[0]).attempts == 0
    frozen_time(datetime(2026, 12, 7, 23, 0))  # 07:00 in Beijing
    deliver_due(sender=relay)
    assert [i for i, _ in relay.sent][-1] == bulk[0]


def test_bulk_messages_to_one_recipient_are_spread_over_the_hour(app, frozen_time, make):
    app.config.update(OUTBOX_BULK_PER_RECIPIENT_PER_HOUR=2)
    try:
        rider = make.user("骑手", mobile="13911110000")
        other = make.user("快递", mobile="13922220000")
        db.session.commit()
        frozen_time(NOON)
        with write_transaction():
            first = [enqueue(rider.id, "bulk", f"通知 {n}", priority=Priority.BULK) for n in range(3)]
            enqueue(other.id, "bulk", "通知", priority=Priority.BULK)
            code = enqueue(rider.id, "code", "验证码", priority=Priority.CODE)
        relay = Relay()
        deliver_due(sender=relay)
        assert Counter(to for _, to in relay.sent) == {"13911110000": 3, "13922220000": 1}  # 2 bulk + the code
        held = _message(first[2])
        assert (held.state, held.attempts, held.next_attempt_at) == (S.QUEUED, 0, NOON + timedelta(hours=1))
        frozen_time(NOON + timedelta(minutes=59))
        assert deliver_due(sender=relay).sent == 0
        frozen_time(NOON + timedelta(hours=1))
        assert deliver_due(sender=relay).sent == 1
        assert code in [i for i, _ in relay.sent]
    finally:
        app.config.update(OUTBOX_BULK_PER_RECIPIENT_PER_HOUR=3)


# --- two workers ----------------------------------------------------------------------------------

def _run_workers(app, count: int, deliver) -> Relay:
    relay = Relay()
    errors = []
    barrier = threading.Barrier(count)

    def worker():
        try:
            with app.app_context():  # its own session and connection
                barrier.wait()
                while deliver(relay):
                    pass
                db.session.remove()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    return relay


def test_two_workers_deliver_every_message_exactly_once(app):
    ids = _queue(*[f"1390000{n:04d}" for n in range(300)])
    settings = Settings.from_config(app.config)
    relay = _run_workers(app, 2, lambda relay: deliver_batch(relay, 7, settings=settings).claimed)
    assert Counter(i for i, _ in relay.sent) == Counter(ids)
    assert outbox_stats()["sent"] == 300


def test_the_two_worker_check_sees_duplicates_without_a_claim(app):
    """Negative control: the old shape (read the unsent rows, send, mark them all) under the same two
    threads sends messages twice, so the test above would notice a claim that does not hold."""
    ids = _queue(*[f"1390000{n:04d}" for n in range(300)])
    T = OutboxMessage.__table__

    def old_deliver(relay):
        rows = db.session.execute(select(T.c.id, T.c.address).where(T.c.sent_at.is_(None))
                                  .order_by(T.c.id).limit(7)).all()
        db.session.commit()
        time.sleep(0.005)  # a relay's round trip: the other worker reads the same rows meanwhile
        for row in rows:
            relay.send(type("M", (), {"id": row.id})(), row.address)
        with write_transaction():
            db.session.execute(T.update().where(T.c.id.in_([r.id for r in rows])).values(sent_at=now()))
        return len(rows)

    relay = _run_workers(app, 2, old_deliver)
    sent = Counter(i for i, _ in relay.sent)
    assert set(sent) == set(ids)
    assert max(sent.values()) > 1


def test_the_retention_purge_deletes_old_dead_messages_but_never_pending_ones(app, frozen_time):
    from unionevents.core.retention import run_job

    frozen_time(NOON)
    dead, failed = _queue("13900000001"), _queue("13900000002")
    deliver_due(sender=Relay(rejected={"13900000001"}, flaky={"13900000002"}))
    frozen_time(NOON + timedelta(days=91))
    assert run_job("outbox") == 1
    assert _message(dead[0]) is None and _message(failed[0]).state is S.FAILED
