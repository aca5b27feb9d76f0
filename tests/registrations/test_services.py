"""The registration engine against a real database: every mode, transition and refusal."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from unionevents.accounts.models import NEW_EMPLOYMENT_FORM, Occupation, Role, User
from unionevents.activities.cli import activities_cli
from unionevents.activities.models import (
    Activity, ActivityKind, ActivityStatus, QuestionKind, SignupMode, TimeSlot, UnitQuota, Visibility,
)
from unionevents.activities.services import add_question, add_slots, set_unit_quota
from unionevents.core.audit import AuditLog
from unionevents.core.errors import NotFound, ValidationFailed
from unionevents.core.outbox import OutboxMessage
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations import rules, services
from unionevents.registrations.models import Registration, RegistrationState as S
from unionevents.registrations.services import (
    ActivityFull, AlreadyRegistered, CancellationClosed, DrawRefused, IllegalTransition, NotEligible,
    SignupClosed,
)

FENGTAI_STREET = "丰台区玉泉营街道总工会"
MALL = "玉泉营商场工会"
COURIERS = "奥运村快递驿站联合工会"


@pytest.fixture
def organiser(make):
    make.tree()
    return make.user("组织者", role=Role.ORGANISER, scope=FENGTAI_STREET)


def messages_to(user, kind=None) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.user_id == user.id).order_by(OutboxMessage.id)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(stmt))


def state_of(registration_id: int) -> S:
    return db.session.scalar(select(Registration.state).where(Registration.id == registration_id))


def taken(activity_id: int) -> int:
    return db.session.scalar(select(Activity.taken).where(Activity.id == activity_id))


def assert_counters_match(activity_id: int) -> None:
    holding = db.session.scalar(select(func.count(Registration.id)).where(
        Registration.activity_id == activity_id, Registration.holds_place))
    activity_taken, capacity = db.session.execute(
        select(Activity.taken, Activity.capacity).where(Activity.id == activity_id)).one()
    assert activity_taken == holding <= capacity
    for slot_id, slot_taken in db.session.execute(
            select(TimeSlot.id, TimeSlot.taken).where(TimeSlot.activity_id == activity_id)):
        assert slot_taken == db.session.scalar(select(func.count(Registration.id)).where(
            Registration.slot_id == slot_id, Registration.holds_place))


# --------------------------------------------------------------------------- first come, first served

class TestFirstCome:
    def test_confirmed_while_places_last_then_waiting_list_in_order(self, make, workers):
        activity = make.activity("花卉养护课", capacity=2)
        people = workers(5, union=MALL)
        regs = [services.register(p, activity.id) for p in people]
        assert [r.state for r in regs] == [S.CONFIRMED, S.CONFIRMED, S.WAITLISTED, S.WAITLISTED, S.WAITLISTED]
        assert taken(activity.id) == 2
        assert [services.waitlist_position(r) for r in regs] == [None, None, 1, 2, 3]
        assert services.waitlist_length(activity.id) == 3
        assert regs[0].ticket_secret and len(services.ticket_token(regs[0])) == services.TICKET_LENGTH
        assert regs[0].unit_node_id == people[0].union_id
        assert_counters_match(activity.id)

    def test_notifications_name_the_activity_and_local_time(self, make, workers):
        activity = make.activity("花卉养护课", capacity=1)
        first, second = workers(2)
        services.register(first, activity.id)
        services.register(second, activity.id)
        when = rules.local_time(activity.starts_at)
        (confirmed,) = messages_to(first)
        assert confirmed.kind == "registration.confirmed"
        assert "花卉养护课" in confirmed.body and when in confirmed.body
        (waiting,) = messages_to(second)
        # Messages go out in the worker's language: Chinese unless they chose English.
        assert waiting.kind == "registration.waitlisted" and "候补第 1 位" in waiting.body

    @pytest.mark.parametrize("waitlist", [True, False], ids=["with-waiting-list", "without"])
    def test_a_place_freed_after_the_activity_was_read_full_is_taken(self, make, workers, monkeypatch, waitlist):
        """The sign-up reads the activity before its transaction; when that read saw it full, the
        transaction reads the row first (saving the failing claim), and a place freed meanwhile is
        still taken, not queued or refused (on PostgreSQL by starting again, claiming first)."""
        from sqlalchemy.orm.attributes import set_committed_value

        activity = make.activity(capacity=1, waitlist_enabled=waitlist)
        first, second = workers(2)
        services.cancel(services.register(first, activity.id).id, actor=first)
        assert taken(activity.id) == 0
        read_before = services._activity_for_signup

        def stale_read(activity_id):
            loaded = read_before(activity_id)
            set_committed_value(loaded, "taken", loaded.capacity)  # what an earlier moment showed
            return loaded

        monkeypatch.setattr(services.signup, "_activity_for_signup", stale_read)  # where register looks
        rows_read = []
        real_read = services._Counter.activity_status_and_room
        monkeypatch.setattr(services._Counter, "activity_status_and_room",
                            lambda counter: rows_read.append(1) or real_read(counter))
        registration = services.register(second, activity.id)
        assert registration.state == S.CONFIRMED and taken(activity.id) == 1
        assert rows_read, "the read-first path did not run"
        assert_counters_match(activity.id)

    def test_without_waiting_list_a_full_activity_refuses(self, make, workers):
        activity = make.activity(capacity=1, waitlist_enabled=False)
        first, second = workers(2)
        mine = services.register(first, activity.id)
        with pytest.raises(ActivityFull) as error:
            services.register(second, activity.id)
        assert error.value.code == "full" and error.value.http_status == 409
        assert db.session.scalar(select(func.count(Registration.id))) == 1
        # the holder asking again hears "already registered", not "full"
        with pytest.raises(AlreadyRegistered) as again:
            services.register(first, activity.id)
        assert again.value.registration_id == mine.id

    def test_double_submit_names_the_existing_registration(self, make, workers):
        activity = make.activity(capacity=1)
        first, second = workers(2)
        services.register(first, activity.id)
        waiting = services.register(second, activity.id)
        with pytest.raises(AlreadyRegistered) as error:
            services.register(second, activity.id)
        assert error.value.registration_id == waiting.id
        assert error.value.details == {"registration_id": waiting.id}
        assert taken(activity.id) == 1
        assert_counters_match(activity.id)

    def test_sign_up_again_after_cancelling(self, make, workers):
        activity = make.activity(capacity=3)
        (person,) = workers(1)
        first = services.register(person, activity.id)
        services.cancel(first.id, person)
        second = services.register(person, activity.id)
        assert second.id != first.id and second.state == S.CONFIRMED
        assert taken(activity.id) == 1

    def test_statement_budget_of_one_sign_up(self, make, workers):
        activity_id = make.activity(capacity=5).id
        person_id = workers(1)[0].id
        db.session.remove()
        person = db.session.get(User, person_id)  # as loaded by the login or token lookup
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            registration = services.register(person, activity_id)
            assert registration.state == S.CONFIRMED and registration.id
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        # activity (with eligibility), questions, slots; UPDATE taken; INSERT registration, audit, outbox;
        # the reports hook: UPDATE the day's summary row, UPSERT the worker's participant row
        assert len(statements) <= 9, "\n".join(s[:100] for s in statements)

    def test_busy_database_is_retried_then_reported(self, monkeypatch):
        calls = []

        def flaky():
            calls.append(1)
            if len(calls) < 3:
                raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
            return "done"

        monkeypatch.setattr(services.transactions, "RETRY_BACKOFF", 0.001)
        assert services._in_write_transaction(flaky) == "done" and len(calls) == 3

        def always_locked():
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

        with pytest.raises(services.Busy) as error:
            services._in_write_transaction(always_locked)
        assert error.value.http_status == 503

    def test_unknown_activity(self, workers):
        (person,) = workers(1)
        with pytest.raises(NotFound):
            services.register(person, 999999)
        with pytest.raises(NotFound):
            services.register(person, "1")


# --------------------------------------------------------------------------- cancel and promotion

class TestCancelAndPromotion:
    def test_cancelling_a_place_promotes_the_first_in_line(self, make, workers):
        activity = make.activity("花卉养护课", capacity=1)
        holder, first, second = workers(3)
        held = services.register(holder, activity.id)
        w1 = services.register(first, activity.id)
        w2 = services.register(second, activity.id)
        cancelled = services.cancel(held.id, holder)
        assert cancelled.state == S.CANCELLED
        assert state_of(w1.id) == S.CONFIRMED and state_of(w2.id) == S.WAITLISTED
        assert services.waitlist_position(db.session.get(Registration, w2.id)) == 1
        assert taken(activity.id) == 1
        assert [m.kind for m in messages_to(holder)] == ["registration.confirmed", "registration.cancelled"]
        # The place is offered (held for them until a deadline: tests/registrations/test_offers.py).
        promoted = messages_to(first, "registration.offered")
        assert len(promoted) == 1 and "花卉养护课" in promoted[0].body
        actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_id == w1.id)).all()
        assert "registration.offer" in actions
        assert_counters_match(activity.id)

    def test_leaving_the_waiting_list_promotes_nobody(self, make, workers):
        activity = make.activity(capacity=1)
        holder, first, second = workers(3)
        services.register(holder, activity.id)
        w1 = services.register(first, activity.id)
        w2 = services.register(second, activity.id)
        services.cancel(w1.id, first)
        assert state_of(w2.id) == S.WAITLISTED
        assert services.waitlist_position(db.session.get(Registration, w2.id)) == 1

    def test_lottery_rank_comes_first_unranked_last(self, make, workers):
        activity = make.activity(capacity=1)
        holder, a, b, c = workers(4)
        held = services.register(holder, activity.id)
        ra, rb, rc = (services.register(p, activity.id) for p in (a, b, c))
        db.session.get(Registration, rc.id).queue_rank = 1
        db.session.get(Registration, rb.id).queue_rank = 2
        db.session.commit()
        assert [services.waitlist_position(db.session.get(Registration, r.id)) for r in (ra, rb, rc)] == [3, 2, 1]
        services.cancel(held.id, holder)
        assert state_of(rc.id) == S.CONFIRMED

    def test_worker_cut_off_and_organiser_override(self, make, workers, organiser, frozen_time):
        activity = make.activity(capacity=1, cancel_cutoff_at=now() + timedelta(days=3))
        holder, waiting = workers(2)
        held = services.register(holder, activity.id)
        queued = services.register(waiting, activity.id)
        frozen_time(now() + timedelta(days=4))
        with pytest.raises(CancellationClosed) as error:
            services.cancel(held.id, holder)
        assert error.value.code == "cancel_closed"
        assert "Cancellation closed at" in str(error.value.message)
        assert state_of(held.id) == S.CONFIRMED
        services.cancel(held.id, organiser)  # organisers may cancel at any time
        assert state_of(held.id) == S.CANCELLED and state_of(queued.id) == S.CONFIRMED
        assert messages_to(holder, "registration.cancelled_by_organiser")

    def test_an_organisers_own_registration_may_go_after_the_cut_off_with_the_workers_notice(
            self, make, organiser, frozen_time):
        """The role is looked up when the cut-off has passed, not before: an organiser who signed up
        for their union's activity still cancels, and is told as any worker is."""
        activity = make.activity(capacity=2, cancel_cutoff_at=now() + timedelta(days=3))
        own = services.register(organiser, activity.id)
        frozen_time(now() + timedelta(days=4))
        services.cancel(own.id, organiser)
        assert state_of(own.id) == S.CANCELLED
        assert messages_to(organiser, "registration.cancelled")
        assert not messages_to(organiser, "registration.cancelled_by_organiser")

    def test_a_workers_own_cancellation_in_time_looks_up_no_role(self, make, workers):
        activity = make.activity(capacity=1)
        (worker,) = workers(1)
        held = services.register(worker, activity.id)
        db.session.expunge_all()  # as a new request: nothing loaded yet
        worker = db.session.get(User, worker.id)
        statements: list[str] = []

        def record(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            services.cancel(held.id, worker)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert state_of(held.id) == S.CANCELLED
        assert statements  # the grant and the union it is for are not read: ownership decides
        assert not [s for s in statements if "role_grant" in s or "FROM union_node" in s]

    def test_waitlisted_worker_may_leave_after_the_cut_off(self, make, workers, frozen_time):
        activity = make.activity(capacity=1, cancel_cutoff_at=now() + timedelta(days=3))
        holder, waiting = workers(2)
        services.register(holder, activity.id)
        queued = services.register(waiting, activity.id)
        frozen_time(now() + timedelta(days=4))
        assert services.cancel(queued.id, waiting).state == S.CANCELLED

    def test_without_cut_off_the_start_is_the_deadline(self, make, workers, frozen_time):
        activity = make.activity(capacity=1, starts_in=timedelta(days=2))
        (holder,) = workers(1)
        held = services.register(holder, activity.id)
        frozen_time(activity.starts_at + timedelta(minutes=1))
        with pytest.raises(CancellationClosed):
            services.cancel(held.id, holder)

    def test_cancel_after_the_start_promotes_nobody(self, make, workers, organiser, frozen_time):
        activity = make.activity(capacity=1)
        holder, waiting = workers(2)
        held = services.register(holder, activity.id)
        queued = services.register(waiting, activity.id)
        frozen_time(activity.starts_at + timedelta(minutes=5))
        services.cancel(held.id, organiser)
        assert state_of(queued.id) == S.WAITLISTED and taken(activity.id) == 0

    def test_strangers_cannot_cancel_and_twice_is_illegal(self, make, workers):
        activity = make.activity(capacity=2)
        owner, stranger = workers(2)
        reg = services.register(owner, activity.id)
        with pytest.raises(NotFound):
            services.cancel(reg.id, stranger)
        services.cancel(reg.id, owner)
        with pytest.raises(IllegalTransition) as error:
            services.cancel(reg.id, owner)
        assert "cancelled" in str(error.value.message)
        assert taken(activity.id) == 0


# --------------------------------------------------------------------------- approval

class TestApproval:
    def test_pending_then_approved_or_rejected(self, make, workers, organiser):
        activity = make.activity(capacity=5, mode=SignupMode.APPROVAL)
        yes, no = workers(2)
        r_yes = services.register(yes, activity.id)
        r_no = services.register(no, activity.id)
        assert r_yes.state == S.PENDING and taken(activity.id) == 0
        assert services.approve(r_yes.id, organiser).state == S.CONFIRMED
        assert services.reject(r_no.id, organiser).state == S.REJECTED
        assert taken(activity.id) == 1
        assert "已通过审核" in messages_to(yes, "registration.approved")[0].body
        assert messages_to(no, "registration.rejected")
        with pytest.raises(IllegalTransition):
            services.approve(r_no.id, organiser)
        with pytest.raises(IllegalTransition):
            services.reject(r_yes.id, organiser)

    def test_approving_when_full_waitlists_or_refuses(self, make, workers, organiser):
        with_list = make.activity("有候补", capacity=1, mode=SignupMode.APPROVAL)
        without = make.activity("无候补", capacity=1, mode=SignupMode.APPROVAL, waitlist_enabled=False)
        a, b = workers(2)
        for activity in (with_list, without):
            services.approve(services.register(a, activity.id).id, organiser)
        late = services.register(b, with_list.id)
        assert services.approve(late.id, organiser).state == S.WAITLISTED
        assert "候补第 1 位" in messages_to(b, "registration.approved_waitlisted")[0].body
        refused = services.register(b, without.id)
        with pytest.raises(ActivityFull):
            services.approve(refused.id, organiser)
        assert state_of(refused.id) == S.PENDING
        assert_counters_match(with_list.id)
        assert_counters_match(without.id)

    def test_pending_may_be_withdrawn_and_first_come_has_nothing_to_approve(self, make, workers, organiser):
        activity = make.activity(capacity=1, mode=SignupMode.APPROVAL)
        other = make.activity("先到先得", capacity=1)
        (person,) = workers(1)
        pending = services.register(person, activity.id)
        assert services.cancel(pending.id, person).state == S.CANCELLED
        confirmed = services.register(person, other.id)
        with pytest.raises(IllegalTransition):
            services.approve(confirmed.id, organiser)


# --------------------------------------------------------------------------- lottery

def lottery_activity(make, capacity=3, **fields):
    return make.activity("抽签音乐会", capacity=capacity, mode=SignupMode.LOTTERY, **fields)


class TestLottery:
    def test_draw_confirms_up_to_capacity_and_ranks_the_rest(self, make, workers, organiser, frozen_time):
        activity = lottery_activity(make, capacity=3)
        people = workers(8)
        regs = [services.register(p, activity.id) for p in people]
        assert {r.state for r in regs} == {S.PENDING} and taken(activity.id) == 0
        with pytest.raises(DrawRefused):
            services.draw_lottery(activity.id, organiser, seed="x")
        frozen_time(activity.signup_closes_at + timedelta(minutes=1))
        committed = db.session.get(Activity, activity.id).lottery_seed  # fixed at publication
        result = services.draw_lottery(activity.id, organiser)
        assert (result.confirmed, result.waitlisted, result.not_drawn, result.seed) == (3, 5, 0, committed)
        expected = rules.lottery_order([r.id for r in regs], committed)
        assert result.order == expected
        assert [state_of(i) for i in expected] == [S.CONFIRMED] * 3 + [S.WAITLISTED] * 5
        ranks = [db.session.get(Registration, i).queue_rank for i in expected[3:]]
        assert ranks == [1, 2, 3, 4, 5]
        stored = db.session.get(Activity, activity.id)
        assert stored.lottery_seed == committed and stored.drawn_at is not None and stored.taken == 3
        assert stored.lottery_order == ",".join(map(str, expected))
        audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "activity.lottery_draw"))
        assert audit.data["seed"] == committed and audit.data["order"] == expected
        assert audit.data["committed_before_signup"] is True
        kinds = {m.kind for m in db.session.scalars(select(OutboxMessage))}
        assert {"registration.lottery_confirmed", "registration.lottery_waitlisted"} <= kinds
        with pytest.raises(DrawRefused) as twice:
            services.draw_lottery(activity.id, organiser)
        assert "already been drawn" in str(twice.value.message)
        # the waiting list follows the drawn rank
        services.cancel(expected[0], organiser)
        assert state_of(expected[3]) == S.CONFIRMED
        assert_counters_match(activity.id)

    def test_the_committed_seed_cannot_be_replaced_and_decides_the_outcome(self, make, workers, frozen_time):
        activity = lottery_activity(make, capacity=2)
        regs = [services.register(p, activity.id) for p in workers(6)]
        stored = db.session.get(Activity, activity.id)
        committed, digest = stored.lottery_seed, stored.lottery_seed_hash
        assert len(committed) == 32 and digest == hashlib.sha256(committed.encode()).hexdigest()
        frozen_time(activity.signup_closes_at + timedelta(minutes=1))
        with pytest.raises(DrawRefused) as refused:
            services.draw_lottery(activity.id, seed="a seed picked after seeing who applied")
        assert "fixed when sign-up opened" in str(refused.value.message)
        result = services.draw_lottery(activity.id, seed=committed)  # the committed one is accepted
        order = rules.lottery_order([r.id for r in regs], committed)
        assert result.order == order
        assert [state_of(i) for i in order] == [S.CONFIRMED] * 2 + [S.WAITLISTED] * 4

    def test_without_waiting_list_the_rest_are_not_drawn(self, make, workers, frozen_time):
        activity = lottery_activity(make, capacity=1, waitlist_enabled=False)
        people = workers(3)
        for p in people:
            services.register(p, activity.id)
        frozen_time(activity.signup_closes_at)
        result = services.draw_lottery(activity.id)
        assert (result.confirmed, result.waitlisted, result.not_drawn) == (1, 0, 2)
        assert len(result.seed) == 32  # a random seed is made and recorded
        assert db.session.get(Activity, activity.id).lottery_seed == result.seed
        assert sum(len(messages_to(p, "registration.lottery_not_drawn")) for p in people) == 2

    def test_only_lottery_activities_are_drawn(self, make):
        activity = make.activity(capacity=1)
        with pytest.raises(DrawRefused):
            services.draw_lottery(activity.id)
        with pytest.raises(NotFound):
            services.draw_lottery(424242)

    def test_cli_draw(self, app, make, workers, frozen_time):
        activity = lottery_activity(make, capacity=2)
        for p in workers(5):
            services.register(p, activity.id)
        frozen_time(activity.signup_closes_at + timedelta(hours=1))
        runner = app.test_cli_runner()
        replaced = runner.invoke(activities_cli, ["draw", str(activity.id), "--seed", "cli-seed"])
        assert replaced.exit_code != 0 and "fixed when sign-up opened" in replaced.output
        result = runner.invoke(activities_cli, ["draw", str(activity.id)])
        assert result.exit_code == 0, result.output
        assert "confirmed 2" in result.output and "waitlisted 3" in result.output
        assert f"seed {db.session.get(Activity, activity.id).lottery_seed}" in result.output
        again = runner.invoke(activities_cli, ["draw", str(activity.id)])
        assert again.exit_code != 0 and "already been drawn" in again.output


