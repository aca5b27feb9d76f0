"""Issue 20's closing proof on the demo data (``flask seed-demo``'s showcase), in real Debian Chromium at
360 px and 1280 px: the published small contest's results, the verified draw on its activity page, the
weekly series and the meeting's seating chart.  Screenshots: test-artifacts/screenshots/organiser-*.png."""
from __future__ import annotations

import hashlib
import random
import re

import pytest

from tests.browser.conftest import DESKTOP_VIEWPORT
from unionevents.demo import DEMO_PASSWORD, seed_demo

VIEWPORTS = {"360": None, "1280": DESKTOP_VIEWPORT}


@pytest.fixture
def showcase(app):
    return seed_demo()


def demo_log_in(page, mobile):
    page.context.clear_cookies()  # whoever was logged in before
    page.goto("/account/login")
    page.fill("input[name=mobile]", mobile)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("form.stack-form button[type=submit], form.stack-form input[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", sorted(VIEWPORTS))
def test_showcase_contest_draw_series_and_seating(page, showcase, browser_errors, screenshot, width):
    if VIEWPORTS[width]:
        page.set_viewport_size(VIEWPORTS[width])

    # The small contest: published, one prize per tier, two of five entries without one.
    page.goto(f"/contests/{showcase['contest_id']}/results")
    body = page.locator("main").inner_text()
    for tier in ("一等奖", "二等奖", "三等奖"):
        assert tier in body
    assert "咱们工人有力量" in body and "打起手鼓唱起歌" not in body  # the lowest score wins nothing
    assert no_sideways_scroll(page)
    screenshot(f"organiser-contest-results-{width}")

    # The draw: seed and order published; recompute them here as the page says.
    page.goto(f"/activities/{showcase['draw_id']}")
    seed = page.locator("code.draw-seed").inner_text().strip()
    digest = page.locator("code.digest").inner_text().strip()
    assert hashlib.sha256(seed.encode()).hexdigest() == digest
    order = [int(text) for text in page.locator("table.draw-order tbody tr td:nth-child(2)").all_inner_texts()]
    expected = sorted(order)
    random.Random(seed).shuffle(expected)
    assert order == expected and len(order) == 6
    page.locator("details", has_text="如何核对").locator("summary").click()
    assert no_sideways_scroll(page)
    screenshot(f"organiser-draw-{width}")

    # The weekly series: every date on the activity page, and the organiser's series page.
    page.goto(f"/activities/{showcase['series_id']}")
    assert page.locator(".series-box .series-dates li").count() == 6
    demo_log_in(page, "13800000003")  # 玉泉营组织者
    page.goto(f"/manage/activities/{showcase['series_id']}/series")
    assert page.locator("table.data-table tbody tr").count() == 6
    assert page.get_by_role("link", name="取消整个系列").is_visible()
    assert no_sideways_scroll(page)
    screenshot(f"organiser-series-{width}")

    # The seating chart of the delegates' meeting (its organiser).
    demo_log_in(page, "13800000009")  # 通州区组织者
    page.goto(f"/manage/activities/{showcase['meeting_id']}/seating/chart")
    assert page.locator(".hall-row").count() == 4
    assert page.locator(".seat", has_text="周晓梅").first.is_visible()
    screenshot(f"organiser-seating-chart-{width}")
    assert not browser_errors
