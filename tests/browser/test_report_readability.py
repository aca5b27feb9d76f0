"""Issue 20: the officer dashboard read on a phone (360 px) and a desktop (1280 px) — every chart text at
least 12 px, no axis label cut off, table headers not wrapped one character a line, the first column of
a wide table kept in view while it scrolls, and the range the report covers shown on the page."""
from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP_VIEWPORT, PHONE_VIEWPORT
from tests.browser.pages import log_in
from unionevents.accounts.models import Role
from unionevents.registrations.services import register

MEASURE = """() => {
  const texts = [...document.querySelectorAll('svg.chart text')].filter(t => t.textContent.trim());
  return texts.map(t => {
    const svg = t.ownerSVGElement.getBoundingClientRect(), box = t.getBoundingClientRect();
    const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
    return {text: t.textContent, px, inside: box.left >= svg.left - 1 && box.right <= svg.right + 1};
  });
}"""
HEADERS = """() => [...document.querySelectorAll('.report-table thead th')].map(th => ({
  text: th.textContent.trim(), height: th.getBoundingClientRect().height,
  line: parseFloat(getComputedStyle(th).lineHeight) || parseFloat(getComputedStyle(th).fontSize) * 1.5,
  sticky: getComputedStyle(th).position}))"""


@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, DESKTOP_VIEWPORT], ids=["phone", "desktop"])
def test_dashboard_charts_and_tables_are_readable(app, make, new_context, viewport):
    tree = make.tree()
    officer = make.user("朝阳区干部", role=Role.OFFICER, scope=tree["朝阳区总工会"])
    for title in ("花卉养护课", "以书换蔬", "职工健康讲座"):
        activity = make.activity(title, node=tree["朝阳区奥运村街道总工会"], capacity=20)
        register(make.user(f"{title}学员", union="奥运村快递驿站联合工会"), activity.id)
    page = new_context(viewport=viewport).new_page()
    log_in(page, officer)
    page.goto("/reports/")
    texts = page.evaluate(MEASURE)
    assert texts, "no chart text"
    small = [t for t in texts if t["px"] < 12]
    assert not small, f"chart text under 12 px at {viewport['width']} px: {small[:5]}"
    clipped = [t["text"] for t in texts if not t["inside"]]
    assert not clipped, f"chart text cut off at {viewport['width']} px: {clipped}"
    headers = page.evaluate(HEADERS)
    wrapped = [h["text"] for h in headers if len(h["text"]) > 2 and h["height"] > 3.2 * h["line"]]
    assert not wrapped, f"headers wrapped into a column of characters: {wrapped}"
    if viewport == PHONE_VIEWPORT:
        assert any(h["sticky"] == "sticky" for h in headers), "the first column scrolls away on a phone"
    assert page.locator(".report-range").inner_text().strip()
    assert page.locator("#date-from").input_value().endswith("-01-01")  # the year so far, changeable
