"""Input that is not text is refused at one boundary, for HTML forms and the JSON API alike.

Issue 14, defects 2–4: lone surrogates, invisible and direction-control characters, JSON nested
100,000 deep and integers beyond the database's range each gave a 500 (or were stored and broke the
pages showing them later).  Each is now a 4xx with a Chinese message.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from unionevents.accounts.models import Role, User
from unionevents.accounts.services import authenticate
from unionevents.activities.models import Activity, QuestionKind
from unionevents.activities.services import add_question
from unionevents.core.input import json_too_deep
from unionevents.core.text import NotText, check_text, clean_text
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations.models import Registration

from ..api_support import assert_error, bearer
from ..factories import PASSWORD, send_sms_code

STREET = "丰台区玉泉营街道总工会"
MALL = "玉泉营商场工会"
NOT_TEXT_ZH = "含有无效字符（不是有效的 UTF-8 文本）。"
BIDI_ZH = "含有不可见的文字方向控制字符，请删除。"
SURROGATE = "\ud800"
CLIENT_ID = "6f1c1b8e-8a57-4c59-9bb3-0f5d1f4c9f11"


@pytest.fixture
def people(make):
    make.tree()
    return {
        "worker": make.user("王师傅", union=MALL),
        "organiser": make.user("组织者", role=Role.ORGANISER, scope=STREET),
        "officer": make.user("干部", role=Role.OFFICER, scope=STREET),
    }


@pytest.fixture
def activity(make):
    activity = make.activity()
    add_question(activity, "您的衣服尺码？", QuestionKind.TEXT, required=True)
    db.session.commit()
    return activity


def _question_key(activity) -> str:
    return f"q{activity.questions[0].id}"


def _count(model) -> int:
    db.session.expire_all()
    return db.session.query(model).count()


# --------------------------------------------------------------------------- the text rule (pure)

def test_clean_text_normalises_strips_zero_width_and_refuses_direction_controls():
    assert clean_text("Jose\u0301") == "José"  # NFC: one code point
    assert clean_text("王\u200b师\u200c傅\u200d\u2060\ufeff") == "王师傅"
    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        with pytest.raises(NotText):
            clean_text(f"王{control}师傅")
    with pytest.raises(NotText):
        clean_text(f"王{SURROGATE}")


def test_check_text_leaves_valid_text_alone_and_refuses_surrogates():
    assert check_text(" pa\u200bss\u202e ") == " pa\u200bss\u202e "
    with pytest.raises(NotText):
        check_text(f"pass{SURROGATE}word")


def test_json_depth_counts_brackets_outside_strings_only():
    assert not json_too_deep('{"a": "' + "[" * 1000 + '"}')
    assert not json_too_deep("[" * 32 + "]" * 32)
    assert json_too_deep("[" * 33 + "]" * 33)
    assert json_too_deep('["a\\"]", ' * 40 + "0" + "]" * 40)  # an escaped quote does not end a string
    assert not json_too_deep('"\\"' * 10_000 + "[" * 100_000)  # an unterminated string: linear, no brackets


# --------------------------------------------------------------------------- surrogates: the API

def test_a_surrogate_in_api_signup_answers_is_refused_and_nothing_is_saved(client, people, activity):
    response = client.post(f"/api/v1/activities/{activity.id}/registrations",
                           json={"answers": {_question_key(activity): f"L{SURROGATE}"}},
                           headers=bearer(people["worker"]))
    body = assert_error(response, 422, "validation_failed")
    assert "不是有效的" in body["message"]
    assert body["errors"] == {"answers": {_question_key(activity): [NOT_TEXT_ZH]}}
    assert _count(Registration) == 0


def test_a_surrogate_as_raw_utf8_bytes_in_json_is_refused(client, people, activity):
    raw = ('{"answers": {"%s": "L' % _question_key(activity)).encode() + b"\xed\xa0\x80" + b'"}}'
    response = client.post(f"/api/v1/activities/{activity.id}/registrations", data=raw,
                           content_type="application/json", headers=bearer(people["worker"]))
    assert_error(response, 422, "validation_failed")
    assert _count(Registration) == 0


@pytest.mark.parametrize("path, payload", [
    ("/api/v1/tokens", {"mobile": f"139{SURROGATE}", "password": "secret123"}),
    ("/api/v1/tokens", {"mobile": "13900000001", "password": f"pw{SURROGATE}"}),
    ("/api/v1/checkins", {"token": f"ABC{SURROGATE}"}),
    ("/api/v1/activities", {"title": f"花艺{SURROGATE}"}),
    ("/api/v1/activities", {f"ti{SURROGATE}tle": "花艺"}),
])
def test_a_surrogate_anywhere_in_an_api_body_is_a_chinese_422(client, people, path, payload):
    response = client.post(path, json=payload, headers=bearer(people["organiser"]))
    body = assert_error(response, 422, "validation_failed")
    assert "不是有效的" in body["message"]
    assert _count(Activity) == 0


def test_a_surrogate_in_an_api_query_string_is_a_chinese_422(client):
    body = assert_error(client.get("/api/v1/activities?q=%ED%A0%80"), 422, "validation_failed")
    assert body["errors"] == {"q": [NOT_TEXT_ZH]}


# --------------------------------------------------------------------------- surrogates: forms

def test_a_form_body_that_is_not_utf8_is_refused_before_the_view(client, login, people):
    login(people["organiser"])
    response = client.post("/manage/activities/new", data=b"title=%ED%A0%80&kind=class",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "不是有效的文本" in response.get_data(as_text=True)
    assert _count(Activity) == 0


def test_raw_bytes_that_are_not_utf8_in_a_form_body_are_refused_not_a_500(client, login, people):
    login(people["organiser"])
    response = client.post("/manage/activities/new", data=b"title=\xed\xa0\x80\xff",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "不是有效的文本" in response.get_data(as_text=True)


@pytest.mark.parametrize("data", [
    b"mobile=139%ED%A0%80&password=secret123",
    b"mobile=13900000001&password=pw%ED%A0%80",
])
def test_a_surrogate_in_the_login_form_is_refused_not_a_500(client, people, data):
    response = client.post("/account/login", data=data, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "不是有效的文本" in response.get_data(as_text=True)


def test_a_surrogate_in_a_check_in_token_form_is_refused(client, login, people, activity):
    login(people["organiser"])
    response = client.post(f"/manage/activities/{activity.id}/checkin/ticket", data=b"token=AB%ED%A0%80",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422


def test_a_surrogate_in_the_check_in_sync_json_is_refused(client, login, people, activity):
    login(people["organiser"])
    response = client.post(f"/manage/activities/{activity.id}/checkin/sync",
                           json={"client_id": CLIENT_ID, "token": f"A{SURROGATE}"})
    assert_error(response, 422, "validation_failed")


def test_a_surrogate_in_a_page_query_string_is_refused(client, login, people, activity):
    login(people["organiser"])
    response = client.get(f"/manage/activities/{activity.id}/roster?q=%ED%A0%80")
    assert response.status_code == 422
    assert "不是有效的文本" in response.get_data(as_text=True)


def test_a_multipart_field_that_was_not_utf8_is_refused(client, login, people):
    login(people["organiser"])
    body = (b"--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n\xed\xa0\x80\r\n--B--\r\n")
    response = client.post("/manage/activities/new", data=body,
                           content_type="multipart/form-data; boundary=B")
    assert response.status_code == 422
    assert "不是有效的文本" in response.get_data(as_text=True)
    assert _count(Activity) == 0


def test_valid_chinese_text_passes_the_boundary(client, people):
    response = client.get("/api/v1/activities?q=%E8%8A%B1%E8%89%BA")  # 花艺
    assert response.status_code == 200


# --------------------------------------------------------------------------- invisible characters: forms

def _new_activity_form(**overrides) -> dict:
    start = (now() + timedelta(days=10)).replace(microsecond=0, second=0) + timedelta(hours=8)
    fmt = "%Y-%m-%dT%H:%M"
    data = {
        "title": "周末花艺课", "kind": "class", "description": "", "venue": "工会活动室",
        "starts_at": start.strftime(fmt), "ends_at": (start + timedelta(hours=2)).strftime(fmt),
        "signup_opens_at": (start - timedelta(days=9)).strftime(fmt),
        "signup_closes_at": (start - timedelta(days=1)).strftime(fmt),
        "capacity": "30", "mode": "first_come", "visibility": "public", "waitlist_enabled": "y",
    }
    data.update(overrides)
    return data


def test_a_title_of_only_a_zero_width_space_is_refused_with_a_field_error(client, login, people, make):
    login(people["organiser"])
    node = make.tree()[STREET]
    response = client.post("/manage/activities/new", data=_new_activity_form(title="\u200b", node_id=node.id))
    assert response.status_code == 422  # the form again, with the field's error
    assert "此项为必填项" in response.get_data(as_text=True)
    assert _count(Activity) == 0


def test_a_title_is_stored_nfc_without_zero_width_characters(client, login, people, make):
    login(people["organiser"])
    node = make.tree()[STREET]
    response = client.post("/manage/activities/new",
                           data=_new_activity_form(title="Cafe\u0301\u200b 花艺", node_id=node.id))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert db.session.query(Activity.title).scalar() == "Café 花艺"


def test_a_title_with_a_direction_control_is_refused_with_a_field_error(client, login, people, make):
    login(people["organiser"])
    node = make.tree()[STREET]
    response = client.post("/manage/activities/new",
                           data=_new_activity_form(title="花艺\u202e课", node_id=node.id))
    assert response.status_code == 422
    assert BIDI_ZH in response.get_data(as_text=True)
    assert _count(Activity) == 0


def _signup_form(name: str, mobile: str = "13911112222") -> dict:
    return {"mobile": mobile, "name": name, "password": "Secret123 ", "password_again": "Secret123 ",
            "occupation": "other", "union_id": "", "accept_privacy": "y"}


def test_a_name_with_a_right_to_left_override_is_refused(client, people):
    response = client.post("/account/signup", data=_signup_form("王\u202e师傅"))
    assert response.status_code == 422
    assert BIDI_ZH in response.get_data(as_text=True)
    assert db.session.query(User).filter_by(mobile="13911112222").first() is None


def test_a_name_with_a_zero_width_joiner_is_stored_without_it_and_the_password_is_untouched(client, people):
    code = send_sms_code(client, "/account/signup", "13911112222")
    response = client.post("/account/signup", data={**_signup_form("王\u200d师\u200b傅"), "code": code})
    assert response.status_code == 302, response.get_data(as_text=True)
    user = db.session.query(User).filter_by(mobile="13911112222").one()
    assert user.name == "王师傅"
    assert authenticate("13911112222", "Secret123 ") == user  # passwords are never stripped or normalised


def test_a_name_of_only_invisible_characters_is_required(client, people):
    response = client.post("/account/signup", data=_signup_form("\u200b\u200d \ufeff"))
    assert response.status_code == 422
    assert "此项为必填项" in response.get_data(as_text=True)


# --------------------------------------------------------------------------- invisible characters: API

def _create_payload(node_id: int, **overrides) -> dict:
    start = now() + timedelta(days=7)
    payload = {
        "title": "周末花艺课", "kind": "class", "node_id": node_id, "capacity": 30,
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
        "signup_opens_at": now().isoformat(), "signup_closes_at": (start - timedelta(days=1)).isoformat(),
    }
    payload.update(overrides)
    return payload


def test_api_title_of_only_zero_width_is_refused(client, people, make):
    node = make.tree()[MALL]
    response = client.post("/api/v1/activities", json=_create_payload(node.id, title="\u200b\ufeff"),
                           headers=bearer(people["organiser"]))
    body = assert_error(response, 422, "validation_failed")
    assert "title" in body["errors"]
    assert _count(Activity) == 0


def test_api_title_with_a_direction_control_is_refused_and_a_clean_one_is_nfc(client, people, make):
    node = make.tree()[MALL]
    refused = client.post("/api/v1/activities", json=_create_payload(node.id, title="花艺\u2066课"),
                          headers=bearer(people["organiser"]))
    assert assert_error(refused, 422, "validation_failed")["errors"] == {"title": [BIDI_ZH]}
    created = client.post("/api/v1/activities", json=_create_payload(node.id, title="Cafe\u0301\u200d课"),
                          headers=bearer(people["organiser"]))
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["title"] == "Café课"


def test_api_text_answers_are_cleaned_and_direction_controls_refused(client, people, activity):
    key = _question_key(activity)
    refused = client.post(f"/api/v1/activities/{activity.id}/registrations",
                          json={"answers": {key: "L\u202eXL"}}, headers=bearer(people["worker"]))
    assert assert_error(refused, 422)["errors"] == {key: [BIDI_ZH]}
    made = client.post(f"/api/v1/activities/{activity.id}/registrations",
                       json={"answers": {key: "X\u200bL"}}, headers=bearer(people["worker"]))
    assert made.status_code == 201, made.get_data(as_text=True)
    stored = db.session.get(Registration, made.get_json()["id"]).answers
    assert stored == {str(activity.questions[0].id): "XL"}


def test_api_password_is_not_normalised(client, make):
    make.tree()
    make.user("王师傅", mobile="13922223333", password="Cafe\u0301\u200b1x")
    response = client.post("/api/v1/tokens", json={"mobile": "13922223333", "password": "Cafe\u0301\u200b1x"})
    assert response.status_code == 201, response.get_data(as_text=True)


# --------------------------------------------------------------------------- deep JSON, huge integers

@pytest.mark.parametrize("path", ["/api/v1/tokens", "/api/v1/checkins"])
def test_json_nested_100000_deep_is_a_400_not_a_500(client, people, path):
    response = client.post(path, data="[" * 100_000 + "]" * 100_000, content_type="application/json",
                           headers=bearer(people["organiser"]))
    body = assert_error(response, 400, "json_too_deep")
    assert body["message"] == "请求中的 JSON 嵌套层数过多。"


def test_deep_json_to_an_html_json_endpoint_is_a_400(client, login, people, activity):
    login(people["organiser"])
    response = client.post(f"/manage/activities/{activity.id}/checkin/sync",
                           data='{"client_id": "x", "token": ' + "[" * 50_000 + "}",
                           content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("path", [
    "/api/v1/reports/summary?node=99999999999999999999",
    "/api/v1/activities?node=99999999999999999999",
    "/api/v1/activities?page=99999999999999999999",
])
def test_huge_integers_in_api_query_strings_are_422(client, people, path):
    response = client.get(path, headers=bearer(people["officer"]))
    body = assert_error(response, 422, "validation_failed")
    assert body["errors"]


@pytest.mark.parametrize("payload", [
    {"token": "ABCDEF", "activity_id": 2**70},
    {"token": "ABCDEF", "activity_id": -(2**70)},
])
def test_huge_integers_in_api_bodies_are_422(client, people, payload):
    response = client.post("/api/v1/checkins", json=payload, headers=bearer(people["organiser"]))
    assert assert_error(response, 422, "validation_failed")["errors"]["activity_id"]


def test_huge_registration_id_in_check_in_sync_is_a_4xx(client, login, people, activity):
    login(people["organiser"])
    response = client.post(f"/manage/activities/{activity.id}/checkin/sync",
                           json={"client_id": CLIENT_ID, "registration_id": 2**70})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("path", [
    "/manage/activities?page=99999999999999999999",
    "/admin/users?page=99999999999999999999",
    "/admin/audit?page=99999999999999999999",
    "/reports/?node=99999999999999999999",
    "/manage/activities/{id}/roster?page=99999999999999999999&slot=99999999999999999999",
    "/manage/activities/99999999999999999999",
    "/api/v1/activities/99999999999999999999",
])
def test_huge_integers_in_page_urls_are_never_a_500(client, login, make, people, activity, path):
    login(make.user("管理员", role=Role.ADMIN, scope="北京市总工会"))
    response = client.get(path.format(id=activity.id))
    assert response.status_code < 500, response.status_code
