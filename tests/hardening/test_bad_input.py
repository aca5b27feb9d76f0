"""Bad input on every HTML form, filter and upload: never a 500, and a refused case changes nothing.

For each target (a form page, a filter page, an upload) Hypothesis builds requests whose fields are
odd Unicode (NUL, RTL marks, emoji, 10k characters), numbers out of every range, impossible or
reversed dates, wrong types, missing fields and repeated fields, mixed with valid values so that
later checks are reached too.  Every answer must be below 500; an HTML POST answered with the form
again (200 or 4xx) must leave every table's row count unchanged.  The API is covered by
test_api_schemathesis.py and by ``test_api_bodies_of_the_wrong_shape`` here.

Examples per target: the "ci" profile (25) or "full" (500, HYPOTHESIS_PROFILE=full / make bench).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind, QuestionKind
from unionevents.activities.services import add_question, add_slots
from unionevents.core.timeutil import now, utc_to_local
from unionevents.extensions import db
from unionevents.registrations.services import register

from .conftest import count_case, row_counts

NAUGHTY = [
    "", " ", "\x00", "a\x00b", "\u202eevil\u202c", "\u200f\u200e", "😀" * 20, "𝕏" * 300, "x" * 10_000,
    "<script>alert(1)</script>", "' OR 1=1 --", "\"; DROP TABLE user; --", "%00", "../../etc/passwd",
    "\r\n\r\n", "\t", "NaN", "Infinity", "-1", "0", "-0", "1e309", "2147483648", "-2147483649",
    "99999999999999999999999999", "1.5", "0x10", "true", "null", "None", "[]", "{}", "１２３",
    "2030-13-45", "2030-02-30T25:61", "0000-00-00", "9999-12-31T23:59", "9999-12-31", "0001-01-01", "1900-01-01T00:00",
    "13800138000", "138001380001234", "9999999999", "#4294967296", "²", "٣", "+86 138 0013 8000", "\ufeff13800138000",
]
nasty = st.one_of(st.sampled_from(NAUGHTY), st.text(max_size=40),
                  st.integers(min_value=-(2**70), max_value=2**70).map(str),
                  st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
                  st.dates().map(lambda d: d.isoformat()))


@dataclass
class Target:
    name: str
    identity: str                      # "anonymous", "worker", "organiser", "admin"
    url: Callable[[dict], str]         # (world) -> url
    fields: dict[str, list[str]]       # field -> valid values (mixed with the nasty ones)
    method: str = "POST"
    upload: str | None = None          # a multipart file field
    ok_200: bool = False               # a 200 answer is the success page (e.g. the new token shown once)


def _local(dt, fmt="%Y-%m-%dT%H:%M"):
    return utc_to_local(dt).strftime(fmt)


def _activity_fields(w):
    start = now() + timedelta(days=30)
    return {"title": ["新的活动"], "kind": ["class", "contest", "health"], "node_id": [str(w["node"].id)],
            "description": ["说明"], "venue": ["会议室"], "starts_at": [_local(start)],
            "ends_at": [_local(start + timedelta(hours=2)), _local(start - timedelta(hours=2))],
            "signup_opens_at": [_local(now())], "signup_closes_at": [_local(start - timedelta(days=1))],
            "cancel_cutoff_at": ["", _local(start + timedelta(days=3))], "capacity": ["10", "0"],
            "waitlist_enabled": ["y"], "mode": ["first_come", "lottery", "approval"],
            "visibility": ["public"], "members_only": ["y"], "occupations": ["courier"],
            "eligible_node_ids": [str(w["node"].id)]}


def _day(w):
    return [_local(w["activity"].starts_at, "%Y-%m-%d")]


TARGETS = [
    Target("signup", "anonymous", lambda w: "/account/signup",
           {"mobile": ["13912345678"], "name": ["张三"], "password": ["secret123"],
            "password_again": ["secret123"], "union_id": lambda w: [str(w["union"].id)],
            "occupation": ["courier"], "district": ["丰台区"], "member_card_no": ["A1"],
            "accept_privacy": ["y"]}),
    Target("login", "anonymous", lambda w: "/account/login",
           {"mobile": lambda w: [w["worker"].mobile], "password": ["secret123", "wrong"], "remember": ["y"],
            "next": ["/me/registrations", "//evil.example", "https://evil.example/"]}),
    Target("activate", "anonymous", lambda w: "/account/activate",
           {"mobile": ["13912345678"], "code": ["123456"], "password": ["secret123"],
            "password_again": ["secret123"], "accept_privacy": ["y"]}),
    Target("profile", "worker", lambda w: "/account/profile",
           {"name": ["李四"], "union_id": lambda w: [str(w["union"].id)], "occupation": ["courier"],
            "district": ["朝阳区"], "member_card_no": ["B2"]}),
    Target("password", "worker", lambda w: "/account/password",
           {"current_password": ["secret123", "nope"], "new_password": ["secret456"],
            "new_password_again": ["secret456"]}),
    Target("token", "worker", lambda w: "/account/tokens", {"label": ["手机"]}, ok_200=True),
    Target("delete account", "worker", lambda w: "/account/delete", {"password": ["wrong"], "understood": ["y"]}),
    Target("language", "anonymous", lambda w: "/language", {"locale": ["en", "zh"], "next": ["/", "//evil"]}),
    Target("activity create", "organiser", lambda w: "/manage/activities/new", _activity_fields),
    Target("activity edit", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/edit",
           _activity_fields),
    Target("activity copy", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/copy",
           {"starts_at": [_local(now() + timedelta(days=40))]}),
    Target("slot", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/slots",
           {"date": _day, "starts_at": ["10:00"], "ends_at": ["10:30", "09:00"], "capacity": ["3"]}),
    Target("slot generate", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/slots/generate",
           {"date": _day, "first_start": ["09:00"], "last_end": ["11:00"], "minutes": ["20", "0"],
            "capacity_each": ["2"]}),
    Target("question", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/questions",
           {"label": ["尺码"], "kind": ["text", "single_choice", "multi_choice", "number"], "required": ["y"],
            "choices": ["S\nM\nL", "S\nS"]}),
    Target("question edit", "organiser",
           lambda w: f"/manage/activities/{w['activity'].id}/questions/{w['question'].id}/edit",
           {"label": ["尺码"], "kind": ["text", "single_choice"], "required": ["y"], "choices": ["S\nM"]}),
    Target("question move", "organiser",
           lambda w: f"/manage/activities/{w['activity'].id}/questions/{w['question'].id}/move",
           {"direction": ["up", "down"]}),
    Target("quota", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/quotas",
           {"node_id": lambda w: [str(w["union"].id)], "quota": ["2"]}),
    Target("cancel activity", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/cancel",
           {"reason": ["下雨"]}),
    Target("sign-up with answers", "worker", lambda w: f"/activities/{w['activity'].id}/signup",
           lambda w: {"slot_id": [str(w["slot"].id)], f"q{w['question'].id}": ["M"],
                      f"q{w['number_question'].id}": ["3"], "consent": ["y"]}),
    Target("walk-in", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/walk-in",
           {"mobile": ["13987654321"], "name": ["王五"], "slot_id": lambda w: [str(w["slot"].id)],
            "check_in_now": ["y"], "return_to": ["checkin", "roster"]}),
    Target("ticket check-in", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/checkin/ticket",
           {"token": ["abc"]}),
    Target("roster bulk", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/roster/bulk",
           {"action": ["approve", "reject", "cancel", "promote"], "ids": lambda w: [str(w["registration"].id)],
            "back": ["/manage/activities", "//evil.example"]}),
    Target("roster message", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/roster/message",
           {"audience": ["all", "state"], "state": ["confirmed"], "subject": ["通知"], "body": ["明天见"]}),
    Target("roster export", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/roster/export",
           {"format": ["xlsx", "csv"], "full_mobile": ["y"], "q": ["张"], "state": ["confirmed"]}),
    Target("roster filters", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/roster",
           {"q": ["张"], "state": ["confirmed"], "slot": ["1"], "union": ["1"], "occupation": ["courier"],
            "sort": ["name"], "dir": ["desc"], "page": ["2"]}, method="GET"),
    Target("check-in search", "organiser", lambda w: f"/manage/activities/{w['activity'].id}/checkin",
           {"q": ["张"]}, method="GET"),
    Target("catalogue filters", "anonymous", lambda w: "/activities/",
           {"kind": ["class"], "node": ["1"], "district": ["丰台区"], "from": ["2030-01-01"], "to": ["2029-01-01"],
            "q": ["课"], "page": ["2"], "per_page": ["5"], "open": ["1"], "places": ["1"]}, method="GET"),
    Target("manage filters", "organiser", lambda w: "/manage/activities",
           {"status": ["draft"], "kind": ["class"], "node": ["1"], "page": ["3"]}, method="GET"),
    Target("admin users", "admin", lambda w: "/admin/users", {"q": ["张"], "page": ["2"]}, method="GET"),
    Target("admin audit", "admin", lambda w: "/admin/audit",
           {"action": ["login"], "actor": ["1"], "from": ["2030-01-01"], "to": ["2020-01-01"], "page": ["2"]},
           method="GET"),
    Target("union search", "anonymous", lambda w: "/unions/search", {"q": ["丰台"]}, method="GET"),
    Target("grant role", "admin", lambda w: "/admin/grants",
           {"mobile": lambda w: [w["worker"].mobile], "role": ["organiser", "judge", "admin"],
            "node_id": lambda w: [str(w["node"].id)]}),
    Target("import upload", "admin", lambda w: "/admin/users/import", {}, upload="file"),
    Target("union tree search", "admin", lambda w: "/admin/unions", {"q": ["丰台"], "page": ["2"]}, method="GET"),
    Target("union page search", "organiser", lambda w: f"/admin/unions/{w['node'].id}",
           {"target_q": ["玉泉营"], "page": ["2"]}, method="GET"),
    Target("union add child", "organiser", lambda w: f"/admin/unions/{w['node'].id}/children",
           {"name": ["新工会"], "kind": ["workplace", "street"]}),
    Target("union rename", "admin", lambda w: f"/admin/unions/{w['union'].id}/rename", {"name": ["新名称"]}),
    Target("union move", "admin", lambda w: f"/admin/unions/{w['union'].id}/move",
           {"target_id": lambda w: [str(w["tree"]["朝阳区奥运村街道总工会"].id), str(w["union"].id)]}),
    Target("union merge", "admin", lambda w: f"/admin/unions/{w['union'].id}/merge",
           {"target_id": lambda w: [str(w["tree"]["奥运村快递驿站联合工会"].id), str(w["node"].id)]}),
    Target("union picker search", "anonymous", lambda w: "/account/signup", {"union_q": ["驿站"]}, method="GET"),
]

UPLOADS = [
    ("workers.csv", "text/csv", "手机号,姓名,工会\n13911112222,张三,玉泉营商场工会\n".encode()),
    ("workers.csv", "text/csv", b"\xff\xfe\x00garbage\x00" * 100),
    ("workers.csv", "text/csv", ("手机号,姓名\n" + "13911112222,\x00<script>\n" * 50).encode()),
    ("workers.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04not a zip"),
    ("workers.xlsx", "application/octet-stream", b"%PDF-1.4 fake"),
    ("workers.exe", "application/x-msdownload", b"MZ\x90\x00"),
    ("", "text/csv", b""),
    ("big.csv", "text/csv", b"13911112222,a\n" * 400_000),  # over the upload limit
    ("../../etc/passwd.csv", "text/csv", b"mobile,name\n"),
]


def _world(make):
    tree = make.tree()
    node = tree["丰台区玉泉营街道总工会"]
    union = tree["玉泉营商场工会"]
    worker = make.user("职工", union=union)
    activity = make.activity("坏输入测试课", capacity=5, node=node)
    slot = add_slots(activity, activity.starts_at, activity.starts_at + timedelta(minutes=60), 30, 2)[0]
    question = add_question(activity, "尺码", QuestionKind.SINGLE_CHOICE, required=True, choices=["S", "M", "L"])
    number_question = add_question(activity, "人数", QuestionKind.NUMBER)
    db.session.commit()
    other = make.user("报名者", union=union)
    registration = register(other, activity.id, slot_id=slot.id,
                            answers={str(question.id): "S"})
    people = {
        "anonymous": None, "worker": worker,
        "organiser": make.user("组织者", union=union, role=Role.ORGANISER, scope=node),
        "admin": make.user("管理员", union=union, role=Role.ADMIN, scope=tree["北京市总工会"]),
    }
    return {"tree": tree, "node": node, "union": union, "worker": worker, "activity": activity,
            "slot": slot, "question": question, "number_question": number_question,
            "registration": registration, "people": people}


def _field_values(target, w):
    fields = target.fields(w) if callable(target.fields) else target.fields
    return {name: (valid(w) if callable(valid) else valid) for name, valid in fields.items()}


def _request_strategy(fields: dict[str, list[str]]):
    """A list of (name, value) pairs: each field missing, once, or repeated; values valid or nasty."""
    def one_field(name, valid):
        value = st.one_of(st.sampled_from(valid), nasty) if valid else nasty
        return st.one_of(st.just([]), value.map(lambda v: [(name, v)]),
                         st.lists(value, min_size=2, max_size=3).map(lambda vs: [(name, v) for v in vs]))
    parts = [one_field(name, valid) for name, valid in fields.items()]
    parts.append(st.lists(st.tuples(st.sampled_from(["zzz", "id", "csrf_token", "q0"]), nasty), max_size=2))
    return st.tuples(*parts).map(lambda lists: [pair for part in lists for pair in part])


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_bad_input_never_breaks_a_form(app, make, target):
    w = _world(make)
    fields = _field_values(target, w)
    user = w["people"][target.identity]
    client = app.test_client()
    if user is not None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
    url = target.url(w)
    problems: list[str] = []

    strategy = _request_strategy(fields)
    if target.upload:
        strategy = st.tuples(strategy, st.sampled_from(UPLOADS), st.booleans())

    @settings(database=None)
    @given(case=strategy)
    def run(case):
        count_case("html forms")
        before = row_counts() if target.method == "POST" else None
        if target.upload:
            pairs, (filename, mimetype, content), as_text = case
            data = MultiDict(pairs)
            data[target.upload] = content.decode("latin-1") if as_text else \
                (io.BytesIO(content), filename, mimetype)
            response = client.post(url, data=data, content_type="multipart/form-data")
        elif target.method == "GET":
            response = client.get(url, query_string=MultiDict(case))
        else:
            response = client.post(url, data=MultiDict(case))
        db.session.rollback()
        if response.status_code >= 500:
            problems.append(f"{response.status_code} {target.method} {url} {case!r:.300}")
            return
        if target.method == "POST" and (response.status_code == 200 and not target.ok_200 or 400 <= response.status_code < 500):
            after = row_counts()
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            changed.pop("audit_log", None)  # reads and refusals may be audited; data may not change
            if changed:
                problems.append(f"refused ({response.status_code}) but changed {changed}: {case!r:.300}")
        if target.method == "POST" and response.status_code == 200 and response.mimetype == "text/html" \
                and b"<form" not in response.data:
            problems.append(f"refused without the form again: {case!r:.300}")

    run()
    assert not problems, "\n".join(problems[:10])
