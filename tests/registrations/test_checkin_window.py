"""When a ticket may be checked in (issue 14, defect 9): the check-in window, slot tickets, the
organiser's override with a recorded reason, and offline check-ins judged by their recorded time.

One rule (registrations/rules.py, applied by services.check_in) for the door page, the API and the
offline sync.  Defaults: opens 2 h before the start, closes at the end; a slot ticket from 30 min
before its slot until the slot's end.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from unionevents.accounts.models import Occupation
from unionevents.accounts.services import issue_token
from unionevents.activities.models import ActivityKind
from unionevents.activities.services import add_slots
from unionevents.core.audit import AuditLog
from unionevents.core.errors import ValidationFailed
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations import rules, services
from unionevents.registrations.models import Registration, RegistrationState as S

from .organiser_fixtures import (  # noqa: F401 - fixtures
    FENGTAI_STREET, MALL, act_as, add_people, audit_count, organiser, state_of, tree,
)

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, 'test')}"}


def api_check_in(client, user, **body):
    return client.post("/api/v1/checkins", json=body, headers=bearer(user))


def registration(reg_id) -> Registration:
    db.session.expire_all()
    return db.session.get(Registration, reg_id)


@pytest.fixture
def health(make, tree):
    """A health check with two one-hour slots: the activity's first and second hour."""
    activity = make.activity("送健康·骑手体检", kind=ActivityKind.HEALTH, node=FENGTAI_STREET, capacity=0)
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=2), 60, 5)
    db.session.commit()
    return activity


def book(make, activity, slot):
    worker = make.user("体检职工", union=MALL, occupation=Occupation.RIDER)
    return services.register(worker, activity.id, slot_id=slot.id, health_consent=True)


# --------------------------------------------------------------------------- the pure rule

def test_rule_window_of_an_activity_and_of_a_slot():
    start = now().replace(microsecond=0)
    window = rules.checkin_window(start, start + timedelta(hours=2), slot=False,
                                  opens_before=timedelta(hours=2), slot_early=timedelta(minutes=30),
                                  grace=timedelta(0))
    assert (window.opens_at, window.closes_at) == (start - timedelta(hours=2), start + timedelta(hours=2))
    assert rules.checkin_timing(window, start - timedelta(hours=2, seconds=1)) == "not_yet"
    assert rules.checkin_timing(window, start - timedelta(hours=2)) == "open"
    assert rules.checkin_timing(window, start + timedelta(hours=2)) == "open"
    assert rules.checkin_timing(window, start + timedelta(hours=2, seconds=1)) == "ended"
    slot = rules.checkin_window(start, start + timedelta(hours=1), slot=True, opens_before=timedelta(hours=2),
                                slot_early=timedelta(minutes=30), grace=timedelta(minutes=10))
    assert (slot.opens_at, slot.closes_at) == (start - timedelta(minutes=30), start + timedelta(minutes=70))


# --------------------------------------------------------------------------- the API

def test_a_ticket_is_refused_fourteen_days_before_the_event(client, make, organiser, frozen_time):
    activity = make.activity(starts_in=timedelta(days=14))
    (reg,) = add_people(activity, 1)
    response = api_check_in(client, organiser, token=reg.ticket_secret)
    assert response.status_code == 409
    assert response.json["code"] == "checkin_not_open"
    assert "Check-in has not opened yet; it opens at" in response.json["message"]
    assert rules.local_time(activity.starts_at - timedelta(hours=2)) in response.json["message"]
    assert state_of(reg.id) == S.CONFIRMED


def test_the_window_opens_two_hours_before_and_closes_at_the_end(client, make, organiser, frozen_time):
    activity = make.activity()
    early, on_time, late = add_people(activity, 3)
    frozen_time(activity.starts_at - timedelta(hours=2, minutes=1))
    assert api_check_in(client, organiser, token=early.ticket_secret).status_code == 409
    frozen_time(activity.starts_at - timedelta(hours=2))
    assert api_check_in(client, organiser, token=on_time.ticket_secret).status_code == 200
    frozen_time(activity.ends_at + timedelta(minutes=1))
    response = api_check_in(client, organiser, token=late.ticket_secret)
    assert response.status_code == 409 and response.json["code"] == "checkin_closed"
    assert response.json["message"] == "The activity has ended; check-in is closed."
    assert state_of(late.id) == S.CONFIRMED


def test_the_opening_time_is_a_setting(app, client, make, organiser, frozen_time, monkeypatch):
    monkeypatch.setitem(app.config, "CHECKIN_OPENS_BEFORE_MINUTES", 30)
    monkeypatch.setitem(app.config, "CHECKIN_GRACE_AFTER_END_MINUTES", 15)
    activity = make.activity()
    a, b = add_people(activity, 2)
    frozen_time(activity.starts_at - timedelta(minutes=31))
    assert api_check_in(client, organiser, token=a.ticket_secret).status_code == 409
    frozen_time(activity.ends_at + timedelta(minutes=15))
    assert api_check_in(client, organiser, token=b.ticket_secret).status_code == 200


