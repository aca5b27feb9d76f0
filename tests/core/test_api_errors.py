"""API 422 replies: a list of messages per field, in the request's language — Chinese by default.

The per-field messages are marshmallow's (type errors, validators, an unknown field, a body that is
not an object); ``core.api_fields``, ``core.api_validate`` and ``core.api.ApiSchema`` word them
through the catalog.  English is asked for as elsewhere: the ``lang`` cookie or the token owner's
saved language (``core.i18n.select_locale``; Accept-Language is ignored on purpose).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel.speaklater import LazyString
from marshmallow import ValidationError, fields as ma_fields, validate as ma_validate

from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind
from unionevents.core.api import ApiSchema
from unionevents.core.api_fields import TranslatedErrors
from unionevents.core.db import MAX_ID
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations.api import SignupRequest

from ..api_support import assert_error, bearer

STREET = "丰台区玉泉营街道总工会"
MALL = "玉泉营商场工会"
KINDS = ", ".join(kind.value for kind in ActivityKind)


@pytest.fixture
def api(client, make):
    """``api(endpoint, payload)``: the reply of one API endpoint to a (bad) body or query string."""
    tree = make.tree()
    worker = make.user("王师傅", union=MALL)
    organiser = make.user("组织者", role=Role.ORGANISER, scope=STREET)
    officer = make.user("干部", role=Role.OFFICER, scope=STREET)
    activity = make.activity()
    start = now() + timedelta(days=7)
    good_activity = {
        "title": "周末花艺课", "kind": "class", "node_id": tree[MALL].id, "capacity": 30,
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
        "signup_opens_at": now().isoformat(), "signup_closes_at": (start - timedelta(days=1)).isoformat(),
    }

    def call(endpoint: str, payload, user=None):
        if endpoint == "signup":
            return client.post(f"/api/v1/activities/{activity.id}/registrations", json=payload,
                               headers=bearer(user or worker))
        if endpoint == "tokens":
            return client.post("/api/v1/tokens", json=payload)
        if endpoint == "checkin":
            return client.post("/api/v1/checkins", json=payload, headers=bearer(user or organiser))
        if endpoint == "create":
            return client.post("/api/v1/activities", json={**good_activity, **payload},
                               headers=bearer(user or organiser))
        if endpoint == "catalogue":
            return client.get(f"/api/v1/activities?{payload}")
        if endpoint == "report":
            return client.get(f"/api/v1/reports/summary?{payload}", headers=bearer(user or officer))
        raise AssertionError(endpoint)

    call.worker = worker
    return call


def errors_of(response) -> dict:
    body = assert_error(response, 422, "validation_failed")
    return body["errors"]


# endpoint, body or query, field, Chinese (the default), English
CASES = [
    # a bad integer, a range, an unknown field, a dict, a boolean, a body that is not an object
    ("signup", {"slot_id": "abc"}, "slot_id", "不是有效的整数。", "Not a valid integer."),
    ("signup", {"slot_id": 0}, "slot_id", f"须在 1 到 {MAX_ID} 之间。",
     f"Must be greater than or equal to 1 and less than or equal to {MAX_ID}."),
    ("signup", {"surprise": 1}, "surprise", "未知字段。", "Unknown field."),
    ("signup", {"answers": ["not", "a", "dict"]}, "answers", "不是有效的对象（键值对）。",
     "Not a valid mapping type."),
    ("signup", {"consent": "maybe"}, "consent", "不是有效的布尔值。", "Not a valid boolean."),
    ("signup", [1, 2], "_schema", "输入类型无效。", "Invalid input type."),
    ("signup", "text", "_schema", "输入类型无效。", "Invalid input type."),
    # required, null, length, string
    ("tokens", {"password": "secret"}, "mobile", "此项必填。", "Missing data for required field."),
    ("tokens", {"mobile": "", "password": "secret"}, "mobile", "长度须在 1 到 32 之间。",
     "Length must be between 1 and 32."),
    ("tokens", {"mobile": "13900000000", "password": 5}, "password", "不是有效的字符串。", "Not a valid string."),
    ("checkin", {"token": None}, "token", "不能为空值（null）。", "Field may not be null."),
    ("checkin", {"token": "x", "client_id": "nope"}, "client_id", "不是有效的 UUID。", "Not a valid UUID."),
    ("checkin", {"token": "x", "activity_id": "7"}, "activity_id", "不是有效的整数。", "Not a valid integer."),
    # a date-time, an enum, a range from 0, a length with both ends
    ("create", {"starts_at": "tomorrow"}, "starts_at", "不是有效的日期时间。", "Not a valid datetime."),
    ("create", {"starts_at": "0001-01-01T00:30:00"}, "starts_at", "不是有效的日期时间。", "Not a valid datetime."),
    ("create", {"kind": "party"}, "kind", f"须为以下之一：{KINDS}。", f"Must be one of: {KINDS}."),
    ("create", {"capacity": -1}, "capacity", "须在 0 到 100000 之间。",
     "Must be greater than or equal to 0 and less than or equal to 100000."),
    ("create", {"title": "长" * 121}, "title", "长度须在 1 到 120 之间。", "Length must be between 1 and 120."),
    # query strings: a date, a choice, a maximum length, a page size
    ("catalogue", "from=2026-13-01", "from", "不是有效的日期。", "Not a valid date."),
    ("catalogue", "kind=party", "kind", f"须为以下之一：{KINDS}。", f"Must be one of: {KINDS}."),
    ("catalogue", "q=" + "长" * 61, "q", "长度不能超过 60。", "Longer than maximum length 60."),
    ("catalogue", "per_page=51", "per_page", "须在 1 到 50 之间。",
     "Must be greater than or equal to 1 and less than or equal to 50."),
    ("report", "node=abc", "node", "不是有效的整数。", "Not a valid integer."),
]
IDS = [f"{endpoint}-{field}-{english}" for endpoint, _payload, field, _zh, english in CASES]


@pytest.mark.parametrize("endpoint, payload, field, chinese, english", CASES, ids=IDS)
def test_field_messages_are_chinese_by_default(api, endpoint, payload, field, chinese, english):
    assert errors_of(api(endpoint, payload))[field] == [chinese]


@pytest.mark.parametrize("endpoint, payload, field, chinese, english", CASES, ids=IDS)
def test_field_messages_are_english_when_the_request_asks_for_english(client, api, endpoint, payload, field,
                                                                      chinese, english):
    client.set_cookie("lang", "en")
    assert errors_of(api(endpoint, payload))[field] == [english]


def test_the_token_owners_saved_language_is_used(api):
    api.worker.locale = "en"
    db.session.commit()
    assert errors_of(api("signup", {"slot_id": "abc"})) == {"slot_id": ["Not a valid integer."]}


def test_every_message_of_a_reply_is_translated_and_nested_ones_too(api):
    errors = errors_of(api("signup", {"slot_id": "abc", "consent": "maybe", "extra": 1,
                                      "answers": {"k" * 21: "x"}}))
    assert errors == {
        "slot_id": ["不是有效的整数。"], "consent": ["不是有效的布尔值。"], "extra": ["未知字段。"],
        "answers": {"k" * 21: {"key": ["长度不能超过 20。"]}},
    }


def test_the_language_is_the_requests_each_time_not_the_first_ones(client, api):
    """The messages are lazy: evaluated per request, never frozen in one language."""
    for lang, expected in [("en", "Unknown field."), ("zh_Hans", "未知字段。"), ("en", "Unknown field.")]:
        client.set_cookie("lang", lang)
        assert errors_of(api("signup", {"surprise": 1})) == {"surprise": [expected]}


def test_a_failed_load_holds_plain_strings_outside_the_http_layer_too(app):
    with app.test_request_context():
        with pytest.raises(ValidationError) as failed:
            SignupRequest().load({"slot_id": "abc", "surprise": 1})
    assert failed.value.messages == {"slot_id": ["不是有效的整数。"], "surprise": ["未知字段。"]}
    assert all(type(message) is str for messages in failed.value.messages.values() for message in messages)


# --- every request schema keeps to the translated pieces ---------------------------------------------

def request_schemas(app):
    """(where, schema) of every ``@blp.arguments`` of the JSON API."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            handler = getattr(view_class, method.lower(), None)
            for parameter in getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", []):
                yield f"{method} {rule.rule}", parameter["schema"]


