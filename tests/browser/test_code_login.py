"""On a 360 px phone: a walk-in's first login with an SMS code, from the login page's second tab."""
from __future__ import annotations

import pytest

from unionevents.extensions import db

from ..factories import last_sms_code

pytestmark = pytest.mark.browser


def test_a_walk_in_logs_in_with_a_code_on_a_phone(live_server, new_context, screenshot, make):
    walk_in = make.user("现场职工", mobile="13712345678", password=None)
    walk_in.activated = False
    activity = make.activity("花卉养护课")
    db.session.commit()
    db.session.rollback()  # end the test's read snapshot: the server commits in another thread
    page = new_context().new_page()
    assert page.viewport_size["width"] == 360
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    page.goto(f"{live_server}/account/login?next=/activities/{activity.id}")
    page.get_by_role("link", name="短信验证码登录").first.click()
    page.wait_for_url(f"**/account/login/code?next=/activities/{activity.id}")
    page.fill("#mobile", "137 1234 5678")
    page.click("#send")
    page.wait_for_selector(".flashes")
    assert "验证码已发送" in page.locator(".flashes").inner_text()
    screenshot("code-login-1-sent", page)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360  # no sideways scrolling

    page.fill("#code", last_sms_code("13712345678"))
    page.press("#code", "Enter")  # Enter logs in (the form's default button), it does not send again
    page.wait_for_url(f"{live_server}/activities/{activity.id}")
    assert page.locator("nav.tab-bar").count() == 1  # logged in as a worker
    assert "设置密码" in page.locator(".flashes").inner_text()
    screenshot("code-login-2-in", page)
    assert problems == []