# --------------------------------------------------------------------------- quota

class TestQuota:
    def test_unit_is_the_nearest_quota_node_and_its_quota_holds(self, make, workers):
        tree = make.tree()
        activity = make.activity("劳模报告会", capacity=10, mode=SignupMode.QUOTA, node="北京市总工会")
        set_unit_quota(activity, tree["丰台区总工会"], 1)
        set_unit_quota(activity, tree["朝阳区奥运村街道总工会"], 2)
        db.session.commit()
        mall_a, mall_b = workers(2, union=MALL)  # MALL → 玉泉营街道 → 丰台区 (quota 1)
        courier = workers(1, union=COURIERS)[0]  # → 奥运村街道 (quota 2)
        first = services.register(mall_a, activity.id)
        assert first.state == S.CONFIRMED and first.unit_node_id == tree["丰台区总工会"].id
        second = services.register(mall_b, activity.id)
        assert second.state == S.WAITLISTED  # the unit's quota is used; the activity is not full
        third = services.register(courier, activity.id)
        assert third.state == S.CONFIRMED and third.unit_node_id == tree["朝阳区奥运村街道总工会"].id
        used = dict(db.session.execute(select(UnitQuota.node_id, UnitQuota.used)).all())
        assert used == {tree["丰台区总工会"].id: 1, tree["朝阳区奥运村街道总工会"].id: 1}
        # the courier's cancellation frees a courier-unit place: the Fengtai worker stays waiting
        services.cancel(third.id, courier)
        assert state_of(second.id) == S.WAITLISTED
        # the Fengtai worker's own unit frees up: promoted
        services.cancel(first.id, mall_a)
        assert state_of(second.id) == S.CONFIRMED
        assert_counters_match(activity.id)

    def test_no_quota_for_the_unit_is_refused_with_a_reason(self, make, workers):
        tree = make.tree()
        activity = make.activity("代表名额", capacity=10, mode=SignupMode.QUOTA, node="北京市总工会")
        set_unit_quota(activity, tree["朝阳区总工会"], 3)
        db.session.commit()
        (outsider,) = workers(1, union=MALL)
        with pytest.raises(NotEligible) as error:
            services.register(outsider, activity.id)
        assert "your union has no places" in str(error.value.message)
        state = services.signup_state(outsider, activity)
        assert not state.can_sign_up and any("no places" in r for r in state.reasons)

    def test_quota_full_without_waiting_list(self, make, workers):
        tree = make.tree()
        activity = make.activity("名额会", capacity=10, mode=SignupMode.QUOTA, node="北京市总工会",
                                 waitlist_enabled=False)
        set_unit_quota(activity, tree[MALL], 1)
        db.session.commit()
        a, b = workers(2, union=MALL)
        services.register(a, activity.id)
        with pytest.raises(ActivityFull) as error:
            services.register(b, activity.id)
        assert "union's places" in str(error.value.message)
        assert taken(activity.id) == 1


