"""The organiser API: idempotent check-in by ticket, the scanner's roster cache, creating activities."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.activities.models import Activity, ActivityStatus
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import CheckInReceipt, RegistrationState as S

from .organiser_fixtures import (  # noqa: F401 - fixtures
    AOYUNCUN_STREET, FENGTAI_STREET, MALL, add_people, audit_count, fresh, organiser, other_organiser, state_of,
    tree,
)

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, 'test')}"}


@pytest.fixture
def org_headers(organiser):
    return bearer(organiser)


def check_in(client, headers, **body):
    return client.post("/api/v1/checkins", json=body, headers=headers)


# --------------------------------------------------------------------------- check-in

def test_check_in_by_ticket_then_the_same_ticket_again(client, make, org_headers, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at)
    first = check_in(client, org_headers, token=reg.ticket_secret)
    assert first.status_code == 200, first.json
    assert first.json["state"] == "attended" and first.json["already_checked_in"] is False
    assert first.json["name"] == "工人0000" and len(first.json["mobile_last4"]) == 4
    assert first.json["checked_in_at"].endswith("+00:00")
    second = check_in(client, org_headers, token=reg.ticket_secret)
    assert second.status_code == 200 and second.json["already_checked_in"] is True
    assert audit_count("registration.check_in", reg.id) == 1


def test_the_same_client_id_twice_is_one_check_in_even_after_an_undo(client, make, organiser, org_headers,
                                                                     frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at)
    client_id = str(uuid.uuid4())
    assert check_in(client, org_headers, token=reg.ticket_secret, client_id=client_id).json["replay"] is False
    services.undo_check_in(reg.id, organiser)  # the organiser fixed a mistake meanwhile
    replay = check_in(client, org_headers, token=reg.ticket_secret, client_id=client_id)
    assert replay.status_code == 200 and replay.json["replay"] is True
    assert state_of(reg.id) == S.CONFIRMED  # the old request did not check them in again
    assert audit_count("registration.check_in", reg.id) == 1
    assert db.session.scalar(select(func.count(CheckInReceipt.id))) == 1


def test_a_client_id_reused_for_another_ticket_is_a_conflict(client, make, org_headers):
    activity = make.activity()
    a, b = add_people(activity, 2)
    client_id = str(uuid.uuid4())
    check_in(client, org_headers, token=a.ticket_secret, client_id=client_id)
    response = check_in(client, org_headers, token=b.ticket_secret, client_id=client_id)
    assert response.status_code == 409
    assert state_of(b.id) == S.CONFIRMED


@pytest.mark.parametrize("state, fragment", [(S.CANCELLED, "cancelled"), (S.WAITLISTED, "waiting list"),
                                             (S.PENDING, "not been accepted")])
def test_refusals_are_409_with_a_message(client, make, org_headers, state, fragment):
    activity = make.activity()
    (reg,) = add_people(activity, 1, state=state)
    response = check_in(client, org_headers, token=reg.ticket_secret, client_id=str(uuid.uuid4()))
    assert response.status_code == 409
    assert response.json["code"] == "illegal_transition" and fragment in response.json["message"]
    assert state_of(reg.id) == state
    assert db.session.scalar(select(func.count(CheckInReceipt.id))) == 0


def test_a_ticket_of_another_activity_is_refused_when_the_door_is_named(client, make, org_headers):
    door, other = make.activity("门口"), make.activity("别处")
    (reg,) = add_people(other, 1)
    response = check_in(client, org_headers, token=reg.ticket_secret, activity_id=door.id)
    assert response.status_code == 409 and response.json["code"] == "wrong_activity"
    assert "别处" in response.json["message"]


def test_unknown_ticket_is_404(client, org_headers, tree):
    response = check_in(client, org_headers, token="A" * 43)
    assert response.status_code == 404 and response.json["code"] == "unknown_ticket"


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": 5}, {"token": "x", "client_id": "not-a-uuid"},
                                  {"token": "x" * 201}, {"token": "x", "activity_id": "one"}])
def test_bad_bodies_are_422(client, org_headers, body):
    response = client.post("/api/v1/checkins", json=body, headers=org_headers)
    assert response.status_code == 422 and response.json["code"] == "validation_failed"


def test_not_json_is_a_4xx(client, org_headers):
    response = client.post("/api/v1/checkins", data="{{{", headers={**org_headers, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500


def test_check_in_access(client, make, other_organiser):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    assert check_in(client, {}, token=reg.ticket_secret).status_code == 401
    assert check_in(client, {"Authorization": "Bearer nope"}, token=reg.ticket_secret).status_code == 401
    worker = make.user("职工")
    assert check_in(client, bearer(worker), token=reg.ticket_secret).status_code == 403
    assert check_in(client, bearer(other_organiser), token=reg.ticket_secret).status_code == 403
    assert state_of(reg.id) == S.CONFIRMED


def test_a_replayed_client_id_is_authorised_like_a_new_request(client, make, organiser, org_headers,
                                                               other_organiser, frozen_time):
    """Issue 14, defect 8: resending another organiser's client id (with the ticket) must not return
    that activity's attendee; a replay is refused exactly as the same request made afresh."""
    activity = make.activity()
    frozen_time(activity.starts_at)
    (reg,) = add_people(activity, 1)
    client_id = str(uuid.uuid4())
    assert check_in(client, org_headers, token=reg.ticket_secret, client_id=client_id).status_code == 200
    mobile = db.session.get(type(reg), reg.id).user.mobile
    theirs = make.activity("奥运村的课", node=AOYUNCUN_STREET)
    for headers, body, status in [
        (bearer(other_organiser), {}, 403),
        (bearer(other_organiser), {"activity_id": theirs.id}, 409),
        (bearer(make.user("职工")), {}, 403),
    ]:
        response = check_in(client, headers, token=reg.ticket_secret, client_id=client_id, **body)
        text = response.get_data(as_text=True)
        assert response.status_code == status, text
        assert "工人0000" not in text and mobile[-4:] not in text and activity.title not in text
        assert "registration_id" not in response.json
    # the organiser of the activity still gets the replay
    replay = check_in(client, org_headers, token=reg.ticket_secret, client_id=client_id)
    assert replay.status_code == 200 and replay.json["replay"] is True