def test_a_slot_ticket_is_accepted_only_around_its_slot(client, make, organiser, health, frozen_time):
    first, second = health.slots
    late_slot = book(make, health, second)
    early_slot = book(make, health, first)
    frozen_time(first.starts_at + timedelta(minutes=10))  # the first slot; the second opens at +30 min
    response = api_check_in(client, organiser, token=late_slot.ticket_secret)
    assert response.status_code == 409 and response.json["code"] == "checkin_not_open"
    # The slots start an hour from now, so late in the evening one ends after local midnight.
    assert f"This ticket is for the {rules.slot_text(second.starts_at, second.ends_at)} slot" \
        in response.json["message"]
    frozen_time(second.starts_at - timedelta(minutes=30))
    assert api_check_in(client, organiser, token=late_slot.ticket_secret).status_code == 200
    frozen_time(first.ends_at + timedelta(minutes=1))
    response = api_check_in(client, organiser, token=early_slot.ticket_secret)
    assert response.status_code == 409 and response.json["code"] == "checkin_closed"
    assert "slot, which has ended" in response.json["message"]


def test_an_override_needs_a_reason_and_is_recorded(client, make, organiser, frozen_time):
    activity = make.activity(starts_in=timedelta(days=1))
    (reg,) = add_people(activity, 1)
    for blank in ("", "   "):
        response = api_check_in(client, organiser, token=reg.ticket_secret, override_reason=blank)
        assert response.status_code == 422 and "override_reason" in response.json["errors"]
    assert state_of(reg.id) == S.CONFIRMED
    response = api_check_in(client, organiser, token=reg.ticket_secret, override_reason="提前到场的志愿者")
    assert response.status_code == 200 and response.json["state"] == "attended"
    assert registration(reg.id).checkin_override_reason == "提前到场的志愿者"
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "registration.check_in",
                                                      AuditLog.object_id == reg.id)).one()
    assert audit.actor_id == organiser.id and audit.data["override"] is True
    assert "志愿者" not in str(audit.data)  # the reason lives on the registration, not in the log
    services.undo_check_in(reg.id, organiser)
    assert registration(reg.id).checkin_override_reason is None


def test_an_override_reason_follows_the_text_rule_on_every_path(make, organiser):
    """The door page and its offline sync hand the reason over raw: the service cleans it itself."""
    activity = make.activity(starts_in=timedelta(days=1))
    first, second = add_people(activity, 2)
    with pytest.raises(ValidationFailed) as refused:
        services.check_in(first.id, organiser, override_reason="志愿者\u202e")
    assert "override_reason" in refused.value.errors
    assert state_of(first.id) == S.CONFIRMED
    services.check_in(second.id, organiser, override_reason="\u200b提前到场的\u200d志愿者")
    assert registration(second.id).checkin_override_reason == "提前到场的志愿者"


def test_account_erasure_removes_the_override_reason(client, make, organiser):
    from unionevents.accounts.privacy import erase_account

    activity = make.activity(starts_in=timedelta(days=1))
    (reg,) = add_people(activity, 1)
    services.check_in(reg.id, organiser, override_reason="工人0000 提前到场")
    erase_account(registration(reg.id).user)
    assert registration(reg.id).checkin_override_reason is None


def test_a_reason_inside_the_window_is_not_an_override(client, make, organiser, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at)
    assert api_check_in(client, organiser, token=reg.ticket_secret, override_reason="无").status_code == 200
    assert registration(reg.id).checkin_override_reason is None