# --------------------------------------------------------------------------- eligibility

class TestEligibility:
    def test_refusals_with_their_messages(self, make, workers, frozen_time):
        tree = make.tree()
        (teacher,) = workers(1, union=MALL, occupation=Occupation.TEACHER)
        (no_union,) = workers(1, union=None)
        (rider,) = workers(1, union=COURIERS)
        riders_only = make.activity("送健康", capacity=5, occupations=list(NEW_EMPLOYMENT_FORM))
        with pytest.raises(NotEligible) as error:
            services.register(teacher, riders_only.id)
        assert "new-employment-form" in str(error.value.message) and error.value.code == "not_eligible"
        assert services.register(rider, riders_only.id).state == S.CONFIRMED

        members = make.activity("会员活动", capacity=5, members_only=True)
        with pytest.raises(NotEligible) as error:
            services.register(no_union, members.id)
        assert "members" in str(error.value.message)
        members_visible = make.activity("会员可见", capacity=5, visibility=Visibility.MEMBERS)
        with pytest.raises(NotEligible) as error:
            services.register(no_union, members_visible.id)
        assert error.value.code == "not_eligible"
        assert services.register(teacher, members_visible.id).state == S.CONFIRMED

        chaoyang = make.activity("朝阳专场", capacity=5, eligible_nodes=[tree["朝阳区总工会"]])
        with pytest.raises(NotEligible) as error:
            services.register(teacher, chaoyang.id)
        assert "朝阳区总工会" in str(error.value.message)
        assert services.register(rider, chaoyang.id).state == S.CONFIRMED

        invited = make.activity("交流会", capacity=5, visibility=Visibility.INVITATION)
        set_unit_quota(invited, tree["朝阳区总工会"], 5)
        db.session.commit()
        with pytest.raises(NotEligible) as error:
            services.register(teacher, invited.id)
        assert "invitation" in str(error.value.message)
        assert services.register(rider, invited.id).state == S.CONFIRMED

        with pytest.raises(NotEligible) as error:
            services.register(None, members.id)
        assert "log in" in str(error.value.message)

    def test_window_and_status(self, make, workers, frozen_time):
        (person,) = workers(1)
        later = make.activity("未开始", capacity=5, signup_opens_at=now() + timedelta(days=1))
        with pytest.raises(SignupClosed) as error:
            services.register(person, later.id)
        assert "opens at" in str(error.value.message) and error.value.code == "window_closed"
        draft = make.activity("草稿", capacity=5, publish=False)
        with pytest.raises(NotFound):
            services.register(person, draft.id)
        cancelled = make.activity("已取消", capacity=5)
        cancelled.status = ActivityStatus.CANCELLED
        db.session.commit()
        with pytest.raises(SignupClosed) as error:
            services.register(person, cancelled.id)
        assert "cancelled" in str(error.value.message)
        closing = make.activity("已截止", capacity=5)
        frozen_time(closing.signup_closes_at)
        with pytest.raises(SignupClosed) as error:
            services.register(person, closing.id)
        assert "closed at" in str(error.value.message)

    def test_organiser_enters_a_walk_in_after_the_window(self, make, workers, organiser, frozen_time):
        activity = make.activity("现场报名", capacity=5)
        (person,) = workers(1)
        frozen_time(activity.signup_closes_at + timedelta(minutes=30))
        reg = services.register(person, activity.id, entered_by=organiser)
        assert reg.state == S.CONFIRMED and reg.entered_by_id == organiser.id

    def test_signup_state(self, make, workers):
        activity = make.activity(capacity=1)
        first, second = workers(2)
        state = services.signup_state(first, activity)
        assert state.can_sign_up and state.window == "open" and state.places_left == 1
        assert not state.will_be_waitlisted and state.existing is None
        mine = services.register(first, activity.id)
        state = services.signup_state(first, activity)
        assert not state.can_sign_up and state.existing.id == mine.id
        other = services.signup_state(second, activity)
        assert other.can_sign_up and other.will_be_waitlisted and other.places_left == 0
        services.register(second, activity.id)
        assert services.signup_state(None, activity).reasons == ["Please log in to sign up."]
        assert services.signup_state(None, activity).waitlist_length == 1
        closed = make.activity("无候补", capacity=0, waitlist_enabled=False)
        full = services.signup_state(second, closed)
        assert not full.can_sign_up and "full" in full.reasons[0]


