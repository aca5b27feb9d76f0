"""The door page's JSON endpoints: the cached roster (minimal fields, organiser scope) and the sync of
check-ins made offline (session + CSRF, the same idempotent service as POST /api/v1/checkins)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from unionevents.accounts.models import Role
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def door(make):
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    outsider = make.user("钱组织", union="奥运村快递驿站联合工会", role=Role.ORGANISER, scope=tree["朝阳区总工会"])
    activity = make.activity("花卉养护课", capacity=10)
    people = [make.user(name, union="玉泉营商场工会") for name in ("王一", "李二")]
    registrations = [services.register(person, activity.id) for person in people]
    return organiser, outsider, activity, registrations


def state_of(registration_id):
    db.session.rollback()
    return db.session.get(Registration, registration_id).state


def test_roster_holds_digests_names_last_four_and_states_only(client, login, door):
    organiser, _outsider, activity, registrations = door
    login(organiser)
    response = client.get(f"/manage/activities/{activity.id}/checkin/roster.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    rows = response.get_json()["rows"]
    assert [r["registration_id"] for r in rows] == [r.id for r in registrations]
    first = rows[0]
    assert set(first) == {"registration_id", "token_digest", "name", "mobile_last4", "state", "state_title",
                          "checked_in_at"}
    assert first["token_digest"] == services.ticket_digest(registrations[0].ticket_secret)
    assert first["mobile_last4"] == registrations[0].user.mobile[-4:]
    assert registrations[0].ticket_secret not in response.get_data(as_text=True)
    assert registrations[0].user.mobile not in response.get_data(as_text=True)


def test_roster_says_until_when_the_phone_may_keep_it(client, login, door):
    """``keep_until``: the activity's end plus the grace period (12 h), in UTC like ``fetched_at``; the phone
    drops the copy after it (static/js/logout-guard.js, tests/browser/test_door_data_expiry.py)."""
    organiser, _outsider, activity, _registrations = door
    login(organiser)
    body = client.get(f"/manage/activities/{activity.id}/checkin/roster.json").get_json()
    assert body["keep_until"] == (activity.ends_at + timedelta(hours=12)).isoformat() + "Z"
    fetched_at = datetime.fromisoformat(body["fetched_at"].removesuffix("Z"))
    assert datetime.fromisoformat(body["keep_until"].removesuffix("Z")) > fetched_at

    # Computed from the end: an activity moved to end later is kept later.
    activity.ends_at = datetime(2031, 3, 14, 9, 30)
    activity.starts_at = datetime(2031, 3, 14, 7, 0)
    db.session.commit()
    body = client.get(f"/manage/activities/{activity.id}/checkin/roster.json").get_json()
    assert body["keep_until"] == "2031-03-14T21:30:00Z"


def test_roster_and_sync_are_for_organisers_in_scope(client, login, door, make):
    _organiser, outsider, activity, registrations = door
    login(outsider)
    assert client.get(f"/manage/activities/{activity.id}/checkin/roster.json").status_code == 403
    body = {"client_id": str(uuid.uuid4()), "registration_id": registrations[0].id}
    assert client.post(f"/manage/activities/{activity.id}/checkin/sync", json=body).status_code == 403
    login(registrations[0].user)
    assert client.get(f"/manage/activities/{activity.id}/checkin/roster.json").status_code == 403
    assert state_of(registrations[0].id) == S.CONFIRMED


def test_sync_is_idempotent_by_client_id(client, login, door, frozen_time):
    organiser, _outsider, activity, registrations = door
    frozen_time(activity.starts_at)
    login(organiser)
    body = {"client_id": str(uuid.uuid4()), "registration_id": registrations[0].id}
    first = client.post(f"/manage/activities/{activity.id}/checkin/sync", json=body)
    assert first.status_code == 200, first.data
    assert first.get_json()["status"] == "ok" and first.get_json()["replay"] is False
    again = client.post(f"/manage/activities/{activity.id}/checkin/sync", json=body)
    assert again.status_code == 200 and again.get_json()["replay"] is True
    assert state_of(registrations[0].id) == S.ATTENDED
    # the same client id for another person is a conflict, not a second check-in
    other = client.post(f"/manage/activities/{activity.id}/checkin/sync",
                        json={"client_id": body["client_id"], "registration_id": registrations[1].id})
    assert other.status_code == 409 and other.get_json()["status"] == "conflict"
    assert state_of(registrations[1].id) == S.CONFIRMED


def test_sync_reports_conflicts_and_bad_input(client, login, door):
    organiser, _outsider, activity, registrations = door
    services.cancel(registrations[1].id, organiser)
    login(organiser)
    url = f"/manage/activities/{activity.id}/checkin/sync"
    refused = client.post(url, json={"client_id": str(uuid.uuid4()), "registration_id": registrations[1].id})
    assert refused.status_code == 409
    assert refused.get_json()["message"]
    assert state_of(registrations[1].id) == S.CANCELLED
    assert client.post(url, json={"client_id": "nope", "registration_id": registrations[0].id}).status_code == 422
    assert client.post(url, json={"client_id": str(uuid.uuid4())}).status_code == 422
    assert client.post(url, data="not json", content_type="text/plain").status_code == 422
    missing = client.post(url, json={"client_id": str(uuid.uuid4()), "registration_id": 999999})
    assert missing.status_code == 404


def test_sync_needs_the_csrf_token(app, client, login, door):
    organiser, _outsider, activity, registrations = door
    login(organiser)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/manage/activities/{activity.id}/checkin/sync",
                               json={"client_id": str(uuid.uuid4()), "registration_id": registrations[0].id})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert state_of(registrations[0].id) == S.CONFIRMED


def test_an_ended_session_gets_the_login_page_on_both_door_urls(app, client, login, door):
    """What checkin-offline.js recognises as "the session ended": a redirect to the login page (fetch
    follows it); with the session cookie itself gone, the sync's CSRF check answers 400 first, and the
    page then asks the roster URL, which redirects."""
    from unionevents.accounts import services as accounts

    organiser, _outsider, activity, registrations = door
    base = f"/manage/activities/{activity.id}/checkin"
    body = {"client_id": str(uuid.uuid4()), "registration_id": registrations[0].id}
    login(organiser)
    assert client.get(f"{base}/roster.json").status_code == 200
    accounts.end_all_sessions(organiser)  # change of password, "log out everywhere"
    for response in (client.get(f"{base}/roster.json", headers={"Accept": "application/json"}),
                     client.post(f"{base}/sync", json=body, headers={"Accept": "application/json"})):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/account/login?next=")
    client.delete_cookie(app.config["SESSION_COOKIE_NAME"])  # expired after 12 h
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"{base}/sync", json=body, headers={"X-CSRFToken": "stale"}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert client.get(f"{base}/roster.json").status_code == 302
    assert state_of(registrations[0].id) == S.CONFIRMED


def test_service_worker_and_manifest_are_served(client):
    worker = client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/"  # /manage/ (door) and /me/registrations/ (tickets)
    assert "no-cache" in worker.headers["Cache-Control"]
    worker.close()
    page = client.get("/account/login").get_data(as_text=True)
    assert 'rel="manifest" href="/static/manifest.webmanifest?v=' in page
    manifest = client.get("/static/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.get_json(force=True)
    manifest.close()
    assert {icon["sizes"] for icon in data["icons"]} >= {"192x192", "512x512"}
    for icon in data["icons"]:
        found = client.get(icon["src"])
        assert found.status_code == 200
        found.close()
