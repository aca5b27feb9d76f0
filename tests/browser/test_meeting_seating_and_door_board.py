"""A phone at 360 px (real Debian Chromium): the organiser lays out the hall, assigns seats and opens the
printable seating chart; the live door dashboard updates itself when someone is checked in."""
from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.browser.conftest import DESKTOP_VIEWPORT
from tests.browser.pages import log_in
from tests.factories import check_in_at_the_door
from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind, SignupMode
from unionevents.activities.services import set_unit_quota
from unionevents.extensions import db
from unionevents.registrations import services

STREET = "丰台区玉泉营街道总工会"


@pytest.fixture
def meeting_world(make):
    tree = make.tree()
    organiser = make.user("会务组织者", union=STREET, role=Role.ORGANISER, scope=STREET)
    meeting = make.activity("劳模事迹报告会", kind=ActivityKind.MEETING, mode=SignupMode.QUOTA, capacity=40,
                            node=STREET)
    set_unit_quota(meeting, tree["玉泉营商场工会"], 12)
    set_unit_quota(meeting, tree["奥运村快递驿站联合工会"], 8)
    db.session.commit()
    delegates = [services.register(make.user(f"商场代表{i}", union="玉泉营商场工会"), meeting.id) for i in range(5)]
    delegates += [services.register(make.user(f"驿站代表{i}", union="奥运村快递驿站联合工会"), meeting.id)
                  for i in range(3)]
    return organiser, meeting, delegates


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_seating_chart_at_360_px_and_in_print(page, meeting_world, browser_errors, screenshot):
    organiser, meeting, delegates = meeting_world
    log_in(page, organiser)
    page.goto(f"/manage/activities/{meeting.id}/seating")
    page.get_by_label("排数").fill("5")
    page.get_by_label("每排座位数").fill("8")
    page.get_by_role("button", name="保存会场布局").click()
    # Each click submits a form: wait for the page it leads to (is_visible() does not wait, and CI's
    # PostgreSQL run once looked before the answer came).
    expect(page.get_by_text("会场布局已保存。")).to_be_visible()
    page.get_by_role("button", name="分配座位").click()
    expect(page.get_by_text("已为 8 名代表安排座位。")).to_be_visible()
    assert no_sideways_scroll(page)
    page.get_by_role("link", name="可打印的座位图").click()
    page.wait_for_url(f"**/manage/activities/{meeting.id}/seating/chart")
    assert page.locator(".hall-row").count() == 5
    assert page.locator(".seat", has_text="商场代表0").first.is_visible()
    first_seat = page.locator(".hall-row").first.locator(".seat").first
    assert "商场代表0" in first_seat.inner_text()  # the mall's block starts at row 1, seat 1
    assert no_sideways_scroll(page)
    screenshot("seating-chart-360")
    page.emulate_media(media="print")
    assert not page.locator(".tool-nav").is_visible() and not page.locator(".site-header").is_visible()
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4", landscape=True, print_background=True)))
    assert 1 <= len(pdf.pages) <= 2
    assert not browser_errors


def test_door_dashboard_refreshes_itself_on_a_phone_and_a_big_screen(page, new_context, meeting_world,
                                                                       browser_errors):
    organiser, meeting, delegates = meeting_world
    check_in_at_the_door(delegates[0].id, organiser)
    log_in(page, organiser)
    page.goto(f"/manage/activities/{meeting.id}/door-dashboard")
    checked = page.locator('[data-field="checked_in"]')
    assert checked.inner_text() == "1" and page.locator('[data-field="expected"]').inner_text() == "8"
    assert no_sideways_scroll(page)
    for registration in delegates[1:3]:
        check_in_at_the_door(registration.id, organiser)
    expect(checked).to_have_text("3", timeout=20_000)  # the script asks every 10 s; no reload
    assert page.locator('[data-list="doors"] tr', has_text="会务组织者").inner_text().split()[1] == "3"
    assert page.locator('[data-field="percent"]').inner_text() == "38"
    assert not browser_errors
    big = new_context(viewport=DESKTOP_VIEWPORT).new_page()
    log_in(big, organiser)
    big.goto(f"/manage/activities/{meeting.id}/door-dashboard")
    size = big.evaluate("parseFloat(getComputedStyle(document.querySelector('.board-total .big')).fontSize)")
    assert size >= 60  # readable across the room
    assert big.evaluate("getComputedStyle(document.querySelector('.board-parts')).gridTemplateColumns"
                        ).count("px") == 2  # doors and slots side by side


def test_door_dashboard_without_javascript_reloads_itself(new_context, meeting_world):
    organiser, meeting, _delegates = meeting_world
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, organiser)
    page.goto(f"/manage/activities/{meeting.id}/door-dashboard")
    refresh = page.locator('meta[http-equiv="refresh"]')
    assert refresh.count() == 1 and refresh.get_attribute("content") == "10"
