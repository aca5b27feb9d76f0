"""Reminders before an activity (24 h and 2 h by default, the slot's time for slot bookings, per
activity changeable or off), a late sign-up reminded at once, nothing for cancelled places, and a
moved activity: everyone holding a place is told, and the reminders follow the new time."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from unionevents.activities.models import ActivityKind
from unionevents.activities.services import ActivityData, add_slots, cancel_activity, update_activity
from unionevents.core.errors import ValidationFailed
from unionevents.core.outbox import OutboxMessage, Priority
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.notifications import reminders
from unionevents.registrations.models import RegistrationState as S
from unionevents.registrations.services import cancel, register

from tests.registrations.organiser_fixtures import (  # noqa: F401 - fixtures
    act_as, organiser, other_organiser, tree)

pytestmark = pytest.mark.usefixtures("english")


def _sent(kind="reminder", user=None):
    db.session.expire_all()
    where = [OutboxMessage.kind == kind]
    if user is not None:
        where.append(OutboxMessage.user_id == user.id)
    return list(db.session.scalars(select(OutboxMessage).where(*where).order_by(OutboxMessage.id)))


def test_reminders_go_out_24_and_2_hours_before_once_each(make, tree, frozen_time):
    activity = make.activity("花卉养护课", starts_in=timedelta(days=3), venue="职工之家")
    rider = make.user("王骑手")
    registration = register(rider, activity.id)
    start = activity.starts_at
    assert reminders.send_due_reminders() == 0  # three days ahead: nothing yet
    assert reminders.send_due_reminders(start - timedelta(hours=24, minutes=1)) == 0
    assert reminders.send_due_reminders(start - timedelta(hours=23, minutes=59)) == 1
    assert reminders.send_due_reminders(start - timedelta(hours=23)) == 0  # not twice
    [first] = _sent(user=rider)
    assert first.priority == Priority.TIMELY and first.activity_id == activity.id
    assert "花卉养护课" in first.body and "职工之家" in first.body
    assert f"/t/{registration.id} " in first.body
    assert f"/t/{registration.id}/x" in first.body  # release my place
    assert reminders.send_due_reminders(start - timedelta(hours=2)) == 1
    assert reminders.send_due_reminders(start - timedelta(hours=1)) == 0
    assert reminders.send_due_reminders(start + timedelta(minutes=1)) == 0
    assert len(_sent(user=rider)) == 2


def test_a_late_sign_up_is_reminded_at_once_and_only_once(make, tree):
    soon = make.activity("夜校", starts_in=timedelta(hours=10))
    very_soon = make.activity("午间讲座", starts_in=timedelta(hours=1), signup_closes_at=now() + timedelta(minutes=30))
    rider = make.user("王骑手")
    register(rider, soon.id)
    register(rider, very_soon.id)
    assert reminders.send_due_reminders() == 2  # one each, though both reminder times have passed for one
    assert sorted(m.activity_id for m in _sent(user=rider)) == sorted([soon.id, very_soon.id])
    assert reminders.send_due_reminders() == 0


def test_slot_bookings_are_reminded_at_their_slots_time(make, tree):
    activity = make.activity("送健康", kind=ActivityKind.HEALTH, capacity=0, starts_in=timedelta(days=2))
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=2), 60, 5)
    db.session.commit()
    early, late = activity.slots
    first, second = make.user("早"), make.user("晚")
    register(first, activity.id, slot_id=early.id, health_consent=True)
    register(second, activity.id, slot_id=late.id, health_consent=True)
    at = early.starts_at - timedelta(hours=24)
    assert reminders.send_due_reminders(at) == 1  # the later slot's 24 h have not come yet
    assert [m.user_id for m in _sent()] == [first.id]
    assert reminders.send_due_reminders(late.starts_at - timedelta(hours=24)) == 1
    assert [m.user_id for m in _sent()] == [first.id, second.id]


def test_no_reminders_for_cancelled_places_or_cancelled_activities(make, organiser, tree):
    kept, dropped = make.activity("保留", starts_in=timedelta(hours=5)), make.activity("取消", starts_in=timedelta(hours=5))
    rider, waiting_list = make.user("王骑手"), make.user("李快递")
    mine = register(rider, kept.id)
    register(rider, dropped.id)
    cancel(mine.id, actor=rider)
    cancel_activity(organiser, dropped.id, reason="场地维修")
    full = make.activity("满员", capacity=1, starts_in=timedelta(hours=5))
    register(make.user("占位"), full.id)
    assert register(waiting_list, full.id).state == S.WAITLISTED
    assert reminders.send_due_reminders() == 1  # only the one holding full's place
    assert [m.activity_id for m in _sent()] == [full.id]


def test_the_organiser_changes_or_switches_off_reminders(make, organiser, tree):
    activity = make.activity("花卉养护课", starts_in=timedelta(days=3))
    rider = make.user("王骑手")
    register(rider, activity.id)
    assert reminders.reminder_hours(activity.id) == (24, 2)
    assert reminders.set_reminder_hours(organiser, activity.id, "2，48, 48") == (48, 2)
    start = activity.starts_at
    assert reminders.send_due_reminders(start - timedelta(hours=47)) == 1
    assert reminders.send_due_reminders(start - timedelta(hours=23)) == 0  # 24 h no longer asked for
    assert reminders.set_reminder_hours(organiser, activity.id, "") == ()
    assert reminders.send_due_reminders(start - timedelta(hours=1)) == 0
    for bad in ("abc", "0", "73", "1,2,3,4", "-2"):
        with pytest.raises(ValidationFailed):
            reminders.set_reminder_hours(organiser, activity.id, bad)


def test_the_reminder_page_for_the_organiser_only(make, organiser, other_organiser, act_as, tree):
    activity = make.activity("花卉养护课")
    client = act_as(organiser)
    page = client.get(f"/manage/activities/{activity.id}/reminders")
    assert page.status_code == 200 and 'value="24, 2"' in page.get_data(as_text=True)
    bad = client.post(f"/manage/activities/{activity.id}/reminders", data={"hours": "一天", "offer_hours": "12"})
    assert bad.status_code == 422 and "whole hours between 1 and 72" in bad.get_data(as_text=True)
    saved = client.post(f"/manage/activities/{activity.id}/reminders", data={"hours": "12", "offer_hours": "12"})
    assert saved.status_code == 302 and reminders.reminder_hours(activity.id) == (12,)
    assert "Reminders saved." in client.get(saved.location).get_data(as_text=True)
    off = client.post(f"/manage/activities/{activity.id}/reminders", data={"hours": "", "offer_hours": "12"},
                      follow_redirects=True)
    assert "Reminders switched off." in off.get_data(as_text=True) and reminders.reminder_hours(activity.id) == ()
    stranger = act_as(other_organiser)
    assert stranger.get(f"/manage/activities/{activity.id}/reminders").status_code in (403, 404)
    assert stranger.post(f"/manage/activities/{activity.id}/reminders", data={"hours": "1"}).status_code in (403, 404)
    assert act_as(make.user("职工")).get(f"/manage/activities/{activity.id}/reminders").status_code == 403
    assert reminders.reminder_hours(activity.id) == ()


def test_a_moved_activity_tells_place_holders_and_reminds_for_the_new_time(make, organiser, tree):
    activity = make.activity("花卉养护课", capacity=1, starts_in=timedelta(hours=20), venue="职工之家")
    rider, waiting = make.user("王骑手"), make.user("李快递")
    register(rider, activity.id)
    register(waiting, activity.id)
    assert reminders.send_due_reminders() == 1
    data = ActivityData.from_activity(activity)
    data.starts_at, data.ends_at = data.starts_at + timedelta(days=2), data.ends_at + timedelta(days=2)
    data.signup_closes_at = data.starts_at - timedelta(hours=2)
    update_activity(organiser, activity.id, data)
    [notice] = _sent("activity.changed")
    assert notice.user_id == rider.id and notice.priority == Priority.TIMELY  # the waiting list is not told
    assert "花卉养护课" in notice.body and "职工之家" in notice.body and "/t/" in notice.body
    new_start = data.starts_at
    assert reminders.send_due_reminders() == 0
    assert reminders.send_due_reminders(new_start - timedelta(hours=24)) == 1  # reminded again, for the new time
    data.venue = "工人文化宫"
    update_activity(organiser, activity.id, data)
    assert "工人文化宫" in _sent("activity.changed")[-1].body
    data.description = "只改了说明"
    update_activity(organiser, activity.id, data)
    assert len(_sent("activity.changed")) == 2  # neither time nor place changed: nobody is told


def test_texts_in_chinese_fit_one_sms(app, make, tree):
    from unionevents.notifications import texts
    with app.test_request_context(headers={"Cookie": "lang=zh_Hans"}):
        subject, body = texts.compose("reminder", "zh_Hans", title="花卉养护课", when="12-09 09:00", venue="",
                                      ticket="/t/1234567", release="/t/1234567/x")
    assert body.startswith("提醒") and len(body) <= 70, body


def test_the_short_links_lead_the_owner_to_the_ticket_and_the_release_page(make, act_as, tree):
    activity = make.activity("花卉养护课")
    rider = make.user("王骑手")
    registration = register(rider, activity.id)
    anonymous = act_as(None)
    assert "/login" in anonymous.get(f"/t/{registration.id}").location
    client = act_as(rider)
    assert client.get(f"/t/{registration.id}").location.endswith(f"/me/registrations/{registration.id}")
    release = client.get(f"/t/{registration.id}/x")
    assert release.location.endswith(f"/me/registrations/{registration.id}/cancel")
    assert client.get(release.location).status_code == 200
    other = act_as(make.user("李快递"))
    assert other.get(f"/t/{registration.id}").status_code == 404
    assert other.get(f"/t/{registration.id}/x").status_code == 404


def test_each_worker_is_reminded_in_their_language(make, tree):
    activity = make.activity("花卉养护课", starts_in=timedelta(hours=5), venue="职工之家")
    chinese, english = make.user("王骑手"), make.user("Li Kuaidi")
    english.locale = "en"
    db.session.commit()
    register(chinese, activity.id)
    register(english, activity.id)
    assert reminders.send_due_reminders() == 2
    [zh] = _sent(user=chinese)
    [en] = _sent(user=english)
    assert zh.body.startswith("提醒：“花卉养护课”") and "地点职工之家" in zh.body and len(zh.body) <= 70
    assert en.body.startswith("Reminder: “花卉养护课”") and ", at 职工之家" in en.body and en.subject == "Reminder"
