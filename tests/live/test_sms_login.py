"""A walk-in's first login with an SMS code, over real HTTP against gunicorn.

The organiser registers a walk-in at the door; the worker, with no password, asks for a code on the
code-login page; the outbox is delivered as in production (``flask outbox send`` against the server's
database, the FileSender writing each SMS as a JSON line) and the code is read from that "phone".
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from .client import Browser, beijing_now, fresh_mobile
from .world import ORGANISER_YUQUANYING, _local

pytestmark = pytest.mark.xdist_group("live-gunicorn")


def door_activity(world) -> tuple[Browser, int]:
    """An activity of this module's own, open at the door (the crawl may have changed the world's)."""
    door = world.browser(ORGANISER_YUQUANYING)
    if "sms_walk_in" not in world.ids:
        start = beijing_now() + timedelta(minutes=90)
        title = f"短信登录健步走{fresh_mobile('1')[-4:]}"
        created = door.fill_and_post("/manage/activities/new", {
            "title": title, "starts_at": _local(start), "ends_at": _local(start + timedelta(hours=3)),
            "signup_opens_at": _local(beijing_now() - timedelta(hours=1)),
            "signup_closes_at": _local(start - timedelta(minutes=30)), "cancel_cutoff_at": "", "capacity": "40"},
            action="/manage/activities/new")
        assert created.status_code in (302, 303), created.status_code
        world.ids["sms_walk_in"] = world.db.activity_id(title)
        published = door.fill_and_post(f"/manage/activities/{world.ids['sms_walk_in']}", action="/publish")
        assert published.status_code in (200, 302, 303)
    return door, world.ids["sms_walk_in"]


def test_a_walk_in_logs_in_with_a_code_and_sets_a_password(gunicorn_server, gunicorn_world):
    world, server = gunicorn_world, gunicorn_server
    mobile = fresh_mobile("1375")
    door, activity_id = door_activity(world)
    response = door.fill_and_post(f"/manage/activities/{activity_id}/walk-in", {"mobile": mobile, "name": "到场职工"},
                                  action="/walk-in")
    assert response.status_code in (200, 302, 303), response.status_code
    server.sms_codes([])  # deliver the outbox: the welcome SMS
    inbox = server.outbox_file.read_text(encoding="utf-8")
    assert mobile in inbox and "/account/login/code" in inbox  # the welcome SMS says where to log in

    phone = Browser(server.url)
    target = f"/activities/{activity_id}"
    form = phone.form(f"/account/login/code?next={target}", action="/account/login/code")
    sent = phone.submit(form, {"mobile": mobile, "send": "y", "submit": None})
    assert sent.status_code == 200 and "验证码已发送" in sent.text
    code = server.sms_codes([mobile])[mobile]
    logged_in = phone.submit(form, {"mobile": mobile, "code": code})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == target
    # The organiser made the account: the worker accepts the privacy notice before anything else.
    held = phone.get(target)
    assert held.status_code == 302 and held.headers["Location"].startswith("/account/privacy/accept")
    accepted = phone.fill_and_post(held.headers["Location"], {"accept_privacy": "y"}, action="/account/privacy/accept")
    assert accepted.status_code == 302 and accepted.headers["Location"] == target
    assert world.db.scalar('SELECT privacy_version FROM "user" WHERE mobile = :m', m=mobile)
    account = phone.get("/account/profile")
    assert account.status_code == 200 and "设置密码" in account.text

    password = phone.fill_and_post("/account/password", {"new_password": "Walkin2026", "new_password_again": "Walkin2026"},
                                   action="/account/password")
    assert password.status_code == 302
    assert Browser(server.url, mobile, "Walkin2026").get("/account/profile").status_code == 200
    assert world.db.scalar('SELECT activated FROM "user" WHERE mobile = :m', m=mobile)


def test_the_api_sends_codes_without_telling_who_has_an_account(gunicorn_server, gunicorn_world):
    server = gunicorn_server
    mobile = fresh_mobile("1376")
    door, activity_id = door_activity(gunicorn_world)
    walk_in = door.fill_and_post(f"/manage/activities/{activity_id}/walk-in", {"mobile": mobile, "name": "接口职工"},
                                 action="/walk-in")
    assert walk_in.status_code in (200, 302, 303), walk_in.status_code
    known = requests.post(server.url + "/api/v1/auth/sms-codes", json={"mobile": mobile}, timeout=30)
    unknown = requests.post(server.url + "/api/v1/auth/sms-codes", json={"mobile": fresh_mobile("1377")}, timeout=30)
    assert known.status_code == unknown.status_code == 202 and known.content == unknown.content
    code = server.sms_codes([mobile])[mobile]
    wrong = requests.post(server.url + "/api/v1/tokens", json={"mobile": mobile, "code": f"{(int(code) + 1) % 10**6:06d}"},
                          timeout=30)
    assert wrong.status_code == 401
    token = requests.post(server.url + "/api/v1/tokens", json={"mobile": mobile, "code": code}, timeout=30)
    assert token.status_code == 201
    me = requests.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token.json()['token']}"},
                      timeout=30)
    assert me.status_code == 200 and me.json()["name"] == "接口职工"
