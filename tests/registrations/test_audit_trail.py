"""Issue 4, item 8: every roster change writes an audit row with actor, time, object and the state
before and after (ids and states only, never personal data)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from unionevents.accounts.models import Role
from unionevents.activities.models import Activity, SignupMode
from unionevents.core.audit import AuditLog
from unionevents.extensions import db
from unionevents.registrations import enrolment, services
from unionevents.registrations.models import RegistrationState as S

from .organiser_fixtures import MALL, tree  # noqa: F401 - fixtures

ALLOWED_KEYS = {"from_state", "to_state", "activity_id", "entered_by_id"}


def last_row(action: str, registration_id: int) -> AuditLog:
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action,
                                                     AuditLog.object_type == "registration",
                                                     AuditLog.object_id == registration_id)
                              .order_by(AuditLog.id.desc())).first()


def test_every_roster_change_is_audited_with_before_and_after(make, tree, frozen_time):
    organiser = make.user("街道组织者", role=Role.ORGANISER, scope="丰台区总工会")
    mall_organiser = make.user("商场组织者", role=Role.ORGANISER, scope=MALL)
    w1, w2, w3, w4, w5, w6 = (make.user(f"审计职工{i}", mobile=f"1380000{i:04d}", union=MALL) for i in range(6))
    approval = make.activity("审核课程", node="丰台区总工会", capacity=1, mode=SignupMode.APPROVAL)
    first_come = make.activity("先到先得", node="丰台区总工会", capacity=1)
    expected: list[tuple[str, int, int, str | None, str]] = []  # action, registration, actor, from, to

    def saw(action, registration, actor, before, after):
        expected.append((action, registration.id, actor.id, before, after))

    r1 = services.register(w1, approval.id)
    saw("registration.create", r1, w1, None, "pending")
    services.approve(r1.id, organiser)
    saw("registration.approve", r1, organiser, "pending", "confirmed")
    r2 = services.register(w2, approval.id)
    services.reject(r2.id, organiser)
    saw("registration.reject", r2, organiser, "pending", "rejected")
    r3 = services.register(w3, approval.id)
    services.approve(r3.id, organiser)  # no place left: waiting list
    saw("registration.approve", r3, organiser, "pending", "waitlisted")
    services.cancel(r1.id, organiser)
    saw("registration.cancel", r1, organiser, "confirmed", "cancelled")
    saw("registration.offer", r3, organiser, "waitlisted", "confirmed")  # the freed place is offered on

    r4 = services.register(w4, first_come.id)
    r5 = services.register(w5, first_come.id)
    assert r5.state == S.WAITLISTED
    db.session.execute(update(Activity).where(Activity.id == first_come.id).values(capacity=2))
    db.session.commit()
    services.promote(r5.id, organiser)
    saw("registration.promote", r5, organiser, "waitlisted", "confirmed")
    services.cancel(r5.id, w5)  # the worker's own cancellation
    saw("registration.cancel", r5, w5, "confirmed", "cancelled")
    frozen_time(first_come.starts_at)  # the day itself: check-in is open
    services.check_in_registration(first_come.id, r4.id, organiser)
    saw("registration.check_in", r4, organiser, "confirmed", "attended")
    services.undo_check_in_registration(first_come.id, r4.id, organiser)
    saw("registration.undo_check_in", r4, organiser, "attended", "confirmed")
    services.mark_no_show(r4.id, organiser)
    saw("registration.no_show", r4, organiser, "confirmed", "no_show")
    services.check_in(r4.id, organiser)  # attended after all
    saw("registration.check_in", r4, organiser, "no_show", "attended")

    walk = services.walk_in(first_come.id, mobile="13800009999", name="临时职工", actor=organiser,
                            check_in_now=True)
    saw("registration.create", walk.registration, organiser, None, "confirmed")
    saw("registration.check_in", walk.registration, organiser, "confirmed", "attended")

    city = make.activity("全市课程", node="北京市总工会")
    result = enrolment.enrol_members(mall_organiser, city.id, tree[MALL].id, [w6.id])
    enrolled = db.session.get(type(r1), result.outcomes[0].registration_id)
    saw("registration.create", enrolled, mall_organiser, None, "confirmed")

    for action, registration_id, actor_id, before, after in expected:
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == action,
                                                         AuditLog.object_type == "registration",
                                                         AuditLog.object_id == registration_id)).all()
        row = next((r for r in rows if r.data.get("from_state") == before), None)
        assert row is not None, (action, registration_id)
        assert row.actor_id == actor_id, action
        assert row.at is not None and row.object_type == "registration"
        assert row.data["from_state"] == before and row.data["to_state"] == after, (action, row.data)
        assert set(row.data) <= ALLOWED_KEYS
    assert last_row("registration.create", enrolled.id).data["entered_by_id"] == mall_organiser.id
    enrol_row = db.session.scalar(select(AuditLog).where(AuditLog.action == "registration.enrol"))
    assert enrol_row.actor_id == mall_organiser.id and enrol_row.object_id == city.id
    # ids and states only: no names or mobile numbers anywhere in the audit data
    dump = json.dumps([row.data for row in db.session.scalars(select(AuditLog))], ensure_ascii=False)
    assert "审计职工" not in dump and "临时职工" not in dump and "1380000" not in dump


def test_cancelling_the_activity_cancels_each_registration_like_any_cancellation(make, tree):
    """Issue 15, part 4: one writer.  Cancelling an activity cancels its registrations through the
    engine's state changer: the same audit row as any other cancellation (states before and after,
    nothing else), the place counters released, the report summaries still equal to a recount."""
    from unionevents.activities.services import cancel_activity
    from unionevents.reports.services import check

    organiser = make.user("街道组织者", role=Role.ORGANISER, scope="丰台区总工会")
    w1, w2, w3 = (make.user(f"取消职工{i}", mobile=f"1380001{i:04d}", union=MALL) for i in range(3))
    activity = make.activity("整场取消", node="丰台区总工会", capacity=1)
    confirmed = services.register(w1, activity.id)
    waitlisted = services.register(w2, activity.id)
    gone = services.register(w3, activity.id)
    services.cancel(gone.id, w3)
    assert (confirmed.state, waitlisted.state) == (S.CONFIRMED, S.WAITLISTED)

    assert cancel_activity(organiser, activity.id, "场地维修") == 2
    for registration, before in ((confirmed, "confirmed"), (waitlisted, "waitlisted")):
        row = last_row("registration.cancel", registration.id)
        assert row.actor_id == organiser.id
        assert row.data == {"from_state": before, "to_state": "cancelled", "activity_id": activity.id}
    assert db.session.scalar(select(Activity.taken).where(Activity.id == activity.id)) == 0
    assert check() == []
