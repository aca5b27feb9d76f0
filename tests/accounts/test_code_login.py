"""SMS codes in the pages and the API: code login, sign-up with a code, 忘记密码, and the API contract."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from unionevents.accounts.models import ApiToken, User
from unionevents.accounts.services import authenticate, issue_token
from unionevents.core.timeutil import now
from unionevents.extensions import db

from ..factories import PASSWORD, last_sms_code, send_sms_code

# Every CSRF token on the page (WTForms' field and base.html's logout form) carries a
# timestamp, so two pages rendered a second apart differ there and nowhere else.
CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*?value=)"[^"]*"')


def field_error(page: str, field: str) -> str | None:
    match = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', page)
    return match.group(1).strip() if match else None


def is_logged_in(client) -> bool:
    return client.get("/account/profile").status_code == 200


# --------------------------------------------------------------------------- login by code (HTML)


def test_the_login_page_offers_code_login_and_a_forgotten_password(client):
    page = client.get("/account/login?next=/activities/7").get_data(as_text=True)
    assert "短信验证码登录" in page and "忘记密码" in page
    assert 'href="/account/login/code?next=/activities/7"' in page
    assert 'href="/account/password/reset?next=/activities/7"' in page
    code_page = client.get("/account/login/code?next=/activities/7&mobile=13912345678").get_data(as_text=True)
    assert 'value="13912345678"' in code_page and 'value="/activities/7"' in code_page
    assert "发送验证码" in code_page and 'autocomplete="one-time-code"' in code_page


def test_a_worker_logs_in_with_a_code_and_lands_where_they_came_from(client, worker):
    page = client.post("/account/login/code", data={"mobile": worker.mobile, "send": "y",
                                                    "next": "/activities/7"})
    assert page.status_code == 200 and "验证码已发送" in page.get_data(as_text=True)
    assert 'value="/activities/7"' in page.get_data(as_text=True)  # `next` rides along
    code = last_sms_code(worker.mobile)
    response = client.post("/account/login/code", data={"mobile": worker.mobile, "code": code,
                                                        "remember": "y", "next": "/activities/7"})
    assert response.status_code == 302 and response.location == "/activities/7"
    assert "remember_token" in response.headers.get("Set-Cookie", "") or client.get_cookie("remember_token")
    assert is_logged_in(client)


def test_a_wrong_code_is_a_field_message_and_no_login(client, worker):
    code = send_sms_code(client, "/account/login/code", worker.mobile)
    response = client.post("/account/login/code", data={"mobile": worker.mobile,
                                                        "code": f"{(int(code) + 1) % 10 ** 6:06d}"})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "code") == "验证码不正确或已过期，请核对或重新获取。"
    assert not is_logged_in(client)


def test_an_unknown_number_gets_the_same_page_as_a_known_one(client, worker):
    known = client.post("/account/login/code", data={"mobile": worker.mobile, "send": "y"})
    unknown = client.post("/account/login/code", data={"mobile": "13987654321", "send": "y"})
    assert known.status_code == unknown.status_code == 200

    def normalised(response, mobile):
        return CSRF_VALUE.sub(r"\1CSRF", response.get_data(as_text=True).replace(mobile, "MOBILE"))

    assert normalised(known, worker.mobile) == normalised(unknown, "13987654321")


def test_asking_again_within_a_minute_is_429_with_retry_after(client, worker):
    client.post("/account/login/code", data={"mobile": worker.mobile, "send": "y"})
    again = client.post("/account/login/code", data={"mobile": worker.mobile, "send": "y"})
    assert again.status_code == 429 and 0 < int(again.headers["Retry-After"]) <= 60
    assert "秒后再获取" in field_error(again.get_data(as_text=True), "mobile")


def test_enter_in_the_code_field_logs_in_rather_than_sending_again(client):
    page = client.get("/account/login/code").get_data(as_text=True)
    form = page[page.index('<form method="post" novalidate'):]
    first_button = re.search(r"<(button|input)[^>]*type=\"submit\"[^>]*>", form).group(0)
    assert 'name="submit"' in first_button  # the form's default button is "Log in"


def test_a_worker_without_a_password_is_offered_one_after_a_code_login(client, make):
    walk_in = make.user("现场报名", mobile="13700000251", password=None)
    walk_in.activated = False
    db.session.commit()
    code = send_sms_code(client, "/account/login/code", "13700000251")
    response = client.post("/account/login/code", data={"mobile": "13700000251", "code": code},
                           follow_redirects=True)
    assert "设置密码" in response.get_data(as_text=True)
    page = client.get("/account/password").get_data(as_text=True)
    assert "current_password" not in page  # nothing to confirm: the account has no password yet
    weak = client.post("/account/password", data={"new_password": "short", "new_password_again": "short"})
    assert weak.status_code == 422
    client.post("/account/password", data={"new_password": "NewPass123", "new_password_again": "NewPass123"})
    assert authenticate("13700000251", "NewPass123").id == walk_in.id
    assert is_logged_in(client)


def test_logout_ends_a_code_login_session(client, worker):
    code = send_sms_code(client, "/account/login/code", worker.mobile)
    client.post("/account/login/code", data={"mobile": worker.mobile, "code": code})
    client.post("/account/logout")
    assert not is_logged_in(client)


# --------------------------------------------------------------------------- sign-up with a code


def signup_form(**changes):
    data = {"mobile": "13812345678", "name": "新职工", "password": "abc12345", "password_again": "abc12345",
            "union_id": "", "occupation": "rider", "district": "", "member_card_no": "", "accept_privacy": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_after_sign_up_the_rider_lands_back_on_the_activity(client, tree, make):
    activity = make.activity()
    target = f"/activities/{activity.id}"
    page = client.get(f"/account/login?next={target}").get_data(as_text=True)
    assert f'href="/account/signup?next={target}"' in page
    assert f'value="{target}"' in client.get(f"/account/signup?next={target}").get_data(as_text=True)
    code = send_sms_code(client, "/account/signup", "13812345678", next=target)
    response = client.post("/account/signup", data=signup_form(code=code, next=target))
    assert response.status_code == 302 and response.location == target
    assert is_logged_in(client)


def test_the_sign_up_form_shows_every_error_at_once(client, tree, row_counts):
    before = row_counts()
    response = client.post("/account/signup", data=signup_form(
        mobile="1381234", name="", password="short", password_again="other", union_id="999999",
        accept_privacy=None))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for name in ("mobile", "name", "password", "password_again", "union_id", "accept_privacy", "code"):
        assert field_error(page, name), f"no message next to {name}"
    assert row_counts() == before


def test_a_wrong_sign_up_code_makes_no_account(client, tree):
    code = send_sms_code(client, "/account/signup", "13812345678")
    response = client.post("/account/signup", data=signup_form(code=f"{(int(code) + 1) % 10 ** 6:06d}"))
    assert response.status_code == 422 and field_error(response.get_data(as_text=True), "code")
    assert db.session.scalar(select(User).where(User.mobile == "13812345678")) is None


def test_a_login_code_does_not_sign_up(client, tree, make):
    make.user(mobile="13812345678")
    code = send_sms_code(client, "/account/login/code", "13812345678")
    other = client.post("/account/signup", data=signup_form(mobile="13812345679", code=code))
    assert other.status_code == 422


def test_a_walk_in_who_signs_up_is_logged_in_to_their_account_not_refused(client, tree, make):
    walk_in = make.user("现场报名", mobile="13700000251", password=None)
    walk_in.activated = False
    db.session.commit()
    activity = make.activity()
    target = f"/activities/{activity.id}"
    users = db.session.scalar(select(func.count(User.id)))
    code = send_sms_code(client, "/account/signup", "13700000251", next=target)
    response = client.post("/account/signup", data=signup_form(mobile="13700000251", code=code, next=target))
    assert response.status_code == 302 and response.location == target
    assert db.session.scalar(select(func.count(User.id))) == users  # no second account
    page = client.get(target).get_data(as_text=True)
    assert "该手机号已有账号" in page and "设置密码" in page
    db.session.expire_all()
    assert db.session.get(User, walk_in.id).activated


def test_the_sign_up_page_links_to_code_login_with_the_number(client, tree):
    page = client.get("/account/signup?mobile=13700000251&next=/activities/3").get_data(as_text=True)
    assert 'href="/account/login/code?next=/activities/3&amp;mobile=13700000251"' in page


# --------------------------------------------------------------------------- 忘记密码


def test_a_forgotten_password_is_reset_with_a_code(client, app, worker):
    phone = app.test_client()  # the worker's other device, logged in with the old password
    phone.post("/account/login", data={"mobile": worker.mobile, "password": PASSWORD})
    issue_token(worker, "app")
    code = send_sms_code(client, "/account/password/reset", worker.mobile)
    response = client.post("/account/password/reset", data={
        "mobile": worker.mobile, "code": code, "password": "NewPass123", "password_again": "NewPass123",
        "next": "/me/registrations"})
    assert response.status_code == 302 and response.location == "/me/registrations"
    assert is_logged_in(client) and not is_logged_in(phone)
    assert authenticate(worker.mobile, "NewPass123") and authenticate(worker.mobile, PASSWORD) is None
    assert db.session.scalar(select(ApiToken.revoked_at)) is not None


def test_a_reset_with_mismatched_passwords_keeps_the_code(client, worker):
    code = send_sms_code(client, "/account/password/reset", worker.mobile)
    bad = client.post("/account/password/reset", data={"mobile": worker.mobile, "code": code,
                                                       "password": "NewPass123", "password_again": "NewPass124"})
    assert bad.status_code == 422 and field_error(bad.get_data(as_text=True), "password_again")
    good = client.post("/account/password/reset", data={"mobile": worker.mobile, "code": code,
                                                        "password": "NewPass123", "password_again": "NewPass123"})
    assert good.status_code == 302


def test_a_reset_for_an_unknown_number_sends_nothing_and_says_the_same(client, worker):
    known = client.post("/account/password/reset", data={"mobile": worker.mobile, "send": "y"})
    unknown = client.post("/account/password/reset", data={"mobile": "13987654321", "send": "y"})
    assert known.status_code == unknown.status_code == 200
    assert last_sms_code("13987654321") is None and last_sms_code(worker.mobile)
    response = client.post("/account/password/reset", data={
        "mobile": "13987654321", "code": "123456", "password": "NewPass123", "password_again": "NewPass123"})
    assert response.status_code == 422 and field_error(response.get_data(as_text=True), "code")


# --------------------------------------------------------------------------- the API


def test_sms_codes_answer_202_with_one_body_for_known_and_unknown_numbers(client, worker):
    known = client.post("/api/v1/auth/sms-codes", json={"mobile": worker.mobile})
    unknown = client.post("/api/v1/auth/sms-codes", json={"mobile": "13987654321"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_data() == unknown.get_data()
    assert known.json == {"status": "accepted", "expires_in": 300, "resend_after": 60}


def test_sms_codes_refuse_a_bad_number_and_a_second_ask(client, worker):
    assert client.post("/api/v1/auth/sms-codes", json={"mobile": "12345"}).status_code == 422
    assert client.post("/api/v1/auth/sms-codes", json={}).status_code == 422
    client.post("/api/v1/auth/sms-codes", json={"mobile": worker.mobile})
    again = client.post("/api/v1/auth/sms-codes", json={"mobile": worker.mobile})
    assert again.status_code == 429 and again.json["code"] == "too_many_codes"
    assert int(again.headers["Retry-After"]) <= 60


def test_a_token_for_a_code_201_and_401_for_a_wrong_or_expired_one(client, worker, frozen_time):
    start = now()
    frozen_time(start)
    client.post("/api/v1/auth/sms-codes", json={"mobile": worker.mobile})
    code = last_sms_code(worker.mobile)
    wrong = client.post("/api/v1/tokens", json={"mobile": worker.mobile, "code": f"{(int(code) + 1) % 10 ** 6:06d}"})
    assert wrong.status_code == 401 and wrong.json["message"] == "验证码不正确或已过期，请核对或重新获取。"
    issued = client.post("/api/v1/tokens", json={"mobile": worker.mobile, "code": code})
    assert issued.status_code == 201 and issued.json["token"].startswith("ue_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued.json['token']}"})
    assert me.status_code == 200 and me.json["id"] == worker.id
    assert client.post("/api/v1/tokens", json={"mobile": worker.mobile, "code": code}).status_code == 401  # used

    frozen_time(start + timedelta(minutes=2))
    client.post("/api/v1/auth/sms-codes", json={"mobile": worker.mobile})
    late = last_sms_code(worker.mobile)
    frozen_time(start + timedelta(minutes=7, seconds=1))
    assert client.post("/api/v1/tokens", json={"mobile": worker.mobile, "code": late}).status_code == 401


def test_tokens_need_exactly_one_of_password_and_code(client, worker):
    neither = client.post("/api/v1/tokens", json={"mobile": worker.mobile})
    both = client.post("/api/v1/tokens", json={"mobile": worker.mobile, "password": PASSWORD, "code": "123456"})
    assert neither.status_code == both.status_code == 422
    assert client.post("/api/v1/tokens", json={"mobile": worker.mobile, "password": PASSWORD}).status_code == 201


def test_an_unknown_number_and_a_wrong_code_get_the_same_401(client, worker):
    client.post("/api/v1/auth/sms-codes", json={"mobile": worker.mobile})
    known = client.post("/api/v1/tokens", json={"mobile": worker.mobile, "code": "000000"})
    unknown = client.post("/api/v1/tokens", json={"mobile": "13987654321", "code": "000000"})
    if last_sms_code(worker.mobile) == "000000":
        pytest.skip("the random code happened to be 000000")
    assert known.status_code == unknown.status_code == 401 and known.json == unknown.json


def test_both_endpoints_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    sms = spec["paths"]["/api/v1/auth/sms-codes"]["post"]
    assert "202" in sms["responses"] and "429" in sms["responses"]
    tokens = spec["paths"]["/api/v1/tokens"]["post"]
    assert {"201", "401", "429"} <= set(tokens["responses"])
    schema_ref = tokens["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"mobile", "password", "code"} <= set(spec["components"]["schemas"][schema_ref]["properties"])
