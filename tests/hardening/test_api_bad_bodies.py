"""Bad bodies on every JSON API POST: wrong types, odd Unicode, missing and unknown fields, non-JSON,
duplicate keys, form-encoded and oversized bodies -> a 4xx with a JSON message, never a 500, and a
refused request changes no table.  (Schema-driven fuzzing is in test_api_schemathesis.py.)
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.extensions import db
from unionevents.registrations.services import register

from .conftest import count_case, row_counts
from .test_bad_input import NAUGHTY

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False), st.sampled_from(NAUGHTY), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)

ENDPOINTS = {
    "tokens": ("/api/v1/tokens", ["mobile", "password", "label"]),
    "create activity": ("/api/v1/activities", ["title", "kind", "node_id", "starts_at", "ends_at",
                                                "signup_opens_at", "signup_closes_at", "capacity", "mode",
                                                "visibility", "publish", "cancel_cutoff_at"]),
    "register": ("/api/v1/activities/{activity}/registrations", ["slot_id", "answers", "health_consent",
                                                                 "unit_node_id"]),
    "cancel": ("/api/v1/registrations/{registration}/cancel", []),
    "check in": ("/api/v1/checkins", ["token", "client_id", "activity_id"]),
}
RAW = [b"", b"not json", b"{", b"[]", b"null", b"\"text\"", b"{\"a\":1,\"a\":2}", b"\x00\xff\xfe",
       b"{\"title\": \"" + b"x" * 2_000_000 + b"\"}"]


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_bad_bodies_get_a_json_refusal(app, make, name):
    tree = make.tree()
    organiser = make.user("组织者", union=tree["玉泉营商场工会"], role=Role.ORGANISER,
                          scope=tree["丰台区玉泉营街道总工会"])
    activity = make.activity("接口课", capacity=3)
    registration = register(make.user("职工", union=tree["玉泉营商场工会"]), activity.id)
    headers = {"Authorization": f"Bearer {issue_token(organiser, 'fuzz')}"}
    path, fields = ENDPOINTS[name]
    url = path.format(activity=activity.id, registration=registration.id)
    client = app.test_client()
    problems = []
    body = st.one_of(st.dictionaries(st.sampled_from(fields + ["zzz"]) if fields else st.just("zzz"), values),
                     values)
    raw = st.sampled_from(RAW).map(lambda b: ("raw", b))

    @settings(database=None)
    @given(case=st.one_of(body.map(lambda b: ("json", b)), raw, st.just(("form", {"token": "x"}))))
    def run(case):
        count_case("api bodies")
        kind, payload = case
        before = row_counts()
        if kind == "json":
            response = client.post(url, data=json.dumps(payload), content_type="application/json", headers=headers)
        elif kind == "raw":
            response = client.post(url, data=payload, content_type="application/json", headers=headers)
        else:
            response = client.post(url, data=payload, headers=headers)
        db.session.rollback()
        where = f"{name} {kind} {payload!r:.200} -> {response.status_code}"
        if response.status_code >= 500:
            problems.append(where)
        elif response.status_code >= 400:
            answer = response.get_json(silent=True)
            if not (isinstance(answer, dict) and answer.get("message")):
                problems.append("no JSON message: " + where)
            after = row_counts()
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            changed.pop("audit_log", None)
            if changed:
                problems.append(f"refused but changed {changed}: {where}")

    run()
    assert not problems, "\n".join(problems[:10])
