"""The door check-in page on a phone whose network drops: three people checked in offline from the
cached roster, sent when the network returns — exactly three attended, a replay changes nothing, and a
check-in the server refuses is reported on the page."""
from __future__ import annotations

import re

from unionevents.accounts.models import Role
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

from tests.browser.conftest import SCREENSHOT_DIR
from tests.browser.pages import AXE_JS, door_open_now, log_in


def states(activity_id):
    db.session.rollback()
    return {r.user.name: r.state for r in db.session.query(Registration).filter_by(activity_id=activity_id)}


def test_check_in_offline_then_sync(make, page, browser_errors):
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    activity = make.activity("花卉养护课", capacity=10, **door_open_now())
    names = ["王一", "李二", "张三", "刘四", "陈五"]
    regs = {name: services.register(make.user(name, union="玉泉营商场工会"), activity.id) for name in names}

    context = page.context  # browser_errors listens to this page: CSP violations here fail the test
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    page.wait_for_selector("#offline-door[data-roster-ready=true]")

    context.set_offline(True)
    page.wait_for_selector("#offline-door.is-offline")
    # Meanwhile, at the office, 陈五's registration is cancelled.
    services.cancel(regs["陈五"].id, organiser)
    for name in ("王一", "张三", "陈五"):
        page.fill("#q", name)
        page.locator("form[data-door-search] button[type=submit]").click()
        card = page.locator("[data-offline-results] .door-card", has_text=name)
        card.get_by_role("button").click()
    # the search for a person checked in a moment ago shows it, without a second button
    page.fill("#q", "王一")
    page.locator("form[data-door-search] button[type=submit]").click()
    assert page.locator("[data-offline-results] .door-card button").count() == 0
    # last four digits work too
    page.fill("#q", regs["刘四"].user.mobile[-4:])
    page.locator("form[data-door-search] button[type=submit]").click()
    page.locator("[data-offline-results] .door-card", has_text="刘四").get_by_role("button").click()

    assert page.locator(".pending-item.pending-pending").count() == 4
    assert re.findall(r"\d+", page.locator(".door-count").inner_text()) == ["4", "5"]  # counted on the phone
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "phone-checkin-offline.png"), full_page=True)
    assert all(s != S.ATTENDED for s in states(activity.id).values()), "nothing reached the server offline"

    context.set_offline(False)
    page.wait_for_selector("#offline-door[data-synced=true]")
    assert page.locator(".pending-item.pending-sent").count() == 3
    assert re.findall(r"\d+", page.locator(".door-count").inner_text()) == ["3", "4"]  # the server's, once synced
    conflict = page.locator(".pending-item.pending-conflict")
    assert conflict.count() == 1 and "陈五" in conflict.inner_text()
    page.screenshot(path=str(SCREENSHOT_DIR / "phone-checkin-synced.png"), full_page=True)

    after = states(activity.id)
    assert {n for n, s in after.items() if s == S.ATTENDED} == {"王一", "张三", "刘四"}
    assert after["陈五"] == S.CANCELLED and after["李二"] == S.CONFIRMED

    # A replay of everything the phone sent (a lost answer, a double tap) is still three check-ins.
    queue = page.evaluate(f"JSON.parse(localStorage.getItem('door-queue-{activity.id}'))")
    csrf = page.get_attribute("#offline-door", "data-csrf")
    for item in queue:
        status = page.evaluate(
            """([url, csrf, item]) => fetch(url, {method: "POST", headers: {"Content-Type": "application/json",
                 "X-CSRFToken": csrf}, body: JSON.stringify({client_id: item.client_id,
                 registration_id: item.registration_id})}).then(r => r.status)""",
            [f"/manage/activities/{activity.id}/checkin/sync", csrf, item])
        assert status in (200, 409)
    again = states(activity.id)
    assert again == after
    attended = db.session.query(Registration).filter_by(activity_id=activity.id, state=S.ATTENDED).count()
    assert attended == 3
    # The service worker keeps the page: reloaded with no network, it still opens, with its list.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()  # (online) lets the worker store the page
    page.wait_for_selector("#offline-door[data-roster-ready=true]")
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#offline-door.is-offline")
    assert page.locator(".pending-item").count() == 4
    assert not [e for e in browser_errors if "Content Security Policy" in e or "Refused" in e]


