"""Door data does not outlive its use on a shared phone, even when nobody logs out.

The door page keeps the roster (names, last four digits) in localStorage with the server's ``keep_until``
(the activity's end plus 12 h).  On every organiser page static/js/logout-guard.js removes rosters past
it (or, for copies saved before ``keep_until`` existed, fetched over 24 h ago); and when the session has
ended on the server, the door page's own requests get the login page back and remove every saved roster.
Neither ever removes a check-in still waiting to be sent."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from unionevents.accounts import services as accounts
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState as S

from tests.browser.pages import log_in
from tests.browser.test_logout_clears_phone import DOOR_KEYS, check_in_offline, door_world, open_door, queued

ENDED = "登录已失效，请重新登录"


def iso(delta: timedelta) -> str:
    """Now + delta in the server's format (UTC, microseconds, "Z")."""
    return (datetime.now(timezone.utc) + delta).replace(tzinfo=None).isoformat() + "Z"


def roster(activity_id: int, **times) -> dict:
    return {"activity_id": activity_id, **times, "rows": [
        {"registration_id": 1, "token_digest": "0" * 64, "name": "王一", "mobile_last4": "1234",
         "state": "confirmed", "state_title": "已确认", "checked_in_at": None}]}


def item(status: str, n: int = 1) -> dict:
    return {"client_id": f"0f8e4a36-59f5-4c5e-9d43-2c1a3f0b7c{n:02d}", "registration_id": n, "name": "王一",
            "at": "2026-11-27T02:00:00Z", "status": status}


def seed(page, values: dict) -> None:
    page.evaluate("(values) => { for (const [k, v] of Object.entries(values)) localStorage.setItem(k, v); }",
                  {key: json.dumps(value) for key, value in values.items()})


def test_an_expired_roster_goes_on_any_page_but_a_waiting_check_in_stays(make, page, browser_errors):
    organiser, _activity, _regs = door_world(make)
    log_in(page, organiser)
    seed(page, {
        # ended long ago; one check-in still waiting: the roster goes, the queue stays
        "door-roster-901": roster(901, fetched_at=iso(-timedelta(days=3)), keep_until=iso(-timedelta(days=2))),
        "door-queue-901": [item("sent", 1), item("pending", 2)],
        # just expired; everything sent: both go
        "door-roster-902": roster(902, fetched_at=iso(-timedelta(hours=20)), keep_until=iso(-timedelta(minutes=1))),
        "door-queue-902": [item("sent", 3), item("conflict", 4)],
        # saved before rosters carried keep_until, fetched 25 h ago: goes
        "door-roster-903": roster(903, fetched_at=iso(-timedelta(hours=25))),
        # a list of sent check-ins whose roster is long gone: goes
        "door-queue-904": [item("sent", 5)],
    })
    page.goto("/account/profile")  # any organiser page, not the door page
    page.wait_for_load_state("load")
    assert page.evaluate(DOOR_KEYS) == ["door-queue-901"]
    assert [i["status"] for i in json.loads(page.evaluate("localStorage.getItem('door-queue-901')"))] \
        == ["sent", "pending"]
    assert not browser_errors, browser_errors


def test_a_roster_still_in_use_is_kept(make, page, browser_errors):
    organiser, activity, _regs = door_world(make, "王一")
    open_door(page, organiser, activity)
    saved = json.loads(page.evaluate(f"localStorage.getItem('door-roster-{activity.id}')"))
    assert saved["keep_until"] == (activity.ends_at + timedelta(hours=12)).isoformat() + "Z"
    seed(page, {
        "door-roster-905": roster(905, fetched_at=iso(-timedelta(hours=1)), keep_until=iso(timedelta(minutes=5))),
        "door-roster-906": roster(906, fetched_at=iso(-timedelta(hours=23))),  # no keep_until, under 24 h
        "door-queue-906": [item("sent", 1)],
    })
    page.goto("/")
    page.wait_for_load_state("load")
    assert page.evaluate(DOOR_KEYS) == sorted([f"door-roster-{activity.id}", "door-roster-905",
                                               "door-roster-906", "door-queue-906"])
    assert not browser_errors, browser_errors


def ended_session_world(make, new_context):
    """On the door page, one check-in made offline; meanwhile the session is ended from another device."""
    organiser, activity, regs = door_world(make, "王一", "李二")
    context = new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_door(page, organiser, activity)
    seed(page, {"door-roster-907": roster(907, fetched_at=iso(-timedelta(hours=1)),
                                          keep_until=iso(timedelta(days=1)))})  # another activity's copy
    check_in_offline(context, page, "王一")
    page.wait_for_selector(".pending-item.pending-pending")
    accounts.end_all_sessions(organiser)  # as "log out everywhere" or a password change does
    return organiser, activity, regs, context, page, errors


def assert_rosters_gone_check_in_kept(page, activity, errors):
    page.wait_for_selector("#offline-door[data-session-ended=true]")
    assert page.evaluate(DOOR_KEYS) == [f"door-queue-{activity.id}"]
    assert [i["status"] for i in queued(page, activity)] == ["pending"]
    assert ENDED in page.locator("[data-offline-status]").inner_text()
    assert page.locator(".pending-item.pending-pending").count() == 1
    assert not errors, errors


def test_when_the_session_has_ended_the_door_page_removes_the_rosters(make, new_context):
    organiser, activity, regs, context, page, errors = ended_session_world(make, new_context)
    context.set_offline(False)  # back online: the sync and the roster fetch get the login page
    assert_rosters_gone_check_in_kept(page, activity, errors)
    db.session.rollback()
    assert db.session.get(Registration, regs["王一"].id).state == S.CONFIRMED

    # Logged in again, the door page sends the waiting check-in.
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    page.wait_for_selector("#offline-door[data-synced=true]")
    assert [i["status"] for i in queued(page, activity)] == ["sent"]
    db.session.rollback()
    assert db.session.get(Registration, regs["王一"].id).state == S.ATTENDED


def test_a_sync_answered_by_the_login_page_is_enough(make, new_context):
    """The roster fetch held back: the sync POST alone finds the session ended."""
    _organiser, activity, _regs, context, page, errors = ended_session_world(make, new_context)
    context.route(re.compile(r"/checkin/roster\.json$"), lambda route: None)  # never answered
    with page.expect_response(re.compile(r"/checkin/sync$")):
        context.set_offline(False)
    assert_rosters_gone_check_in_kept(page, activity, errors)
