"""JSON API v1 for activities (catalogue and detail), tokens, and the OpenAPI document."""
from __future__ import annotations

from datetime import timedelta

import pytest
from openapi_spec_validator import validate as validate_openapi

from unionevents.accounts.models import Occupation
from unionevents.activities.models import ActivityKind, QuestionKind
from unionevents.activities.services import add_question
from unionevents.core.timeutil import now, utc_to_local
from unionevents.extensions import db

from ..api_support import assert_error, bearer
from ..factories import PASSWORD


def titles(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["title"] for item in response.get_json()["items"]]


# --- Catalogue ----------------------------------------------------------------------------------------

def test_catalogue_lists_published_activities_soonest_first(client, make):
    make.activity("游泳课", starts_in=timedelta(days=5))
    make.activity("书法课", starts_in=timedelta(days=3))
    make.activity("草稿", publish=False)
    response = client.get("/api/v1/activities")
    assert titles(response) == ["书法课", "游泳课"]
    item = response.get_json()["items"][0]
    assert item["kind"] == "class" and item["places_left"] == 10
    assert item["organiser"]["name"] == "丰台区玉泉营街道总工会"
    assert item["starts_at"].endswith("+00:00")
    assert response.get_json()["pagination"] == {"page": 1, "per_page": 10, "total": 2, "pages": 1}


def test_catalogue_filters_like_the_html_page(client, make):
    tree = make.tree()
    make.activity("朝阳体检", node=tree["奥运村快递驿站联合工会"], kind=ActivityKind.HEALTH)
    make.activity("丰台体检", kind=ActivityKind.HEALTH)
    make.activity("丰台课程")
    make.activity("已满课程", capacity=0)
    make.activity("未开放课程", signup_opens_at=now() + timedelta(days=1))
    assert titles(client.get("/api/v1/activities?kind=health")) == ["朝阳体检", "丰台体检"]  # same start: by id
    # A node includes its whole subtree.
    chaoyang = tree["朝阳区总工会"].id
    assert titles(client.get(f"/api/v1/activities?node={chaoyang}")) == ["朝阳体检"]
    assert titles(client.get("/api/v1/activities?district=朝阳区")) == ["朝阳体检"]
    assert titles(client.get("/api/v1/activities?q=体检&kind=health&district=丰台区")) == ["丰台体检"]
    assert "已满课程" not in titles(client.get("/api/v1/activities?places_left=true"))
    assert "未开放课程" not in titles(client.get("/api/v1/activities?open_now=true"))
    assert "未开放课程" in titles(client.get("/api/v1/activities"))


def test_catalogue_date_filters_use_local_dates(client, make):
    make.activity("近期", starts_in=timedelta(days=2))
    far = make.activity("远期", starts_in=timedelta(days=20))
    day = utc_to_local(far.starts_at).date()
    assert titles(client.get(f"/api/v1/activities?from={day.isoformat()}")) == ["远期"]
    assert titles(client.get(f"/api/v1/activities?to={(day - timedelta(days=5)).isoformat()}")) == ["近期"]


def test_catalogue_pages_are_bounded(client, make):
    for n in range(5):
        make.activity(f"课程{n}", starts_in=timedelta(days=n + 1))
    page2 = client.get("/api/v1/activities?per_page=2&page=2").get_json()
    assert [i["title"] for i in page2["items"]] == ["课程2", "课程3"]
    assert page2["pagination"] == {"page": 2, "per_page": 2, "total": 5, "pages": 3}
    past_the_end = client.get("/api/v1/activities?per_page=2&page=99").get_json()
    assert past_the_end["pagination"]["page"] == 3
    assert_error(client.get("/api/v1/activities?per_page=51"), 422, "validation_failed")


@pytest.mark.parametrize("query, field", [
    ("kind=party", "kind"), ("node=abc", "node"), ("from=2026-13-01", "from"), ("page=0", "page"),
    ("per_page=0", "per_page"), ("open_now=maybe", "open_now"), ("q=" + "长" * 61, "q"),
    ("from=2026-12-10&to=2026-12-01", "to"),
])
def test_bad_catalogue_arguments_are_422_per_field(client, make, query, field):
    body = assert_error(client.get(f"/api/v1/activities?{query}"), 422, "validation_failed")
    assert field in body["errors"], body


