"""Logging out of a phone used at the door leaves no names on it, and loses no check-in.

The door page keeps the roster (names, last four digits) and the offline check-ins in localStorage and
registers a service worker.  Logging out clears them twice over: the answer carries Clear-Site-Data
(honoured by Chromium on http://127.0.0.1, a secure context) and static/js/logout-guard.js removes the
door keys itself for browsers that ignore the header — each is tested alone below.  A check-in still
waiting to be sent stops the logout instead, until it is sent or explicitly discarded."""
from __future__ import annotations

import re

from unionevents.accounts.models import Role
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

from tests.browser.conftest import SCREENSHOT_DIR
from tests.browser.pages import AXE_JS, door_open_now, log_in

LOGOUT = 'form[action="/account/logout"] button'
DOOR_KEYS = "Object.keys(localStorage).filter(k => k.startsWith('door-')).sort()"
SERVICE_WORKERS = "navigator.serviceWorker.getRegistrations().then(r => r.length)"
CACHES = "caches.keys()"


def door_world(make, *names):
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    activity = make.activity("花卉养护课", capacity=10, **door_open_now())
    regs = {name: services.register(make.user(name, union="玉泉营商场工会"), activity.id) for name in names}
    return organiser, activity, regs


def open_door(page, organiser, activity):
    """Log in and open the door page until its roster is on the phone and its service worker runs."""
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    page.wait_for_selector("#offline-door[data-roster-ready=true]")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    assert page.evaluate(DOOR_KEYS) == [f"door-roster-{activity.id}"]
    assert page.evaluate(SERVICE_WORKERS) == 1


def check_in_offline(context, page, name):
    context.set_offline(True)
    page.wait_for_selector("#offline-door.is-offline")
    page.fill("#q", name)
    page.locator("form[data-door-search] button[type=submit]").click()
    page.locator("[data-offline-results] .door-card", has_text=name).get_by_role("button").click()


def assert_logged_out_and_cleared(page):
    page.wait_for_selector('a[href="/account/login"]')
    assert page.locator('form[action="/account/logout"]').count() == 0
    assert page.evaluate(DOOR_KEYS) == []
    assert page.evaluate(SERVICE_WORKERS) == 0
    assert page.evaluate(CACHES) == []


def queued(page, activity):
    return page.evaluate(f"JSON.parse(localStorage.getItem('door-queue-{activity.id}'))") or []


def test_logout_after_a_shift_clears_the_roster_from_the_phone(make, new_context):
    organiser, activity, _regs = door_world(make, "王一", "李二")
    context = new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_door(page, organiser, activity)
    # One check-in made offline and sent once the network is back: sent, so nothing holds the logout.
    check_in_offline(context, page, "王一")
    context.set_offline(False)
    page.wait_for_selector("#offline-door[data-synced=true]")
    assert [item["status"] for item in queued(page, activity)] == ["sent"]
    assert page.evaluate(DOOR_KEYS) == [f"door-queue-{activity.id}", f"door-roster-{activity.id}"]

    page.locator(LOGOUT).click()
    assert_logged_out_and_cleared(page)
    assert page.locator("#logout-guard").count() == 0
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


def test_the_clear_site_data_header_alone_clears_the_phone(make, new_context):
    """For a browser where the script does not run: the logout answer's header does the clearing."""
    organiser, activity, _regs = door_world(make, "王一")
    context = new_context()
    blocked = []
    context.route(re.compile(r"/static/js/logout-guard\.js"),
                  lambda route: (blocked.append(route.request.url), route.abort()))
    page = context.new_page()
    open_door(page, organiser, activity)
    page.goto("/")  # a page outside the service worker's scope, so the blocked script really is missing
    page.locator(LOGOUT).click()
    assert_logged_out_and_cleared(page)
    assert blocked, "the guard script was not blocked: this test would not test the header alone"


def test_the_script_alone_clears_the_door_data(make, new_context):
    """For a browser that ignores Clear-Site-Data (plain HTTP on a LAN address, older Safari): the
    logout form's script removes the door keys, the page cache and the service worker itself."""
    organiser, activity, _regs = door_world(make, "王一")
    context = new_context()
    stripped = []

    def without_header(route):
        response = route.fetch(max_redirects=0)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "clear-site-data"}
        stripped.append(len(headers) < len(response.headers))
        route.fulfill(response=response, headers=headers)

    context.route(re.compile(r"/account/logout$"), without_header)
    page = context.new_page()
    open_door(page, organiser, activity)
    page.locator(LOGOUT).click()
    assert_logged_out_and_cleared(page)
    assert stripped == [True], "the logout answer did not go through the route that strips the header"


