"""Phone chrome: one entry per destination, a tab bar for workers, logout inside 我的 with a question
first; organisers keep the header logout their door data needs (static/js/logout-guard.js)."""
from __future__ import annotations

import re

import pytest

from unionevents import create_app
from unionevents.accounts.models import Role
from unionevents.extensions import db


def header(body: str) -> str:
    return body.split('<header class="site-header">', 1)[1].split("</header>", 1)[0]


def tab_bar(body: str) -> str | None:
    match = re.search(r'<nav class="tab-bar".*?</nav>', body, re.S)
    return match.group(0) if match else None


@pytest.fixture
def worker(make):
    make.tree()
    return make.user("骑手小周")


def test_a_worker_gets_four_tabs_at_most_and_no_header_logout(worker, client, login):
    login(worker)
    client.set_cookie("lang", "zh_Hans")
    body = client.get("/activities/").get_data(as_text=True)
    tabs = tab_bar(body)
    assert tabs is not None
    labels = re.findall(r">([^<>]+)</a>", tabs)
    assert labels == ["活动", "我的活动", "消息", "我的"]
    assert 'href="/activities/" aria-current="page"' in tabs
    assert "全部活动" not in header(body)  # one entry per destination
    assert header(body).count('href="/activities/"') == 1
    assert "/account/logout" not in header(body)


def test_the_worker_logs_out_inside_me_after_a_question(worker, client, login):
    login(worker)
    client.set_cookie("lang", "zh_Hans")
    body = client.get("/account/profile").get_data(as_text=True)
    assert body.index('class="logout-section"') < body.index("</main>")  # in the page, not under the footer
    section = body.split('class="logout-section"', 1)[1]
    assert "<details" in section and "确定在这部手机上退出登录吗" in section
    assert 'action="/account/logout"' in section and "data-logout-guard" not in section
    assert 'href="/account/profile" aria-current="page"' in tab_bar(body)


def test_organisers_keep_the_guarded_header_logout_and_no_tabs(make, client, login):
    tree = make.tree()
    organiser = make.user("赵组织", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    login(organiser)
    body = client.get("/activities/").get_data(as_text=True)
    assert tab_bar(body) is None
    assert "data-logout-guard" in header(body)
    assert 'class="logout-section"' not in client.get("/account/profile").get_data(as_text=True)


def test_visitors_see_log_in_and_sign_up_only(client):
    body = client.get("/activities/").get_data(as_text=True)
    assert tab_bar(body) is None and 'href="/account/login"' in header(body)


def test_the_inbox_tab_links_the_inbox_and_is_current_there(worker, client, login):
    login(worker)
    client.set_cookie("lang", "zh_Hans")
    body = client.get("/me/messages").get_data(as_text=True)
    tabs = tab_bar(body)
    assert re.findall(r">([^<>]+)</a>", tabs) == ["活动", "我的活动", "消息", "我的"]
    assert 'href="/me/messages" aria-current="page"' in tabs
