"""The door kit on a 360 px phone (issue 19 item 6): the camera stays on, each ticket gets a full-screen
verdict with the name (green admitted, amber already, red refused with the reason) with a beep and a
vibration; the same ticket held in view is not sent twice; a typed code gets the same verdict; the
last check-in is undone from the page and the count goes down; axe finds nothing serious."""
from __future__ import annotations

import re
import time

from bench.door import FAKE_CAMERA, qr_data_url
from tests.browser.pages import door_open_now, log_in
from tests.browser.test_accessibility import axe_problems
from unionevents.accounts.models import Role
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

#: Records what the page asks of the speaker and the vibration motor.
FEEDBACK_SPY = """
window.__vibrations = [];
navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return true; };
window.__tones = [];
if (window.AudioContext) {
  const Original = window.AudioContext;
  window.AudioContext = class extends Original {
    createOscillator() { const osc = super.createOscillator(); window.__tones.push(osc); return osc; }
  };
}
"""


def state_of(registration_id) -> S:
    db.session.rollback()
    return db.session.get(Registration, registration_id).state


def count(page) -> list[str]:
    return re.findall(r"\d+", page.locator(".door-count").inner_text())


def verdict(page, outcome: str, name: str):
    overlay = page.locator(f"[data-door-verdict][data-outcome={outcome}]")
    overlay.wait_for(state="visible")
    assert page.locator("[data-verdict-name]").inner_text() == name
    return overlay


def test_continuous_scan_verdicts_undo_and_count(make, new_context, screenshot):
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    activity = make.activity("夜骑安全课", capacity=10, **door_open_now())
    wang, zhang, li, liu = (services.register(make.user(n, union="玉泉营商场工会"), activity.id)
                            for n in ("王一", "张三", "李二", "刘四"))
    services.cancel(li.id, organiser)

    context = new_context(bypass_csp=True)  # axe is injected below; the page's own scripts run as always
    context.add_init_script(FAKE_CAMERA + FEEDBACK_SPY)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    page.wait_for_selector("[data-scan-box][data-scanner=jsqr]", state="attached")
    assert count(page) == ["0", "3"]

    # Scan: green, with the name; the camera stays on; the verdict clears itself.
    page.evaluate("src => window.__showTicket(src)", qr_data_url(wang.ticket_secret))
    page.locator("[data-scan-start]").click()
    verdict(page, "admitted", "王一")
    assert page.locator("[data-verdict-title]").inner_text() == "已入场"
    screenshot("door-kit-admitted", page)
    assert state_of(wang.id) == S.ATTENDED
    assert count(page) == ["1", "3"]
    assert page.get_attribute("[data-scan-box]", "data-running") == "true"
    page.locator("[data-door-verdict]").wait_for(state="hidden", timeout=4000)  # ~1.5 s

    # The same ticket still in front of the camera is not sent again (the debounce).
    time.sleep(1.5)
    assert page.get_attribute("[data-scan-box]", "data-scans") == "1"

    # Taken away, then shown again a few seconds later: amber, already checked in.
    page.evaluate("() => window.__showTicket(null)")
    time.sleep(3.5)
    page.evaluate("src => window.__showTicket(src)", qr_data_url(wang.ticket_secret))
    verdict(page, "already", "王一")
    assert page.locator("[data-verdict-title]").inner_text() == "已签到"
    screenshot("door-kit-already", page)
    page.locator("[data-door-verdict]").click()  # a tap clears it at once
    assert page.locator("[data-door-verdict]").is_hidden()

    # A cancelled place: red, with the name and the reason in Chinese.
    page.evaluate("src => window.__showTicket(src)", qr_data_url(li.ticket_secret))
    verdict(page, "refused", "李二")
    assert "已取消" in page.locator("[data-verdict-message]").inner_text()
    screenshot("door-kit-refused", page)
    assert state_of(li.id) == S.CANCELLED
    page.evaluate("() => window.__showTicket(null)")
    page.locator("[data-scan-stop]").click()

    # Sound and vibration differ for admitted / already / refused.
    tones = page.evaluate("window.__tones.map(o => o.frequency.value)")
    assert tones[:4] == [880, 660, 660, 220]
    assert page.evaluate("window.__vibrations") == [80, [80, 60, 80], [300]]

    # A typed code: the same green verdict, no page load.
    if page.locator("[data-door-verdict]").is_visible():
        page.locator("[data-door-verdict]").click()
    page.fill("#ticket-form input[name=token]", zhang.ticket_code.lower())
    page.locator("#ticket-form input[name=token]").press("Enter")
    verdict(page, "admitted", "张三")
    assert count(page) == ["2", "3"]
    page.locator("[data-door-verdict]").click()

    # The last check-ins are listed with an undo button; undoing one brings the count down.
    recent = page.locator("[data-recent-list] .recent-item")
    assert recent.count() == 2 and "张三" in recent.first.inner_text()
    assert not axe_problems(page)
    screenshot("door-kit-recent", page)
    recent.first.get_by_role("button").click()
    page.wait_for_url(re.compile(rf"/manage/activities/{activity.id}/checkin$"))
    assert state_of(zhang.id) == S.CONFIRMED
    assert count(page) == ["1", "3"]
    assert "已撤销签到：张三" in page.locator(".flashes").inner_text()
    assert page.locator("[data-recent-list] .recent-item").count() == 1
    screenshot("door-kit-undone", page)
    assert not axe_problems(page)

    # Offline: a scanned ticket is judged from the saved roster, queued, and shown with the same verdict.
    page.wait_for_selector("#offline-door[data-roster-ready=true]")
    page.context.set_offline(True)
    page.wait_for_selector("#offline-door.is-offline")
    page.fill("#ticket-form input[name=token]", liu.ticket_secret)
    page.locator("#ticket-form input[name=token]").press("Enter")
    verdict(page, "admitted", "刘四")
    assert page.locator(".pending-item.pending-pending").count() == 1
    assert state_of(liu.id) == S.CONFIRMED  # not sent yet
    page.context.set_offline(False)
    page.wait_for_selector("#offline-door[data-synced=true]")
    assert state_of(liu.id) == S.ATTENDED
    assert not errors


def test_live_count_follows_other_doors(make, new_context):
    """Another volunteer checks someone in: this phone's count follows within the polling interval (10 s)."""
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    activity = make.activity("夜骑安全课", capacity=10, **door_open_now())
    reg = services.register(make.user("王一", union="玉泉营商场工会"), activity.id)
    page = new_context().new_page()
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    assert count(page) == ["0", "1"]
    services.check_in(reg.id, organiser)
    page.wait_for_function("() => /1\\D+1/.test(document.querySelector('.door-count').textContent)",
                           timeout=15_000)