def test_an_offline_check_in_is_judged_by_its_recorded_time(client, make, organiser, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    recorded = activity.starts_at + timedelta(minutes=5)
    frozen_time(activity.ends_at + timedelta(hours=3))  # the phone came back online after the event
    response = api_check_in(client, organiser, token=reg.ticket_secret, client_id=str(uuid.uuid4()),
                            recorded_at=recorded.isoformat() + "Z")
    assert response.status_code == 200, response.json
    assert registration(reg.id).checked_in_at == recorded


def test_a_recorded_time_outside_the_window_or_in_the_future_is_refused(client, make, organiser, frozen_time):
    activity = make.activity()
    a, b = add_people(activity, 2)
    frozen_time(activity.starts_at)
    response = api_check_in(client, organiser, token=a.ticket_secret,
                            recorded_at=(activity.starts_at - timedelta(days=1)).isoformat() + "Z")
    assert response.status_code == 409 and response.json["code"] == "checkin_not_open"
    response = api_check_in(client, organiser, token=b.ticket_secret,
                            recorded_at=(activity.starts_at + timedelta(hours=1)).isoformat() + "Z")
    assert response.status_code == 422 and "recorded_at" in response.json["errors"]
    assert state_of(a.id) == state_of(b.id) == S.CONFIRMED


# --------------------------------------------------------------------------- the door page and the sync

def test_door_page_refuses_outside_the_window_in_chinese_and_offers_an_override(make, organiser, act_as):
    activity = make.activity(starts_in=timedelta(days=14))
    (reg,) = add_people(activity, 1)
    client = act_as(organiser)
    client.delete_cookie("lang")  # Chinese, the default
    url = f"/manage/activities/{activity.id}/checkin/{reg.id}"
    client.post(url, data={"q": "工人"})
    assert state_of(reg.id) == S.CONFIRMED
    page = client.get(f"/manage/activities/{activity.id}/checkin?q=工人").get_data(as_text=True)
    opens = rules.local_time(activity.starts_at - timedelta(hours=2))
    assert f"签到尚未开始，将于 {opens} 开放" in page
    assert 'name="override_reason"' in page
    client.post(url, data={"q": "工人", "override_reason": "  "})
    assert state_of(reg.id) == S.CONFIRMED
    assert "请填写" in client.get(f"/manage/activities/{activity.id}/checkin").get_data(as_text=True)
    client.post(url, data={"q": "工人", "override_reason": "提前领取物资"})
    assert state_of(reg.id) == S.ATTENDED
    assert registration(reg.id).checkin_override_reason == "提前领取物资"


def test_door_ticket_form_takes_an_override_reason(make, organiser, act_as, frozen_time):
    activity = make.activity()
    a, b = add_people(activity, 2)
    frozen_time(activity.ends_at + timedelta(hours=1))
    client = act_as(organiser)
    client.post(f"/manage/activities/{activity.id}/checkin/ticket", data={"token": a.ticket_secret})
    assert state_of(a.id) == S.CONFIRMED
    assert "The activity has ended; check-in is closed." in client.get(
        f"/manage/activities/{activity.id}/checkin").get_data(as_text=True)
    client.post(f"/manage/activities/{activity.id}/checkin/ticket",
                data={"token": b.ticket_secret, "override_reason": "补录纸质签到"})
    assert state_of(b.id) == S.ATTENDED


def test_door_page_inside_the_window_shows_no_override_field(make, organiser, act_as, frozen_time):
    activity = make.activity()
    add_people(activity, 1)
    frozen_time(activity.starts_at)
    page = act_as(organiser).get(f"/manage/activities/{activity.id}/checkin?q=工人").get_data(as_text=True)
    assert 'name="override_reason"' not in page


def test_sync_is_judged_by_the_time_the_phone_recorded(make, organiser, act_as, frozen_time):
    activity = make.activity()
    a, b = add_people(activity, 2)
    frozen_time(activity.ends_at + timedelta(hours=2))
    client = act_as(organiser)
    url = f"/manage/activities/{activity.id}/checkin/sync"
    recorded = activity.starts_at + timedelta(minutes=3)
    ok = client.post(url, json={"client_id": str(uuid.uuid4()), "registration_id": a.id,
                                "recorded_at": recorded.isoformat() + "Z"})
    assert ok.status_code == 200, ok.json
    assert registration(a.id).checked_in_at == recorded
    late = client.post(url, json={"client_id": str(uuid.uuid4()), "registration_id": b.id})
    assert late.status_code == 409
    assert late.json["message"] == "The activity has ended; check-in is closed."
    assert state_of(b.id) == S.CONFIRMED


def test_roster_bulk_attended_after_the_event_records_the_sign_in_sheet(make, organiser, act_as,
                                                                       frozen_time):
    """The roster's "attended" is how organisers copy a paper sign-in sheet after the event: it is
    refused before check-in opens, but not after the end."""
    activity = make.activity()
    a, b = add_people(activity, 2)
    result = services.bulk_apply(activity.id, [a.id], "attended", organiser)
    assert result.done == 0 and "has not opened yet" in result.refused[0][2]
    frozen_time(activity.ends_at + timedelta(days=1))
    assert services.bulk_apply(activity.id, [a.id, b.id], "attended", organiser).done == 2
    assert audit_count("registration.check_in", a.id) == 1


def test_sync_carries_the_override_reason_of_the_check_in_anyway_form(make, organiser, act_as, frozen_time):
    activity = make.activity()
    a, b = add_people(activity, 2)
    frozen_time(activity.ends_at + timedelta(hours=2))
    client = act_as(organiser)
    url = f"/manage/activities/{activity.id}/checkin/sync"
    blank = client.post(url, json={"client_id": str(uuid.uuid4()), "registration_id": a.id,
                                   "override_reason": " "})
    assert blank.status_code == 422 and "reason" in blank.json["message"]
    ok = client.post(url, json={"client_id": str(uuid.uuid4()), "registration_id": b.id,
                                "override_reason": "补录"})
    assert ok.status_code == 200, ok.json
    assert registration(b.id).checkin_override_reason == "补录"
    assert state_of(a.id) == S.CONFIRMED


def test_a_slot_text_names_the_end_date_only_past_midnight():
    # Naive UTC; Beijing is UTC+8.
    assert rules.slot_text(datetime(2026, 12, 20, 1, 0), datetime(2026, 12, 20, 2, 0)) == "2026-12-20 09:00–10:00"
    assert rules.slot_text(datetime(2026, 12, 17, 15, 48), datetime(2026, 12, 17, 16, 48)) == \
        "2026-12-17 23:48–2026-12-18 00:48"