def test_ticket_code_typed_offline_is_found_by_its_digest(make, new_context):
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    activity = make.activity("花卉养护课", capacity=10, **door_open_now())
    reg = services.register(make.user("王一", union="玉泉营商场工会"), activity.id)
    context = new_context(bypass_csp=True)
    page = context.new_page()
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    page.wait_for_selector("#offline-door[data-roster-ready=true]")
    roster = page.evaluate(f"localStorage.getItem('door-roster-{activity.id}')")
    assert reg.ticket_secret not in roster and reg.user.mobile not in roster  # digests and last four only
    context.set_offline(True)
    page.wait_for_selector("#offline-door.is-offline")
    page.fill("#ticket-form input[name=token]", reg.ticket_secret)
    page.locator("#ticket-form [type=submit]").click()
    page.wait_for_selector(".pending-item.pending-pending")
    # the offline state of the page passes the accessibility audit too
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("axe.run()")
    assert not [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
    context.set_offline(False)
    page.wait_for_selector("#offline-door[data-synced=true]")
    db.session.rollback()
    assert db.session.get(Registration, reg.id).state == S.ATTENDED


def test_checkin_page_without_javascript_is_the_plain_form(make, new_context):
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    activity = make.activity("花卉养护课", capacity=10, **door_open_now())
    reg = services.register(make.user("王一", union="玉泉营商场工会"), activity.id)
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    assert not page.locator("#offline-door").is_visible()
    page.fill("#q", "王一")
    page.locator("form[data-door-search] button[type=submit]").click()
    page.locator(".door-card", has_text="王一").get_by_role("button").click()
    page.wait_for_url(re.compile(r"/checkin\?q="))
    db.session.rollback()
    assert db.session.get(Registration, reg.id).state == S.ATTENDED


def test_online_the_door_count_is_the_servers_until_the_page_has_its_own_roster(make, page, browser_errors):
    """A roster saved before a check-in must not turn the page's fresh "1 of 1" back into "0 of 1"."""
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    activity = make.activity("花卉养护课", capacity=10, **door_open_now())
    registration = services.register(make.user("王一", union="玉泉营商场工会"), activity.id)
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    page.wait_for_selector("#offline-door[data-roster-ready=true]")  # saved: 王一 not yet checked in

    services.check_in(registration.id, organiser)  # e.g. by the ticket form, or a second phone
    page.context.route(re.compile(r"/checkin/roster\.json$"), lambda route: None)  # the new copy never comes
    page.reload()
    page.wait_for_selector("#offline-door:not([hidden])")  # the script has run and shown its status
    assert re.findall(r"\d+", page.locator(".door-count").inner_text()) == ["1", "1"]
    assert not browser_errors, browser_errors


def test_offline_check_ins_are_judged_by_the_time_they_were_made(make, page, frozen_time):
    """Issue 14, defect 9: a check-in made at the door inside the check-in window is accepted even if the
    phone syncs it after the event has ended (the page sends the time it was made); one made before
    check-in opens is refused and the queue shows the server's Chinese message."""
    from datetime import timedelta

    from unionevents.core.timeutil import now

    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    today = make.activity("花卉养护课", capacity=10, **door_open_now())
    tomorrow = make.activity("插花课", capacity=10, starts_in=timedelta(days=1))
    on_time = services.register(make.user("王一", union="玉泉营商场工会"), today.id)
    too_early = services.register(make.user("李二", union="玉泉营商场工会"), tomorrow.id)
    log_in(page, organiser)
    for activity, name in ((today, "王一"), (tomorrow, "李二")):
        page.goto(f"/manage/activities/{activity.id}/checkin")
        page.wait_for_selector("#offline-door[data-roster-ready=true]")
        page.context.set_offline(True)
        page.wait_for_selector("#offline-door.is-offline")
        page.fill("#q", name)
        page.locator("form[data-door-search] button[type=submit]").click()
        page.locator("[data-offline-results] .door-card", has_text=name).get_by_role("button").click()
        page.wait_for_selector(".pending-item.pending-pending")
        if activity is today:
            frozen_time(today.ends_at + timedelta(hours=1))  # the network comes back after the end
        page.context.set_offline(False)
        page.wait_for_selector("#offline-door[data-synced=true]")
    conflict = page.locator(".pending-item.pending-conflict")
    assert conflict.count() == 1 and "签到尚未开始" in conflict.inner_text()
    db.session.rollback()
    assert db.session.get(Registration, on_time.id).state == S.ATTENDED
    assert db.session.get(Registration, on_time.id).checked_in_at < today.ends_at < now()
    assert db.session.get(Registration, too_early.id).state == S.CONFIRMED


def test_check_in_anyway_offline_keeps_the_reason(make, page):
    """Outside the check-in time the door page offers "check in anyway" with a reason; made offline, the
    reason travels with the check-in when the network returns."""
    from datetime import timedelta

    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    tomorrow = make.activity("插花课", capacity=10, starts_in=timedelta(days=1))
    reg = services.register(make.user("李二", union="玉泉营商场工会"), tomorrow.id)
    log_in(page, organiser)
    page.goto(f"/manage/activities/{tomorrow.id}/checkin?q=李二")
    page.wait_for_selector("#offline-door[data-roster-ready=true]")
    assert "签到尚未开始" in page.locator(".door-card", has_text="李二").inner_text()
    page.context.set_offline(True)
    page.wait_for_selector("#offline-door.is-offline")
    page.fill(f"#override-{reg.id}", "提前布置会场")
    page.locator(".door-card", has_text="李二").get_by_role("button").click()
    page.wait_for_selector(".pending-item.pending-pending")
    page.context.set_offline(False)
    page.wait_for_selector("#offline-door[data-synced=true]")
    assert page.locator(".pending-item.pending-sent").count() == 1
    db.session.rollback()
    checked_in = db.session.get(Registration, reg.id)
    assert checked_in.state == S.ATTENDED and checked_in.checkin_override_reason == "提前布置会场"
