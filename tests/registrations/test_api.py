"""JSON API v1 for registrations: sign up, my registrations, one registration, cancel."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from unionevents.accounts.services import issue_token, revoke_token
from unionevents.activities.models import QuestionKind
from unionevents.activities.services import add_question
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState
from unionevents.registrations.services import register

from ..api_support import assert_error, bearer


def signup_url(activity) -> str:
    return f"/api/v1/activities/{activity.id if hasattr(activity, 'id') else activity}/registrations"


@pytest.fixture
def worker(make):
    make.tree()
    return make.user("王师傅", union="玉泉营商场工会")


@pytest.fixture
def headers(worker):
    return bearer(worker)


def registration_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Registration))


# --- Sign-up ------------------------------------------------------------------------------------------

def test_signup_confirms_a_place(client, make, worker, headers):
    activity = make.activity(capacity=2)
    response = client.post(signup_url(activity), json={}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["state"] == "confirmed"
    assert body["waitlist_position"] is None
    assert body["activity_id"] == activity.id
    assert body["created_at"].endswith("+00:00")
    registration = db.session.get(Registration, body["id"])
    assert registration.user_id == worker.id
    assert registration.state == RegistrationState.CONFIRMED


def test_signup_on_a_database_busy_through_every_retry_says_when_to_try_again(client, make, headers,
                                                                                 monkeypatch):
    from sqlalchemy.exc import OperationalError

    from unionevents.registrations.services import transactions

    activity = make.activity(capacity=2)

    def locked():
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    monkeypatch.setattr(transactions, "RETRY_BACKOFF", 0.001)
    monkeypatch.setattr(transactions, "write_transaction", locked)
    response = client.post(signup_url(activity), json={}, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    body = response.get_json()
    assert body["code"] == "busy" and body["message"] == "当前报名人数较多，请稍后再试。"
    assert registration_count() == 0


def test_signup_when_full_joins_the_waiting_list_with_a_position(client, make, headers):
    activity = make.activity(capacity=1)
    first = make.user("李师傅")
    assert client.post(signup_url(activity), json={}, headers=bearer(first)).status_code == 201
    response = client.post(signup_url(activity), json={}, headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "waitlisted"
    assert body["waitlist_position"] == 1


def test_answers_are_stored_keyed_by_question_id(client, make, headers):
    activity = make.activity()
    question = add_question(activity, "T恤尺码", QuestionKind.SINGLE_CHOICE, required=True,
                            choices=["M", "L", "XL"])
    db.session.commit()
    response = client.post(signup_url(activity), json={"answers": {str(question.id): "L"}}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["answers"] == {str(question.id): "L"}


def test_second_signup_is_409_with_the_existing_registration_id(client, make, headers):
    activity = make.activity()
    first = client.post(signup_url(activity), json={}, headers=headers).get_json()
    response = client.post(signup_url(activity), json={}, headers=headers)
    body = assert_error(response, 409, "already_registered")
    assert body["registration_id"] == first["id"]
    assert registration_count() == 1


def test_signup_outside_the_window_is_409(client, make, headers):
    activity = make.activity(signup_opens_at=now() + timedelta(days=1))
    assert_error(client.post(signup_url(activity), json={}, headers=headers), 409, "window_closed")
    assert registration_count() == 0


def test_full_without_waiting_list_is_409(client, make, headers):
    activity = make.activity(capacity=1, waitlist_enabled=False)
    client.post(signup_url(activity), json={}, headers=bearer(make.user("李师傅")))
    assert_error(client.post(signup_url(activity), json={}, headers=headers), 409, "full")
    assert registration_count() == 1


def test_not_eligible_is_403(client, make):
    activity = make.activity(members_only=True)
    outsider = make.user("无工会职工")  # no union: not a member
    assert_error(client.post(signup_url(activity), json={}, headers=bearer(outsider)), 403, "not_eligible")
    assert registration_count() == 0


def test_unknown_and_draft_activities_are_404(client, make, headers):
    draft = make.activity(publish=False)
    assert_error(client.post(signup_url(999999), json={}, headers=headers), 404)
    assert_error(client.post(signup_url(draft), json={}, headers=headers), 404)


# --- 422: the body's shape (webargs) and the service's own checks ------------------------------------

@pytest.mark.parametrize("payload, field", [
    ({"answers": ["not", "an", "object"]}, "answers"),
    ({"slot_id": "abc"}, "slot_id"),
    ({"slot_id": 0}, "slot_id"),
    ({"consent": "maybe"}, "consent"),
    ({"surprise": 1}, "surprise"),
])
def test_malformed_bodies_are_422_per_field(client, make, headers, payload, field):
    activity = make.activity()
    body = assert_error(client.post(signup_url(activity), json=payload, headers=headers), 422,
                        "validation_failed")
    assert field in body["errors"], body
    assert all(isinstance(message, str) for message in body["errors"][field])
    assert registration_count() == 0


def test_a_body_that_is_not_an_object_is_422(client, make, headers):
    activity = make.activity()
    body = assert_error(client.post(signup_url(activity), json=[1, 2], headers=headers), 422)
    assert body["errors"]


def test_invalid_json_is_a_json_400(client, make, headers):
    activity = make.activity()
    response = client.post(signup_url(activity), data=b"{not json", headers={
        **headers, "Content-Type": "application/json"})
    assert_error(response, 400)


def test_a_missing_required_answer_is_422_from_the_service(client, make, headers):
    activity = make.activity()
    question = add_question(activity, "紧急联系人", QuestionKind.TEXT, required=True)
    db.session.commit()
    body = assert_error(client.post(signup_url(activity), json={"answers": {}}, headers=headers), 422,
                        "validation_failed")
    assert f"q{question.id}" in body["errors"]
    assert registration_count() == 0


# --- 401 ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ue_nonsense", "Token abc", "Basic dXNlcjpwYXNz"])
def test_without_a_valid_token_every_endpoint_is_401(client, make, header):
    activity = make.activity()
    headers = {"Authorization": header} if header else {}
    for method, url in [("post", signup_url(activity)), ("get", "/api/v1/me/registrations"),
                        ("get", "/api/v1/registrations/1"), ("post", "/api/v1/registrations/1/cancel")]:
        response = getattr(client, method)(url, json={}, headers=headers)
        assert_error(response, 401, "unauthorized")
    assert registration_count() == 0


def test_a_revoked_token_is_401(client, make, worker):
    activity = make.activity()
    token = issue_token(worker, "phone")
    assert client.get("/api/v1/me/registrations", headers=bearer(token)).status_code == 200
    token_id = db.session.scalar(select(func.max(db.metadata.tables["api_token"].c.id)))
    revoke_token(worker, token_id)
    assert_error(client.post(signup_url(activity), json={}, headers=bearer(token)), 401, "unauthorized")
    assert_error(client.get("/api/v1/me/registrations", headers=bearer(token)), 401)


def test_the_token_of_a_deactivated_account_is_401(client, make, worker):
    token = issue_token(worker, "phone")
    worker.activated = False
    db.session.commit()
    assert_error(client.get("/api/v1/me/registrations", headers=bearer(token)), 401)


def test_a_session_cookie_does_not_authenticate_the_api(client, make, worker, login):
    login(worker)
    assert_error(client.get("/api/v1/me/registrations"), 401)


# --- My registrations, one registration, cancel -------------------------------------------------------

def test_my_registrations_lists_only_mine_soonest_first(client, make, worker, headers):
    # Signed up for the later one first: the list goes by when things happen (issue 19).
    later, sooner = make.activity("书法课", starts_in=timedelta(days=12)), make.activity("游泳课")
    other = make.activity("象棋赛")
    a = client.post(signup_url(later), json={}, headers=headers).get_json()
    b = client.post(signup_url(sooner), json={}, headers=headers).get_json()
    client.post(signup_url(other), json={}, headers=bearer(make.user("李师傅")))
    response = client.get("/api/v1/me/registrations", headers=headers)
    assert response.status_code == 200
    listed = response.get_json()
    assert [r["id"] for r in listed] == [b["id"], a["id"]]
    assert {r["activity"]["title"] for r in listed} == {"书法课", "游泳课"}


def test_one_registration_is_mine_only(client, make, headers):
    activity = make.activity()
    mine = client.post(signup_url(activity), json={}, headers=headers).get_json()
    theirs = client.post(signup_url(activity), json={}, headers=bearer(make.user("李师傅"))).get_json()
    assert client.get(f"/api/v1/registrations/{mine['id']}", headers=headers).get_json()["id"] == mine["id"]
    assert_error(client.get(f"/api/v1/registrations/{theirs['id']}", headers=headers), 404)
    assert_error(client.get("/api/v1/registrations/999999", headers=headers), 404)


def test_cancel_my_registration(client, make, headers):
    activity = make.activity(capacity=1)
    mine = client.post(signup_url(activity), json={}, headers=headers).get_json()
    response = client.post(f"/api/v1/registrations/{mine['id']}/cancel", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["state"] == "cancelled"
    db.session.expire_all()
    assert activity.taken == 0
    # Cancelling again: nothing live to cancel.
    assert_error(client.post(f"/api/v1/registrations/{mine['id']}/cancel", headers=headers), 409,
                 "illegal_transition")


def test_cancelling_someone_elses_registration_is_404_and_changes_nothing(client, make, headers):
    activity = make.activity()
    theirs = client.post(signup_url(activity), json={}, headers=bearer(make.user("李师傅"))).get_json()
    assert_error(client.post(f"/api/v1/registrations/{theirs['id']}/cancel", headers=headers), 404)
    assert db.session.get(Registration, theirs["id"]).state == RegistrationState.CONFIRMED


def test_cancel_after_the_cutoff_is_409(client, make, headers, frozen_time):
    activity = make.activity(cancel_cutoff_at=now() + timedelta(days=2))
    mine = client.post(signup_url(activity), json={}, headers=headers).get_json()
    frozen_time(now() + timedelta(days=3))
    assert_error(client.post(f"/api/v1/registrations/{mine['id']}/cancel", headers=headers), 409,
                 "cancel_closed")


def test_cancelling_a_place_moves_the_waiting_list_up(client, make, headers):
    activity = make.activity(capacity=1)
    mine = client.post(signup_url(activity), json={}, headers=headers).get_json()
    waiting_headers = bearer(make.user("李师傅"))
    waiting = client.post(signup_url(activity), json={}, headers=waiting_headers).get_json()
    assert waiting["state"] == "waitlisted"
    client.post(f"/api/v1/registrations/{mine['id']}/cancel", headers=headers)
    promoted = client.get(f"/api/v1/registrations/{waiting['id']}", headers=waiting_headers).get_json()
    assert promoted["state"] == "confirmed"
    assert promoted["waitlist_position"] is None


# --- Cost ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("full", [False, True], ids=["gets a place", "goes on the waiting list"])
def test_one_api_signup_takes_at_most_eight_sql_statements(app, client, make, worker, full):
    """Issue target: ≤ 10 SQL statements per sign-up, token lookup included (pretix needs about 70).
    Both paths take 8 today (docs/performance.md lists them); the test holds that, so a statement
    added to the hot path is a decision, not an accident.

    Transaction control (SQLite's explicit BEGIN / BEGIN IMMEDIATE; psycopg's implicit BEGIN never
    reaches this listener) is not counted: Django's query log, which pretix's figure comes from,
    does not list it either.
    """
    activity_id = make.activity(capacity=1 if full else 5).id
    if full:
        register(make.user("先到者"), activity_id)
        register(make.user("排队者"), activity_id)
    headers = bearer(worker)
    db.session.remove()  # a cold session, as in a fresh request
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.post(signup_url(activity_id), json={}, headers=headers)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["state"] == ("waitlisted" if full else "confirmed")
    print(f"{len(statements)} statements")
    assert len(statements) <= 8, f"{len(statements)} statements:\n" + "\n".join(
        s.split("\n")[0][:120] + " ..." for s in statements)