# --------------------------------------------------------------------------- answers, slots, consent

class TestAnswersSlotsConsent:
    def test_answers_are_validated_and_stored_cleaned(self, make, workers):
        activity = make.activity(capacity=5)
        size = add_question(activity, "尺码", QuestionKind.SINGLE_CHOICE, required=True, choices=["S", "M"])
        note = add_question(activity, "备注", QuestionKind.TEXT)
        db.session.commit()
        (person,) = workers(1)
        with pytest.raises(ValidationFailed) as error:
            services.register(person, activity.id, answers={str(size.id): "XL", str(note.id): "x" * 501})
        assert set(error.value.errors) == {f"q{size.id}", f"q{note.id}"}
        assert db.session.scalar(select(func.count(Registration.id))) == 0 and taken(activity.id) == 0
        reg = services.register(person, activity.id, answers={f"q{size.id}": "M", str(note.id): " 素食 "})
        assert reg.answers == {str(size.id): "M", str(note.id): "素食"}

    def health_activity(self, make, capacity_each=1):
        activity = make.activity("送健康", kind=ActivityKind.HEALTH, capacity=0)
        add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, capacity_each)
        db.session.commit()
        return activity

    def test_health_needs_a_slot_of_this_activity_and_consent(self, app, make, workers):
        activity = self.health_activity(make)
        other = self.health_activity(make)
        (person,) = workers(1)
        with pytest.raises(ValidationFailed) as error:
            services.register(person, activity.id)
        assert set(error.value.errors) == {"slot_id", "consent"}
        with pytest.raises(ValidationFailed) as error:
            services.register(person, activity.id, slot_id=other.slots[0].id, health_consent=True)
        assert set(error.value.errors) == {"slot_id"}
        with pytest.raises(ValidationFailed) as error:
            services.register(person, activity.id, slot_id="abc", health_consent="yes")
        assert set(error.value.errors) == {"slot_id", "consent"}
        slot = activity.slots[1]
        reg = services.register(person, activity.id, slot_id=str(slot.id), health_consent=True)
        assert reg.slot_id == slot.id and reg.state == S.CONFIRMED
        assert reg.health_consent_at is not None
        assert reg.health_consent_version == app.config["HEALTH_CONSENT_VERSION"]
        assert db.session.get(TimeSlot, slot.id).taken == 1
        # one live registration per health activity, whatever the slot
        with pytest.raises(AlreadyRegistered):
            services.register(person, activity.id, slot_id=activity.slots[0].id, health_consent=True)

    def test_full_slot_waitlists_within_the_slot(self, make, workers):
        activity = self.health_activity(make)
        morning, later = activity.slots
        a, b, c = workers(3)
        held = services.register(a, activity.id, slot_id=morning.id, health_consent=True)
        queued = services.register(b, activity.id, slot_id=morning.id, health_consent=True)
        assert queued.state == S.WAITLISTED and services.waitlist_position(queued) == 1
        other_slot = services.register(c, activity.id, slot_id=later.id, health_consent=True)
        assert other_slot.state == S.CONFIRMED
        assert services.waitlist_length(activity.id, morning.id) == 1
        assert services.waitlist_length(activity.id, later.id) == 0
        services.cancel(other_slot.id, c)  # frees the later slot: the morning queue does not move
        assert state_of(queued.id) == S.WAITLISTED
        services.cancel(held.id, a)
        assert state_of(queued.id) == S.CONFIRMED
        assert_counters_match(activity.id)

    def test_nobody_is_signed_up_for_a_health_service_by_someone_else(self, make, workers, organiser):
        activity = self.health_activity(make)
        (person,) = workers(1)
        with pytest.raises(NotEligible):
            services.register(person, activity.id, slot_id=activity.slots[0].id, health_consent=True,
                              entered_by=organiser)

    def test_slot_on_an_activity_without_slots(self, make, workers):
        activity = make.activity(capacity=3)
        (person,) = workers(1)
        with pytest.raises(ValidationFailed) as error:
            services.register(person, activity.id, slot_id=5)
        assert set(error.value.errors) == {"slot_id"}


