"""Chinese by default whatever the browser says; a remembered switch to English; Beijing time."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from unionevents.accounts.models import User
from unionevents.extensions import db

ZH = '<html lang="zh-Hans">'
EN = '<html lang="en">'


def test_chinese_is_the_default_even_for_an_english_browser(client):
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert ZH in page


def test_switching_to_english_is_remembered_by_cookie(client):
    response = client.post("/language", data={"locale": "en", "next": "/account/login"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/login"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"
    assert EN in client.get("/").get_data(as_text=True)
    client.post("/language", data={"locale": "zh_Hans"})
    assert ZH in client.get("/").get_data(as_text=True)


def test_an_unknown_language_falls_back_to_chinese(client):
    client.post("/language", data={"locale": "fr"})
    assert ZH in client.get("/").get_data(as_text=True)


def test_the_language_switch_never_redirects_off_site(client):
    response = client.post("/language", data={"locale": "en", "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


def test_a_logged_in_worker_keeps_the_choice_on_the_profile(app, client, make, login):
    worker = make.user()
    login(worker)
    client.post("/language", data={"locale": "en"})
    db.session.expire_all()
    assert db.session.get(User, worker.id).locale == "en"
    other_device = login(worker, app.test_client())  # no language cookie there
    assert EN in other_device.get("/").get_data(as_text=True)


def test_the_language_switch_is_on_every_page(client):
    page = client.get("/account/privacy").get_data(as_text=True)
    assert 'action="/language"' in page and 'value="en"' in page


def test_times_are_shown_in_beijing_time(client, make, frozen_time):
    frozen_time(datetime(2030, 3, 1, 1, 0))  # 01:00 UTC
    activity = make.activity("早场体检", starts_in=timedelta(days=10))  # starts 2030-03-11 01:00 UTC
    assert activity.starts_at == datetime(2030, 3, 11, 1, 0)
    page = client.get(f"/activities/{activity.id}").get_data(as_text=True)
    shown = re.sub(r'datetime="[^"]*"', "", page)  # machine-readable UTC stamps are fine
    assert "09:00" in shown  # Asia/Shanghai is UTC+8
    assert "01:00" not in shown
    home = client.get("/").get_data(as_text=True)
    assert "09:00" in home
