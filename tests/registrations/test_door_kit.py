"""The door kit (issue 19 item 6): one verdict per scanned or typed ticket, undo within ten minutes by
someone with door rights only, and a walk-in admitted to a full activity only on a recorded override
that keeps the capacity counters exact."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from unionevents.accounts.models import User
from unionevents.accounts.services import issue_token
from unionevents.activities.models import Activity, SignupMode, TimeSlot, UnitQuota
from unionevents.activities.services import add_slots, set_unit_quota
from unionevents.core.audit import AuditLog
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import PLACE_STATES, Registration, RegistrationState as S

from .organiser_fixtures import (  # noqa: F401 - fixtures
    MALL, act_as, add_people, audit_count, fresh, organiser, other_organiser, state_of, tree,
)

pytestmark = pytest.mark.usefixtures("english")


def scan(client, activity, ticket, **extra):
    return client.post(f"/manage/activities/{activity.id}/checkin/scan", json={"ticket": ticket, **extra})


def counters_exact(activity_id: int) -> tuple[int, int]:
    fresh()
    activity = db.session.get(Activity, activity_id)
    holders = db.session.scalar(select(func.count(Registration.id)).where(
        Registration.activity_id == activity_id, Registration.state.in_(PLACE_STATES)))
    assert activity.taken == holders, "the counter equals the places held"
    assert activity.taken <= activity.capacity
    return activity.taken, activity.capacity


# --------------------------------------------------------------------------- verdicts

def test_scan_verdicts_green_amber_red(make, organiser, act_as, frozen_time):
    activity, other = make.activity("门口的活动"), make.activity("别的活动")
    worker, late = make.user("王一"), make.user("李二")
    reg = services.register(worker, activity.id)
    cancelled = services.register(late, activity.id)
    services.cancel(cancelled.id, organiser)
    (elsewhere,) = add_people(other, 1)
    db.session.commit()
    frozen_time(activity.starts_at)
    client = act_as(organiser)

    first = scan(client, activity, reg.ticket_secret)
    assert first.status_code == 200
    assert first.json["outcome"] == "admitted" and first.json["name"] == "王一"
    assert first.json["checked_in"] == 1 and first.json["expected"] == 1
    assert first.json["undo_url"].endswith(f"/checkin/{reg.id}/undo")
    again = scan(client, activity, reg.ticket_code.lower())  # the short code, typed in lower case
    assert again.json["outcome"] == "already" and again.json["name"] == "王一"
    refused = scan(client, activity, cancelled.ticket_secret)
    assert refused.json["outcome"] == "refused" and refused.json["name"] == "李二"
    assert "cancelled" in refused.json["message"]
    foreign = scan(client, activity, elsewhere.ticket_secret)
    assert foreign.json["outcome"] == "refused" and foreign.json["name"] == ""  # not this door's person
    assert "another activity" in foreign.json["message"]
    unknown = scan(client, activity, "ZZZZ ZZZZ")
    assert unknown.json["outcome"] == "refused" and "not known" in unknown.json["message"]
    assert scan(client, activity, "").status_code == 422
    assert state_of(reg.id) == S.ATTENDED and audit_count("registration.check_in", reg.id) == 1


def test_scan_outside_the_window_is_red_and_changes_nothing(make, organiser, act_as):
    activity = make.activity()  # ten days ahead: check-in not open
    reg = services.register(make.user("王一"), activity.id)
    answer = scan(act_as(organiser), activity, reg.ticket_secret)
    assert answer.json["outcome"] == "refused" and answer.json["code"] == "checkin_not_open"
    assert state_of(reg.id) == S.CONFIRMED


def test_scan_needs_door_rights(make, other_organiser, act_as, frozen_time):
    activity = make.activity()
    reg = services.register(make.user("王一"), activity.id)
    frozen_time(activity.starts_at)
    assert scan(act_as(other_organiser), activity, reg.ticket_secret).status_code in (403, 404)
    assert state_of(reg.id) == S.CONFIRMED


# --------------------------------------------------------------------------- undo

def test_undo_within_ten_minutes_then_not_after(make, organiser, act_as, frozen_time):
    activity = make.activity()
    first, second = (services.register(make.user(n), activity.id) for n in ("王一", "李二"))
    frozen_time(activity.starts_at)
    client = act_as(organiser)
    scan(client, activity, first.ticket_secret)
    scan(client, activity, second.ticket_secret)
    door = client.get(f"/manage/activities/{activity.id}/checkin").get_data(as_text=True)
    assert "Last check-ins" in door and door.count("/undo") >= 2  # both listed with an undo button

    frozen_time(activity.starts_at + timedelta(minutes=9))
    response = client.post(f"/manage/activities/{activity.id}/checkin/{first.id}/undo")
    assert response.status_code == 302 and state_of(first.id) == S.CONFIRMED
    undo = db.session.scalar(select(AuditLog).where(AuditLog.action == "registration.undo_check_in"))
    assert undo.actor_id == organiser.id and undo.at == activity.starts_at + timedelta(minutes=9)

    frozen_time(activity.starts_at + timedelta(minutes=11))
    client.post(f"/manage/activities/{activity.id}/checkin/{second.id}/undo")
    assert state_of(second.id) == S.ATTENDED
    page = client.get(f"/manage/activities/{activity.id}/checkin").get_data(as_text=True)
    assert "only within 10 minutes" in page
    with pytest.raises(services.UndoTooLate):
        services.undo_door_check_in(activity.id, second.id, organiser)


def test_undo_is_refused_without_door_rights(make, organiser, other_organiser, act_as, frozen_time):
    activity = make.activity()
    reg = services.register(make.user("王一"), activity.id)
    frozen_time(activity.starts_at)
    services.check_in(reg.id, organiser)
    with pytest.raises(services.NotAllowed):
        services.undo_door_check_in(activity.id, reg.id, other_organiser)
    response = act_as(other_organiser).post(f"/manage/activities/{activity.id}/checkin/{reg.id}/undo")
    assert response.status_code in (403, 404)
    assert state_of(reg.id) == S.ATTENDED


def test_undo_through_the_api(client, make, organiser, other_organiser, frozen_time):
    activity = make.activity()
    reg = services.register(make.user("王一"), activity.id)
    frozen_time(activity.starts_at)
    services.check_in(reg.id, organiser)
    url = f"/api/v1/activities/{activity.id}/checkins/{reg.id}"
    stranger = client.delete(url, headers={"Authorization": f"Bearer {issue_token(other_organiser, 't')}"})
    assert stranger.status_code == 403 and state_of(reg.id) == S.ATTENDED
    headers = {"Authorization": f"Bearer {issue_token(organiser, 't')}"}
    answer = client.delete(url, headers=headers)
    assert answer.status_code == 200 and answer.json["state"] == "confirmed"
    assert state_of(reg.id) == S.CONFIRMED and audit_count("registration.undo_check_in", reg.id) == 1
    services.check_in(reg.id, organiser)
    frozen_time(activity.starts_at + timedelta(minutes=30))
    late = client.delete(url, headers=headers)
    assert late.status_code == 409 and late.json["code"] == "undo_too_late"
    assert client.delete(f"/api/v1/activities/{activity.id}/checkins/999999", headers=headers).status_code == 404


# --------------------------------------------------------------------------- walk-in on a full activity

def walk_in(client, activity, **data):
    return client.post(f"/manage/activities/{activity.id}/walk-in", data=data)


def test_full_without_waiting_list_needs_an_override(make, organiser, act_as, frozen_time):
    activity = make.activity(capacity=1, waitlist_enabled=False)
    add_people(activity, 1)
    db.session.commit()
    frozen_time(activity.starts_at)
    client = act_as(organiser)
    refused = walk_in(client, activity, mobile="13700004444", name="钱七", check_in_now="y")
    assert refused.status_code == 422
    assert "Admit over capacity" in refused.get_data(as_text=True) and "is full" in refused.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.mobile == "13700004444")) is None  # nothing left behind
    assert counters_exact(activity.id) == (1, 1)

    admitted = walk_in(client, activity, mobile="13700004444", name="钱七", check_in_now="y",
                       full_override_reason="区总工会特批")
    assert admitted.status_code == 302
    reg = db.session.scalar(select(Registration).join(User, User.id == Registration.user_id).where(User.mobile == "13700004444"))
    assert reg.state == S.ATTENDED
    assert counters_exact(activity.id) == (2, 2)
    override = db.session.scalar(select(AuditLog).where(AuditLog.action == "activity.capacity_override"))
    assert override.actor_id == organiser.id and override.data["reason"] == "区总工会特批"


def test_full_with_waiting_list_override_promotes_and_checks_in(make, organiser, act_as, frozen_time):
    activity = make.activity(capacity=1)
    add_people(activity, 1)
    db.session.commit()
    frozen_time(activity.starts_at)
    client = act_as(organiser)
    walk_in(client, activity, mobile="13700005555", name="孙八", check_in_now="y")
    reg = db.session.scalar(select(Registration).join(User, User.id == Registration.user_id).where(User.mobile == "13700005555"))
    assert reg.state == S.WAITLISTED
    assert "Admit over capacity" in client.get(f"/manage/activities/{activity.id}/checkin").get_data(as_text=True)

    walk_in(client, activity, mobile="13700005555", check_in_now="y", full_override_reason="   ")  # blank: none
    assert state_of(reg.id) == S.WAITLISTED
    walk_in(client, activity, mobile="13700005555", check_in_now="y", full_override_reason="讲师家属")
    assert state_of(reg.id) == S.ATTENDED
    assert counters_exact(activity.id) == (2, 2)
    assert audit_count("activity.capacity_override", activity.id) == 1
    promoted = db.session.scalar(select(AuditLog).where(AuditLog.action == "registration.promote",
                                                        AuditLog.object_id == reg.id))
    assert promoted.actor_id == organiser.id and promoted.data["override"] == "capacity"


def test_override_reason_too_long_is_a_field_error(make, organiser, act_as):
    activity = make.activity(capacity=1, waitlist_enabled=False)
    add_people(activity, 1)
    db.session.commit()
    response = walk_in(act_as(organiser), activity, mobile="13700006666", name="周九",
                       full_override_reason="x" * 201)
    assert response.status_code == 422
    assert counters_exact(activity.id) == (1, 1)


# --------------------------------------------------------------------------- review fixes

def slot_counters(slot_id: int) -> tuple[int, int]:
    fresh()
    slot = db.session.get(TimeSlot, slot_id)
    return slot.taken, slot.capacity


@pytest.mark.parametrize("waitlist", [False, True])
def test_override_into_a_full_slot_takes_no_place_from_the_others(make, organiser, waitlist):
    activity = make.activity(capacity=0, waitlist_enabled=waitlist)
    full, empty = add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, 2)
    db.session.commit()
    for name in ("甲一", "甲二"):
        assert services.register(make.user(name), activity.id, slot_id=full.id).state == S.CONFIRMED
    result = services.walk_in(activity.id, mobile="13700007777", name="吴十", actor=organiser, slot_id=full.id,
                              full_override_reason="讲师家属")
    assert result.registration.state == S.CONFIRMED and result.registration.slot_id == full.id
    assert slot_counters(full.id) == (3, 3)
    for name in ("乙一", "乙二"):  # the other slot still has both its places
        assert services.register(make.user(name), activity.id, slot_id=empty.id).state == S.CONFIRMED
    assert slot_counters(empty.id) == (2, 2)
    assert counters_exact(activity.id) == (5, 5)


@pytest.mark.parametrize("waitlist", [False, True])
def test_override_on_an_approval_activity_admits_the_walk_in(make, organiser, waitlist):
    activity = make.activity(capacity=1, mode=SignupMode.APPROVAL, waitlist_enabled=waitlist)
    add_people(activity, 1)
    result = services.walk_in(activity.id, mobile="13700008888", name="郑十一", actor=organiser,
                              full_override_reason="区总工会特批")
    assert result.registration.state == S.CONFIRMED and result.over_capacity
    assert counters_exact(activity.id) == (2, 2)
    assert audit_count("activity.capacity_override", activity.id) == 1


def test_override_when_only_the_unit_quota_is_full(make, tree, organiser):
    activity = make.activity("劳模报告会", capacity=10, mode=SignupMode.QUOTA, waitlist_enabled=False)
    set_unit_quota(activity, tree[MALL], 1)
    db.session.commit()
    services.register(make.user("商场职工", union=MALL), activity.id)
    worker = make.user("商场新人", union=MALL, mobile="13700009999")
    with pytest.raises(services.ActivityFull):
        services.walk_in(activity.id, mobile=worker.mobile, name=None, actor=organiser)
    result = services.walk_in(activity.id, mobile=worker.mobile, name=None, actor=organiser,
                              full_override_reason="区总工会特批")
    assert result.registration.state == S.CONFIRMED
    assert counters_exact(activity.id) == (2, 10)
    fresh()
    quota = db.session.scalar(select(UnitQuota).where(UnitQuota.activity_id == activity.id))
    assert (quota.used, quota.quota) == (2, 2)
    assert audit_count("activity.capacity_override", activity.id) == 1


def test_search_list_undoes_an_old_check_in_but_the_api_does_not(make, organiser, act_as, frozen_time):
    activity = make.activity()
    reg = services.register(make.user("王一"), activity.id)
    frozen_time(activity.starts_at)
    services.check_in(reg.id, organiser)
    frozen_time(activity.starts_at + timedelta(minutes=30))
    client = act_as(organiser)
    with pytest.raises(services.UndoTooLate) as late:
        services.undo_door_check_in(activity.id, reg.id, organiser)
    assert "roster" not in str(late.value.message) and "by name" in str(late.value.message)
    api = client.delete(f"/api/v1/activities/{activity.id}/checkins/{reg.id}",
                        headers={"Authorization": f"Bearer {issue_token(organiser, 't')}"})
    assert api.status_code == 409 and state_of(reg.id) == S.ATTENDED
    client.post(f"/manage/activities/{activity.id}/checkin/{reg.id}/undo")  # the 最近签到 list: too late
    assert state_of(reg.id) == S.ATTENDED
    search = client.get(f"/manage/activities/{activity.id}/checkin?q=王一").get_data(as_text=True)
    assert 'name="from" value="search"' in search
    response = client.post(f"/manage/activities/{activity.id}/checkin/{reg.id}/undo", data={"q": "王一", "from": "search"})
    assert response.status_code == 302 and state_of(reg.id) == S.CONFIRMED
    assert audit_count("registration.undo_check_in", reg.id) == 1


def test_refused_override_reason_or_full_slot_leaves_no_account(make, organiser):
    activity = make.activity(capacity=1, waitlist_enabled=False)
    add_people(activity, 1)
    with pytest.raises(services.ValidationFailed):
        services.walk_in(activity.id, mobile="13700001212", name="冯十二", actor=organiser,
                         full_override_reason="x" * 201)
    assert db.session.scalar(select(User).where(User.mobile == "13700001212")) is None
    slotted = make.activity("分场活动", capacity=0, waitlist_enabled=False)
    full, _free = add_slots(slotted, slotted.starts_at, slotted.starts_at + timedelta(hours=1), 30, 1)
    db.session.commit()
    services.register(make.user("甲一"), slotted.id, slot_id=full.id)
    with pytest.raises(services.ActivityFull):
        services.walk_in(slotted.id, mobile="13700001313", name="陈十三", actor=organiser, slot_id=full.id)
    assert db.session.scalar(select(User).where(User.mobile == "13700001313")) is None