# --------------------------------------------------------------------------- check-in

class TestCheckIn:
    def test_check_in_is_idempotent_and_can_be_undone(self, make, workers, organiser, frozen_time):
        activity = make.activity(capacity=2)
        (person,) = workers(1)
        reg = services.register(person, activity.id)
        frozen_time(activity.starts_at)  # check-in is open
        assert services.check_in(reg.id, organiser).state == S.ATTENDED
        first_time = db.session.get(Registration, reg.id).checked_in_at
        assert first_time is not None
        assert services.check_in(reg.id, organiser).state == S.ATTENDED  # a second scan: no change
        assert db.session.get(Registration, reg.id).checked_in_at == first_time
        assert taken(activity.id) == 1
        undone = services.undo_check_in(reg.id, organiser)
        assert undone.state == S.CONFIRMED and undone.checked_in_at is None
        assert_counters_match(activity.id)

    def test_wrong_states_are_refused_with_a_clear_message(self, make, workers, organiser):
        activity = make.activity(capacity=1)
        a, b = workers(2)
        held = services.register(a, activity.id)
        queued = services.register(b, activity.id)
        with pytest.raises(IllegalTransition) as error:
            services.check_in(queued.id, organiser)
        assert "waiting list" in str(error.value.message)
        services.cancel(held.id, a)
        with pytest.raises(IllegalTransition) as error:
            services.check_in(held.id, organiser)
        assert "cancelled" in str(error.value.message)
        with pytest.raises(IllegalTransition):
            services.undo_check_in(held.id, organiser)
        # undoing a check-in that never happened changes nothing (the promoted one is confirmed)
        assert services.undo_check_in(queued.id, organiser).state == S.CONFIRMED

    def test_no_show_frees_the_place_and_can_become_attended(self, make, workers, organiser, frozen_time):
        activity = make.activity(capacity=1)
        (person,) = workers(1)
        reg = services.register(person, activity.id)
        frozen_time(activity.starts_at + timedelta(minutes=20))
        assert services.mark_no_show(reg.id, organiser).state == S.NO_SHOW
        assert taken(activity.id) == 0
        assert services.check_in(reg.id, organiser).state == S.ATTENDED
        assert taken(activity.id) == 1
        assert_counters_match(activity.id)