def test_eligible_filter_needs_a_token_and_applies_the_workers_situation(client, make):
    make.tree()
    make.activity("骑手专场", occupations=[Occupation.RIDER])
    make.activity("大家的课")
    assert_error(client.get("/api/v1/activities?eligible=true"), 401, "unauthorized")
    courier = make.user("快递员", union="奥运村快递驿站联合工会", occupation=Occupation.COURIER)
    rider = make.user("骑手", union="奥运村快递驿站联合工会", occupation=Occupation.RIDER)
    assert titles(client.get("/api/v1/activities?eligible=true", headers=bearer(courier))) == ["大家的课"]
    assert sorted(titles(client.get("/api/v1/activities?eligible=1", headers=bearer(rider)))) == \
        sorted(["骑手专场", "大家的课"])


def test_an_invalid_token_on_a_public_endpoint_is_401(client, make):
    activity = make.activity()
    assert_error(client.get("/api/v1/activities", headers=bearer("ue_revoked-or-made-up")), 401)
    assert_error(client.get(f"/api/v1/activities/{activity.id}", headers=bearer("ue_nope")), 401)


# --- Detail ---------------------------------------------------------------------------------------------

def test_detail_for_an_anonymous_visitor(client, make):
    activity = make.activity(capacity=3)
    question = add_question(activity, "T恤尺码", QuestionKind.SINGLE_CHOICE, required=True, choices=["M", "L"])
    db.session.commit()
    response = client.get(f"/api/v1/activities/{activity.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == activity.id
    assert body["places_left"] == 3 and body["waitlist_length"] == 0
    assert body["window"] == "open"
    assert body["questions"] == [{"id": question.id, "label": "T恤尺码", "kind": "single_choice",
                                  "required": True, "choices": ["M", "L"]}]
    assert body["signup"]["can_sign_up"] is False  # not logged in
    assert body["signup"]["reasons"]
    assert body["signup"]["registration_id"] is None


def test_detail_for_a_worker_shows_eligibility_places_and_their_registration(client, make):
    make.tree()
    activity = make.activity(capacity=1)
    worker = make.user("王师傅", union="玉泉营商场工会")
    headers = bearer(worker)
    before = client.get(f"/api/v1/activities/{activity.id}", headers=headers).get_json()
    assert before["signup"]["can_sign_up"] is True
    assert before["signup"]["reasons"] == []
    mine = client.post(f"/api/v1/activities/{activity.id}/registrations", json={}, headers=headers).get_json()
    client.post(f"/api/v1/activities/{activity.id}/registrations", json={},
                headers=bearer(make.user("李师傅", union="玉泉营商场工会")))
    after = client.get(f"/api/v1/activities/{activity.id}", headers=headers).get_json()
    assert after["places_left"] == 0
    assert after["waitlist_length"] == 1
    assert after["signup"]["can_sign_up"] is False
    assert after["signup"]["registration_id"] == mine["id"]
    assert after["signup"]["registration_state"] == "confirmed"


def test_detail_window_states(client, make):
    not_open = make.activity("未开放", signup_opens_at=now() + timedelta(days=1))
    closed = make.activity("已截止", signup_opens_at=now() - timedelta(days=3),
                           signup_closes_at=now() - timedelta(days=1))
    assert client.get(f"/api/v1/activities/{not_open.id}").get_json()["window"] == "not_open"
    assert client.get(f"/api/v1/activities/{closed.id}").get_json()["window"] == "closed"


def test_detail_of_a_draft_or_unknown_activity_is_404(client, make):
    draft = make.activity(publish=False)
    assert_error(client.get(f"/api/v1/activities/{draft.id}"), 404)
    assert_error(client.get("/api/v1/activities/999999"), 404)


def test_unknown_api_paths_and_methods_answer_in_json(client):
    assert_error(client.get("/api/v1/nothing-here"), 404)
    response = client.delete("/api/v1/activities")
    assert_error(response, 405)
    assert "GET" in response.headers["Allow"]


# --- Tokens -----------------------------------------------------------------------------------------------

def test_token_for_mobile_and_password(client, make):
    worker = make.user("王师傅", mobile="13912345678")
    response = client.post("/api/v1/tokens", json={"mobile": "139 1234 5678", "password": PASSWORD})
    assert response.status_code == 201
    token = response.get_json()["token"]
    assert client.get("/api/v1/me/registrations", headers=bearer(token)).status_code == 200
    assert worker.id


def test_token_refused_with_the_same_answer_for_unknown_mobile_and_wrong_password(client, make):
    make.user("王师傅", mobile="13912345678")
    wrong = assert_error(client.post("/api/v1/tokens", json={"mobile": "13912345678", "password": "nope"}), 401)
    unknown = assert_error(client.post("/api/v1/tokens", json={"mobile": "13900000000", "password": "nope"}), 401)
    assert wrong == unknown
    body = assert_error(client.post("/api/v1/tokens", json={"mobile": "13912345678"}), 422)
    assert "password" in body["errors"]


# --- OpenAPI --------------------------------------------------------------------------------------------

API_ENDPOINTS = {
    ("post", "/api/v1/tokens"),
    ("get", "/api/v1/activities"),
    ("get", "/api/v1/activities/{activity_id}"),
    ("post", "/api/v1/activities/{activity_id}/registrations"),
    ("get", "/api/v1/me/registrations"),
    ("get", "/api/v1/registrations/{registration_id}"),
    ("post", "/api/v1/registrations/{registration_id}/cancel"),
}
#: POSTs that take no body, so nothing to answer 422 about.
BODILESS_POSTS = {("post", "/api/v1/registrations/{registration_id}/cancel"),
                  ("post", "/api/v1/registrations/{registration_id}/accept")}
PUBLIC = {("post", "/api/v1/tokens"), ("post", "/api/v1/auth/sms-codes"), ("get", "/api/v1/activities"),
          ("get", "/api/v1/activities/{activity_id}"), ("get", "/api/v1/activities/{activity_id}/series"),
          ("get", "/api/v1/unions")}


def openapi_operations(spec) -> dict[tuple[str, str], dict]:
    return {(method, path): operation for path, item in spec["paths"].items()
            for method, operation in item.items() if method in ("get", "post", "put", "patch", "delete")}


def test_openapi_document_is_valid_and_covers_every_endpoint(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate_openapi(spec)  # structurally valid OpenAPI 3
    assert spec["openapi"].startswith("3.")
    operations = openapi_operations(spec)
    assert API_ENDPOINTS <= set(operations)
    # Every API route in the app is documented (nothing served that the document does not describe).
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        path = rule.rule.replace("<int:", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method.lower(), path) in operations, (method, path)
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}


def test_openapi_every_endpoint_has_schemas_errors_and_security(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for key, operation in openapi_operations(spec).items():
        responses = operation["responses"]
        successes = [code for code in responses if code.startswith("2")]
        assert successes, key
        for code in successes:
            assert "schema" in responses[code]["content"]["application/json"], key
        errors = {code for code in responses if code[0] in "45"}
        if key in PUBLIC:
            assert operation.get("security") in ([], [{}, {"bearerAuth": []}]), key
        else:
            assert "security" not in operation or operation["security"] == [{"bearerAuth": []}], key
            assert spec["security"] == [{"bearerAuth": []}]
            assert "401" in errors, key
        if key[0] == "post":
            assert "422" in errors or key in BODILESS_POSTS, key
        for code in errors:
            response = responses[code]
            if "$ref" in response:
                name = response["$ref"].rsplit("/", 1)[1]
                response = spec["components"]["responses"][name]
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApiError"}
    signup = openapi_operations(spec)[("post", "/api/v1/activities/{activity_id}/registrations")]
    assert {"401", "403", "404", "409", "422"} <= set(signup["responses"])
    assert "registration_id" in spec["components"]["schemas"]["ApiError"]["properties"]
