"""The per-activity limit on organisers' bulk messages: at most BULK_MESSAGES_PER_ACTIVITY_PER_DAY sends
to an activity's people in any 24 hours.  The next one is refused with a clear message (no 500),
nothing is queued, and the refusal is audited; a day later the organiser may send again."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from unionevents.core.audit import AuditLog
from unionevents.core.errors import DomainError
from unionevents.core.outbox import OutboxMessage
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations.services import BulkLimitReached, send_notice

from tests.registrations.organiser_fixtures import (  # noqa: F401 - fixtures
    act_as, add_people, organiser, tree)


def notices(activity_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "activity.notice", OutboxMessage.activity_id == activity_id))


def audits(activity_id: int, outcome: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(
        AuditLog.action == "activity.notice", AuditLog.object_id == activity_id, AuditLog.outcome == outcome)))


def test_the_fourth_send_in_a_day_is_refused_nothing_queued_and_audited(app, make, organiser, frozen_time):
    assert app.config["BULK_MESSAGES_PER_ACTIVITY_PER_DAY"] == 3
    start = now()
    frozen_time(start)
    activity, other = make.activity(capacity=10), make.activity(capacity=10)
    add_people(activity, 2)
    add_people(other, 1)
    for n in range(3):
        assert send_notice(activity.id, organiser, subject="", body=f"通知{n}") == 2
    with pytest.raises(BulkLimitReached) as refused:
        send_notice(activity.id, organiser, subject="", body="第四条")
    assert isinstance(refused.value, DomainError) and refused.value.http_status == 429
    assert notices(activity.id) == 6  # the fourth queued nothing
    assert len(audits(activity.id, "ok")) == 3
    [refusal] = audits(activity.id, "refused")
    assert refusal.actor_id == organiser.id and refusal.data["limit"] == 3
    # The limit is per activity: another activity of the same organiser is not held back.
    assert send_notice(other.id, organiser, subject="", body="别的活动") == 1
    # A rolling day: 24 hours after the first send, one more may go.
    frozen_time(start + timedelta(hours=23, minutes=59))
    with pytest.raises(BulkLimitReached):
        send_notice(activity.id, organiser, subject="", body="还不行")
    frozen_time(start + timedelta(hours=24, minutes=1))
    assert send_notice(activity.id, organiser, subject="", body="第二天") == 2
    assert notices(activity.id) == 8


def test_zero_switches_the_limit_off(app, make, organiser):
    app.config["BULK_MESSAGES_PER_ACTIVITY_PER_DAY"] = 0
    try:
        activity = make.activity(capacity=10)
        add_people(activity, 1)
        for n in range(5):
            send_notice(activity.id, organiser, subject="", body=f"通知{n}")
        assert notices(activity.id) == 5
    finally:
        app.config["BULK_MESSAGES_PER_ACTIVITY_PER_DAY"] = 3


def test_the_compose_page_refuses_in_chinese_keeps_the_text_and_no_500(make, organiser, act_as):
    """The organiser's form, in the default language (Chinese): the refusal is a 429 page with the
    message above the form, the text they wrote still there to send tomorrow."""
    activity = make.activity(capacity=10)
    add_people(activity, 2)
    client = act_as(organiser)
    url = f"/manage/activities/{activity.id}/roster/message"
    for n in range(3):
        response = client.post(url, data={"audience": "all", "state": "confirmed", "body": f"集合通知{n}"})
        assert response.status_code == 302, response.status_code
    response = client.post(url, data={"audience": "all", "state": "confirmed", "body": "明早八点集合"})
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "本活动24小时内已群发3次" in page, page[:3000]
    assert "明早八点集合" in page  # kept in the form
    assert notices(activity.id) == 6
    assert len(audits(activity.id, "refused")) == 1


def test_a_send_to_nobody_is_refused_with_a_reason_and_does_not_use_up_the_day(app, make, organiser):
    """A message that would reach no one is explained, not counted: the day's three sends stay."""
    from unionevents.core.errors import ValidationFailed
    from unionevents.registrations.models import RegistrationState

    activity = make.activity(capacity=10)
    add_people(activity, 2)
    for _ in range(2):
        with pytest.raises(ValidationFailed) as empty:
            send_notice(activity.id, organiser, subject="", body="候补的人请注意", state=RegistrationState.WAITLISTED)
        assert list(empty.value.errors) == ["audience"]
    assert notices(activity.id) == 0 and audits(activity.id, "ok") == []
    for n in range(3):
        assert send_notice(activity.id, organiser, subject="", body=f"通知{n}") == 2
    assert notices(activity.id) == 6