# --------------------------------------------------------------------------- reading

class TestReading:
    def test_my_registrations_and_ownership(self, make, workers):
        first = make.activity("第一", capacity=2, starts_in=timedelta(days=12))
        second = make.activity("第二", capacity=2)
        me, other = workers(2)
        a = services.register(me, first.id)
        b = services.register(me, second.id)
        mine = services.my_registrations(me)  # by start, not by sign-up time
        assert [r.id for r in mine] == [b.id, a.id] and mine[0].activity.title == "第二"
        assert services.get_own_registration(me, a.id).id == a.id
        with pytest.raises(NotFound):
            services.get_own_registration(other, a.id)
        with pytest.raises(NotFound):
            services.get_own_registration(me, 987654)

    def test_ticket_tokens(self, make, workers):
        activity = make.activity(capacity=2)
        (person,) = workers(1)
        reg = services.register(person, activity.id)
        token = services.ticket_token(reg)
        assert services.registration_for_ticket(token).id == reg.id
        assert services.registration_for_ticket(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert services.registration_for_ticket("short") is None
        assert services.registration_for_ticket(None) is None


@pytest.mark.parametrize("places, mode", [(5, SignupMode.FIRST_COME), (1, SignupMode.FIRST_COME),
                                          (5, SignupMode.APPROVAL), (5, SignupMode.LOTTERY)],
                         ids=["place free", "full (waiting list)", "approval", "lottery"])
def test_a_signup_racing_the_activity_cancellation_is_refused(organiser, make, monkeypatch, places, mode):
    """The eligibility check reads the activity before the write transaction; an organiser who
    cancels in between must not end up with a live registration on a cancelled activity."""
    from unionevents.activities.services import cancel_activity

    activity = make.activity(capacity=places, mode=mode)
    if places == 1:
        services.register(make.user("先到者", union=MALL), activity.id)
    late = make.user("晚到者", union=MALL)
    write = services._in_write_transaction

    def cancel_then_write(fn, *args, **kwargs):
        monkeypatch.setattr(services.signup, "_in_write_transaction", write)
        cancel_activity(organiser, activity.id, "场地维修")
        return write(fn, *args, **kwargs)

    monkeypatch.setattr(services.signup, "_in_write_transaction", cancel_then_write)  # the sign-up's
    with pytest.raises(SignupClosed) as refused:
        services.register(late, activity.id)
    assert str(refused.value.message) == "This activity has been cancelled."  # 本活动已取消。 in zh
    assert db.session.scalar(select(func.count(Registration.id)).where(
        Registration.activity_id == activity.id, Registration.is_live)) == 0
    assert taken(activity.id) == 0


@pytest.mark.parametrize("after_check_in", ["attended", "no_show"])
def test_a_worker_checked_in_or_marked_absent_cannot_sign_up_a_second_time(organiser, make, after_check_in,
                                                                           frozen_time):
    """Found by bench/invariants.py: with only pending/confirmed/waitlisted counted as "one per worker",
    a worker checked in at the door could sign up again, hold two places, and undoing the check-in
    then failed on the unique index (a 500)."""
    # sign-up open until 30 min before the start, so a second sign-up could be tried inside check-in time
    activity = make.activity(capacity=5, signup_closes_at=now() + timedelta(days=10, minutes=-30))
    worker = make.user("王骑手", union=MALL)
    first = services.register(worker, activity.id)
    frozen_time(activity.signup_closes_at - timedelta(minutes=1))
    if after_check_in == "attended":
        services.check_in(first.id, organiser)
    else:
        services.mark_no_show(first.id, organiser)
    with pytest.raises(AlreadyRegistered) as refused:
        services.register(worker, activity.id)
    assert refused.value.registration_id == first.id
    assert not services.signup_state(worker, db.session.get(Activity, activity.id)).can_sign_up
    if after_check_in == "attended":
        assert services.undo_check_in(first.id, organiser).state == S.CONFIRMED
    else:
        assert services.check_in(first.id, organiser).state == S.ATTENDED  # came late after all
    assert taken(activity.id) == 1
    assert_counters_match(activity.id)