# --------------------------------------------------------------------------- scanner roster

def test_scanner_roster_has_digests_names_last_four_and_states_only(client, make, organiser, org_headers):
    activity = make.activity()
    regs = add_people(activity, 3, union=make.tree()[MALL])
    response = client.get(f"/api/v1/activities/{activity.id}/registrations", headers=org_headers)
    assert response.status_code == 200
    rows = response.json
    assert len(rows) == 3
    assert set(rows[0]) == {"registration_id", "token_digest", "name", "mobile_last4", "state", "slot_id",
                            "checked_in_at"}
    assert rows[0]["token_digest"] == services.ticket_digest(regs[0].ticket_secret)
    text = response.get_data(as_text=True)
    assert all(reg.ticket_secret not in text for reg in regs)
    # No full mobile number (nor its first digits) leaks; hex digests may contain any digit run.
    without_digests = text
    for row in rows:
        without_digests = without_digests.replace(row["token_digest"], "")
    assert all(reg.user.mobile[:7] not in without_digests for reg in regs)


def test_scanner_roster_access(client, make, other_organiser):
    activity = make.activity()
    url = f"/api/v1/activities/{activity.id}/registrations"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(other_organiser)).status_code == 403
    assert client.get(url, headers=bearer(make.user("职工"))).status_code == 403
    assert client.get("/api/v1/activities/99999/registrations", headers=bearer(other_organiser)).status_code == 404


# --------------------------------------------------------------------------- create an activity

def activity_body(node_id, **changes):
    start = now() + timedelta(days=7)
    body = {"title": "周末花艺课", "kind": "class", "node_id": node_id, "capacity": 30,
            "starts_at": start.isoformat() + "+00:00", "ends_at": (start + timedelta(hours=2)).isoformat() + "+00:00",
            "signup_opens_at": (now() - timedelta(days=1)).isoformat() + "+00:00",
            "signup_closes_at": (start - timedelta(days=1)).isoformat() + "+00:00"}
    body.update(changes)
    return body