def untranslated(field, where: str) -> list[str]:
    problems = []
    if not isinstance(field, TranslatedErrors):
        problems.append(f"{where}: {type(field).__name__} is not from core.api_fields")
    for validator in field.validators:
        if isinstance(validator, ma_validate.Validator) and not isinstance(getattr(validator, "error", None),
                                                                           LazyString):
            problems.append(f"{where}: {type(validator).__name__} is not from core.api_validate")
    inner = [("[]", getattr(field, "inner", None)), ("{key}", getattr(field, "key_field", None)),
             ("{value}", getattr(field, "value_field", None))]
    inner += [(f"[{i}]", f) for i, f in enumerate(getattr(field, "tuple_fields", []))]
    for suffix, sub in inner:
        if sub is not None:
            problems += untranslated(sub, where + suffix)
    if isinstance(field, ma_fields.Nested):
        problems += schema_problems(field.schema, where)
    return problems


def schema_problems(schema, where: str) -> list[str]:
    problems = []
    if not isinstance(schema, ApiSchema):
        problems.append(f"{where}: {type(schema).__name__} is not an ApiSchema")
    for name, field in schema.load_fields.items():
        problems += untranslated(field, f"{where} {name}")
    return problems


def test_every_request_schema_answers_in_the_requests_language(app):
    schemas = list(request_schemas(app))
    assert len(schemas) >= 6, schemas  # the guard below looks at something
    problems = [problem for where, schema in schemas for problem in schema_problems(schema, where)]
    assert not problems, "\n".join(problems)


def test_the_guard_sees_a_plain_marshmallow_field_or_validator():
    class Plain(ApiSchema):
        class Meta:
            register = False  # not in marshmallow's class registry

        n = ma_fields.Integer(validate=ma_validate.Range(min=1))

    assert schema_problems(Plain(), "Plain") == ["Plain n: Integer is not from core.api_fields",
                                                 "Plain n: Range is not from core.api_validate"]