def test_a_check_in_waiting_to_be_sent_stops_the_logout_until_discarded(make, new_context):
    organiser, activity, regs = door_world(make, "王一", "李二")
    context = new_context(bypass_csp=True)  # for axe-core on the warning
    page = context.new_page()
    open_door(page, organiser, activity)
    check_in_offline(context, page, "王一")
    page.wait_for_selector(".pending-item.pending-pending")

    # Offline: the logout is stopped; the warning counts the waiting check-in and links to the door page.
    # No "discard" here: logging out needs the network anyway.
    page.locator(LOGOUT).click()
    warning = page.locator("#logout-guard")
    warning.wait_for()
    text = warning.inner_text()
    assert "1 条签到记录未同步" in text and "请连接网络" in text, text
    assert warning.get_by_role("link", name="打开现场签到页面").get_attribute("href") == \
        f"/manage/activities/{activity.id}/checkin"
    assert warning.locator("[data-logout-discard]").count() == 0
    assert page.evaluate("document.activeElement.id") == "logout-guard"
    assert [item["status"] for item in queued(page, activity)] == ["pending"]
    assert page.url.endswith(f"/manage/activities/{activity.id}/checkin")
    assert page.locator('form[action="/account/logout"]').count() == 1

    # Back online, but the server cannot be reached for the sync: the check-in is still waiting.
    page.route(re.compile(r"/checkin/sync$"), lambda route: route.abort())
    with page.expect_request(re.compile(r"/checkin/sync$")):
        context.set_offline(False)
    page.wait_for_function("navigator.onLine")
    page.locator(LOGOUT).click()
    warning.locator("[data-logout-discard]").wait_for()
    text = warning.inner_text()
    assert "1 条签到记录未同步" in text and "这些记录将会丢失" in text, text
    assert [item["status"] for item in queued(page, activity)] == ["pending"]
    assert page.locator('form[action="/account/logout"]').count() == 1
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "phone-logout-waiting.png"), full_page=True)
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("axe.run()")
    assert not [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]

    # The organiser chooses to discard it: logged out, and nothing of the door is left on the phone.
    warning.get_by_role("button", name="仍然退出登录，丢弃这些记录").click()
    assert_logged_out_and_cleared(page)
    db.session.rollback()
    assert db.session.get(Registration, regs["王一"].id).state == S.CONFIRMED  # discarded, as chosen


def test_a_waiting_check_in_on_another_page_also_stops_the_logout(make, new_context):
    """The lists are per phone, not per page: seeded directly, two waiting check-ins of one activity."""
    organiser, activity, regs = door_world(make, "王一", "李二")
    page = new_context().new_page()
    log_in(page, organiser)
    page.goto("/account/profile")
    at = now().isoformat(timespec="seconds") + "Z"  # made at the door a moment ago (check-in is open)
    page.evaluate("""([key, items]) => localStorage.setItem(key, JSON.stringify(items))""",
                  [f"door-queue-{activity.id}", [
                      {"client_id": "0f8e4a36-59f5-4c5e-9d43-2c1a3f0b7c11", "registration_id": regs["王一"].id,
                       "name": "王一", "at": at, "status": "pending"},
                      {"client_id": "5b0d7a52-3d0e-4f0f-8b7e-6a1d9e2c4f22", "registration_id": regs["李二"].id,
                       "name": "李二", "at": at, "status": "pending"},
                      {"client_id": "9c3e1f47-8a2b-4d6c-b5e0-7f4a2d1c3b33", "registration_id": regs["李二"].id,
                       "name": "李二", "at": at, "status": "conflict"}]])
    page.locator(LOGOUT).click()
    page.locator("#logout-guard [data-logout-discard]").wait_for()
    assert "2 条签到记录未同步" in page.locator("#logout-guard").inner_text()
    assert page.url.endswith("/account/profile")
    assert len(queued(page, activity)) == 3
    # Following the link sends them (the door page syncs when online); then the logout goes through.
    page.locator("#logout-guard").get_by_role("link").click()
    page.wait_for_selector("#offline-door[data-synced=true]")
    assert [item["status"] for item in queued(page, activity)] == ["sent", "sent", "conflict"]
    page.locator(LOGOUT).click()
    page.wait_for_selector('a[href="/account/login"]')
    assert page.evaluate(DOOR_KEYS) == []
    db.session.rollback()
    assert {r.user.name: r.state for r in db.session.query(Registration).filter_by(activity_id=activity.id)} \
        == {"王一": S.ATTENDED, "李二": S.ATTENDED}


def test_offline_with_nothing_waiting_the_logout_waits_for_the_network(make, new_context):
    """Logging out cannot reach the server offline; clearing the phone first would only take the offline
    door away from an organiser who is still logged in."""
    organiser, activity, _regs = door_world(make, "王一")
    context = new_context()
    page = context.new_page()
    open_door(page, organiser, activity)
    context.set_offline(True)
    page.wait_for_selector("#offline-door.is-offline")
    page.locator(LOGOUT).click()
    assert "退出登录需要联网" in page.locator("#logout-guard").inner_text()
    assert page.locator("#logout-guard [data-logout-discard]").count() == 0
    assert page.evaluate(DOOR_KEYS) == [f"door-roster-{activity.id}"]
    assert page.evaluate(SERVICE_WORKERS) == 1
    context.set_offline(False)
    page.locator(LOGOUT).click()
    assert_logged_out_and_cleared(page)


def test_logout_without_javascript(make, new_context):
    organiser, _activity, _regs = door_world(make)
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, organiser)
    page.locator(LOGOUT).click()
    page.wait_for_selector('a[href="/account/login"]')
    assert page.locator('form[action="/account/logout"]').count() == 0
