"""R4: the registration invariants hold after every step of random operations (Hypothesis stateful).

Operations: register (with and without a slot), cancel, promote by the organiser, fill free places,
change the capacity (activities.services.update_activity), check in, undo a check-in, mark a no-show.
After every step: taken == count(holds_place) and taken <= capacity for the activity and each slot;
nobody holds two live registrations of one activity; waiting-list positions are 1..n without gaps.
Steps per run follow the Hypothesis profile (ci: 20 steps × 12 runs; full: 60 × 500).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from unionevents.accounts.models import Role
from unionevents.activities.models import Activity, TimeSlot
from unionevents.activities.services import ActivityData, add_slots, update_activity
from unionevents.core.db import write_transaction
from unionevents.core.errors import DomainError
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

from .conftest import FULL, count_case

WORKERS = 6


def test_invariants_hold_under_random_operations(app, make):
    tree = make.tree()
    node = tree["丰台区玉泉营街道总工会"]
    organiser = make.user("组织者", union=tree["玉泉营商场工会"], role=Role.ORGANISER, scope=node)

    class Registrations(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.workers = [make.user(f"职工{i}", union=tree["玉泉营商场工会"]) for i in range(WORKERS)]
            self.plain = make.activity("名额课", capacity=2, node=node)
            slotted = make.activity("分时段体检课", capacity=4, node=node)
            add_slots(slotted, slotted.starts_at, slotted.starts_at + timedelta(hours=1), 30, 1)
            db.session.commit()
            self.activity_ids = [self.plain.id, slotted.id]
            self.slot_ids = [s.id for s in slotted.slots]

        def _registrations(self, states=None):
            stmt = select(Registration.id).where(Registration.activity_id.in_(self.activity_ids))
            if states:
                stmt = stmt.where(Registration.state.in_(states))
            return list(db.session.scalars(stmt.order_by(Registration.id)))

        def _try(self, fn, *args, **kwargs):
            count_case("stateful steps")
            try:
                fn(*args, **kwargs)
            except DomainError:
                db.session.rollback()

        @rule(worker=st.integers(0, WORKERS - 1), which=st.integers(0, 1), slot=st.integers(0, 1))
        def register(self, worker, which, slot):
            slot_id = self.slot_ids[slot] if which == 1 else None
            self._try(services.register, self.workers[worker], self.activity_ids[which], slot_id=slot_id)

        @rule(pick=st.integers(0, 50), by_worker=st.booleans())
        def cancel(self, pick, by_worker):
            live = self._registrations([S.PENDING, S.CONFIRMED, S.WAITLISTED])
            if live:
                registration = db.session.get(Registration, live[pick % len(live)])
                actor = registration.user if by_worker else organiser
                self._try(services.cancel, registration.id, actor)

        @rule(pick=st.integers(0, 50))
        def promote(self, pick):
            waiting = self._registrations([S.WAITLISTED])
            if waiting:
                self._try(services.promote, waiting[pick % len(waiting)], organiser)

        @rule(which=st.integers(0, 1))
        def fill_free_places(self, which):
            def fill():
                with write_transaction():
                    services.fill_free_places(self.activity_ids[which], organiser.id)
            self._try(fill)

        @rule(capacity=st.integers(0, 5))
        def change_capacity(self, capacity):
            activity = db.session.get(Activity, self.plain.id)
            data = replace(ActivityData.from_activity(activity), capacity=capacity)
            self._try(update_activity, organiser, activity.id, data)

        @rule(pick=st.integers(0, 50), action=st.sampled_from(["check_in", "undo_check_in", "mark_no_show"]))
        def door(self, pick, action):
            rows = self._registrations()
            if rows:
                self._try(getattr(services, action), rows[pick % len(rows)], organiser)

        @invariant()
        def places_add_up(self):
            db.session.rollback()
            for activity_id in self.activity_ids:
                activity = db.session.get(Activity, activity_id)
                holding = db.session.scalar(select(func.count()).where(
                    Registration.activity_id == activity_id, Registration.holds_place))
                assert activity.taken == holding, (activity.title, activity.taken, holding)
                assert activity.taken <= activity.capacity
                live = db.session.execute(select(Registration.user_id, func.count()).where(
                    Registration.activity_id == activity_id, Registration.is_live)
                    .group_by(Registration.user_id)).all()
                assert all(n == 1 for _, n in live), live
                for slot_id in [None] if activity_id == self.plain.id else self.slot_ids:
                    waiting = self._registrations([S.WAITLISTED])
                    positions = sorted(services.waitlist_position(db.session.get(Registration, r))
                                       for r in waiting
                                       if db.session.get(Registration, r).activity_id == activity_id
                                       and db.session.get(Registration, r).slot_id == slot_id)
                    assert positions == list(range(1, len(positions) + 1)), positions
            for slot_id in self.slot_ids:
                slot = db.session.get(TimeSlot, slot_id)
                holding = db.session.scalar(select(func.count()).where(
                    Registration.slot_id == slot_id, Registration.holds_place))
                assert slot.taken == holding and slot.taken <= slot.capacity, (slot.taken, holding)

    runs = settings.default.max_examples if FULL else 12  # CI: 12 runs × 20 steps
    run_state_machine_as_test(Registrations, settings=settings(settings.default, database=None, max_examples=runs))
