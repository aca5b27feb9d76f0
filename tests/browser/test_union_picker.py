"""The sign-up page's union picker on a phone with a 2,000-union tree: search as you type (the API), the
path shown, the choice kept; and the same without JavaScript through the search step."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from unionevents.accounts.models import User
from unionevents.extensions import db
from unionevents.unions.models import UnionNode
from tests.unions.test_picker import big_tree

from ..factories import last_sms_code

pytestmark = pytest.mark.browser

PATH = "北京市总工会 › 第3区总工会 › 第3区第4街道总工会 › 快递驿站1954号工会"


def _send_code(page, mobile: str) -> None:
    """The number is proven with a code first: press "Send code" (the page comes back with the form)."""
    page.fill("#mobile", mobile)
    page.click("#send")
    page.wait_for_selector(".flashes")


def _fill_the_rest(page, mobile: str) -> None:
    page.fill("#mobile", mobile)
    page.fill("#code", last_sms_code(mobile))
    page.fill("#name", "新来的骑手")
    page.fill("#password", "ride2026ok")
    page.fill("#password_again", "ride2026ok")
    page.select_option("#occupation", "rider")
    page.check("#accept_privacy")


def _union(name: str) -> int:
    db.session.rollback()
    return db.session.scalar(select(UnionNode.id).where(UnionNode.name == name))


def _member_of(mobile: str) -> int | None:
    db.session.rollback()
    return db.session.scalar(select(User.union_id).where(User.mobile == mobile))


def test_search_as_you_type_shows_paths_and_selects_a_union_the_list_left_out(app, live_server, page, screenshot):
    big_tree()
    union_id = _union("快递驿站1954号工会")
    page.goto(live_server + "/account/signup")
    _send_code(page, "13612340001")
    assert page.locator(".union-search-step").is_hidden()  # the script searches instead
    assert page.locator(f'#union_id option[value="{union_id}"]').count() == 0  # not in the bounded list
    page.fill("#union_id-filter", "驿站1954")
    result = page.locator("#union_id-results button", has_text="快递驿站1954号工会")
    result.wait_for()
    assert result.inner_text() == PATH
    screenshot("union-picker-1-results", page)
    result.click()
    assert page.locator("#union_id").input_value() == str(union_id)
    assert PATH in page.locator(".union-picker").inner_text()
    _fill_the_rest(page, "13612340001")
    page.click("#submit")
    page.wait_for_url(live_server + "/")
    assert _member_of("13612340001") == union_id


def test_without_javascript_the_search_step_finds_the_union(app, live_server, new_context):
    big_tree()
    union_id = _union("快递驿站1954号工会")
    page = new_context(java_script_enabled=False).new_page()
    page.goto(live_server + "/account/signup")
    _send_code(page, "13612340002")
    page.fill("#union_q", "驿站1954")
    page.click(".union-search-step button")
    page.wait_for_url("**union_q=**")
    assert page.locator(f'#union_id option[value="{union_id}"]').inner_text() == PATH
    page.select_option("#union_id", str(union_id))
    _fill_the_rest(page, "13612340002")
    page.click("#submit")
    page.wait_for_url(live_server + "/")
    assert _member_of("13612340002") == union_id