def test_an_organiser_creates_an_activity_in_scope(client, organiser, org_headers, tree):
    response = client.post("/api/v1/activities", json=activity_body(tree[MALL].id, publish=True), headers=org_headers)
    assert response.status_code == 201, response.json
    fresh()
    activity = db.session.get(Activity, response.json["id"])
    assert activity.node_id == tree[MALL].id and activity.status == ActivityStatus.PUBLISHED
    assert activity.created_by_id == organiser.id
    assert response.json["starts_at"].endswith("+00:00")


def test_times_without_an_offset_are_beijing_time(client, org_headers, tree):
    body = activity_body(tree[FENGTAI_STREET].id, starts_at="2030-05-01T09:00:00", ends_at="2030-05-01T11:00:00",
                         signup_opens_at="2030-04-01T09:00:00", signup_closes_at="2030-04-30T09:00:00")
    response = client.post("/api/v1/activities", json=body, headers=org_headers)
    assert response.status_code == 201, response.json
    assert response.json["starts_at"] == "2030-05-01T01:00:00+00:00"


def test_creating_out_of_scope_or_as_a_worker_is_403(client, make, org_headers, tree):
    assert client.post("/api/v1/activities", json=activity_body(tree[AOYUNCUN_STREET].id),
                       headers=org_headers).status_code == 403
    assert client.post("/api/v1/activities", json=activity_body(tree[MALL].id),
                       headers=bearer(make.user("职工"))).status_code == 403
    assert client.post("/api/v1/activities", json=activity_body(tree[MALL].id)).status_code == 401
    assert db.session.scalar(select(func.count(Activity.id))) == 0


@pytest.mark.parametrize("changes, field", [
    ({"node_id": 999999}, "node_id"), ({"title": ""}, "title"), ({"kind": "party"}, "kind"),
    ({"capacity": -1}, "capacity"), ({"capacity": "ten"}, "capacity"), ({"starts_at": "tomorrow"}, "starts_at"),
    ({"signup_closes_at": "2000-01-01T00:00:00+00:00"}, "signup_closes_at"),
    ({"ends_at": "2000-01-01T00:00:00+00:00"}, "ends_at"),
])
def test_bad_activities_are_422_with_field_messages(client, org_headers, tree, changes, field):
    body = {**activity_body(tree[MALL].id), **changes}
    response = client.post("/api/v1/activities", json=body, headers=org_headers)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_the_routes_carry_the_token_rule(app):
    views = {rule.rule + ":" + ",".join(sorted(rule.methods - {"HEAD", "OPTIONS"})): app.view_functions[rule.endpoint]
             for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("api_checkin.") or rule.endpoint == "api_activities.ActivityCreateView"}
    assert len(views) == 4  # check-in, its undo, the scanner roster, creating an activity
    assert {getattr(view, "access_rule", None) for view in views.values()} == {"token"}


def test_organiser_role_needed_for_every_route_not_only_scope(client, make, tree):
    officer = make.user("干部", role=Role.OFFICER, scope=FENGTAI_STREET)
    activity = make.activity()
    assert client.get(f"/api/v1/activities/{activity.id}/registrations", headers=bearer(officer)).status_code == 403


@pytest.mark.parametrize("starts_at", ["0001-01-01T00:56:43+07:28", "0001-01-01T00:30:00",
                                       "9999-12-31T23:30:00-05:00"])
def test_a_time_that_cannot_be_shifted_to_utc_is_invalid_input_not_a_500(client, org_headers, tree, starts_at):
    """Found by schemathesis: year 1 with a positive offset overflowed when converted to UTC."""
    response = client.post("/api/v1/activities", json=activity_body(tree[MALL].id, starts_at=starts_at),
                           headers=org_headers)
    assert response.status_code == 422
    assert response.json["message"] and "starts_at" in response.json["errors"]
