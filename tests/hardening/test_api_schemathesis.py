"""Schemathesis against /api/v1/openapi.json, in process (WSGI), with an organiser's bearer token.

Every operation gets schema-valid and schema-violating requests; none may answer 5xx, and every
error reply is JSON with a message.  Examples per operation follow the Hypothesis profile (ci/full).
"""
from __future__ import annotations

import gzip
import json

import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.registrations.services import register

from .conftest import count_case


def test_no_operation_answers_a_server_error(app, make):
    tree = make.tree()
    organiser = make.user("组织者", role=Role.ORGANISER, scope=tree["丰台区玉泉营街道总工会"])
    worker = make.user("职工", union=tree["玉泉营商场工会"])
    activity = make.activity("接口测试课", capacity=3)
    register(worker, activity.id)
    token = issue_token(organiser, "schemathesis")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation.as_strategy(generation_mode=mode), token, failures)
    assert operations >= 8
    assert not failures, "\n".join(sorted(set(failures))[:30])


def _json_body(response):
    """The reply's JSON, or None.  Schemathesis asks for gzip and its WSGI transport does not undo
    it, so a long error reply (our gzip layer compresses those) is unpacked here first."""
    content = response.content
    if "gzip" in response.headers.get("content-encoding", []):
        content = gzip.decompress(content)
    try:
        return json.loads(content)
    except ValueError:
        return None


def _fuzz(strategy, token, failures):
    @settings(database=None)
    @given(data=st.data())
    def run(data):
        case = data.draw(strategy)
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        count_case("schemathesis")
        where = f"{case.method} {case.formatted_path} {case.body!r:.200} -> {response.status_code}"
        if response.status_code >= 500:
            failures.append(where)
        elif response.status_code >= 400:
            body = _json_body(response)
            if not (isinstance(body, dict) and body.get("message")):
                failures.append("no JSON message: " + where)

    run()
