"""A newcomer's first visit on a phone: sign up, log out, log in, switch to English."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from unionevents.accounts.models import User
from unionevents.extensions import db

from ..factories import last_sms_code

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u4e00-\u9fff]")


def headings(page) -> list[str]:
    return page.locator("h1, h2").all_inner_texts()


def test_newcomer_signs_up_logs_in_and_switches_to_english(live_server, new_context, screenshot, make):
    tree = make.tree()
    make.activity("花卉养护课", node=tree["丰台区玉泉营街道总工会"])
    union_id = tree["奥运村快递驿站联合工会"].id
    db.session.rollback()  # end the test's read snapshot: the server commits in another thread
    page = new_context(locale="en-US").new_page()  # an English browser: we still answer in Chinese
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)

    # Home: Chinese even though the browser asks for English.
    page.goto(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert any(CJK.search(text) for text in headings(page))
    screenshot("smoke-1-home-zh", page)

    # Sign up, choosing the union through the searchable select.
    page.locator('a[href="/account/signup"]').first.click()
    page.fill("#mobile", "13612345678")
    page.click("#send")  # the number is proven with a code first
    page.wait_for_selector(".flashes")
    code = last_sms_code("13612345678")
    page.fill("#code", code)
    page.fill("#name", "新来的骑手")
    page.fill("#password", "ride2026ok")
    page.fill("#password_again", "ride2026ok")
    options_before = page.locator("#union_id option").count()
    page.fill("#union_id-filter", "快递驿站")
    assert page.locator("#union_id option").count() < options_before
    page.select_option("#union_id", str(union_id))
    page.select_option("#occupation", "rider")
    page.check("#accept_privacy")
    screenshot("smoke-2-signup-filled", page)
    page.click("#submit")

    # Landed logged in.
    page.wait_for_url(live_server + "/")
    assert page.locator("nav.tab-bar").count() == 1  # a worker: the tab bar, logout inside 我的
    assert "新来的骑手" in page.locator(".flashes").inner_text()
    db.session.rollback()
    user = db.session.scalar(select(User).where(User.mobile == "13612345678"))
    assert user is not None and user.union_id == union_id
    screenshot("smoke-3-signed-up", page)

    # Log out (inside 我的, after a question), log in again.
    page.locator("nav.tab-bar").get_by_role("link", name="我的", exact=True).click()
    page.locator(".logout-confirm summary").click()
    page.locator('.logout-confirm form[action="/account/logout"] button').click()
    page.wait_for_selector('a[href="/account/login"]')
    assert page.locator('form[action="/account/logout"]').count() == 0
    page.locator('a[href="/account/login"]').first.click()
    page.fill("#mobile", "136 1234 5678")
    page.fill("#password", "ride2026ok")
    page.click("#submit")
    page.wait_for_url(live_server + "/")
    assert page.locator("nav.tab-bar").count() == 1
    screenshot("smoke-4-logged-in", page)

    # Switch to English.
    page.locator('.lang-switch button[value="en"]').click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.locator("h1").first.inner_text() == "Upcoming activities"
    screenshot("smoke-5-english", page)

    # Nothing was blocked by the CSP and no script failed along the way.
    assert problems == []
