"""Short ticket codes: what the rider reads out when the QR code cannot be scanned.

One per place, random, from an alphabet without look-alikes, unique per activity (a database
constraint); on the ticket, in the API, and accepted at the door by the same check-in rules as a
scan; unknown codes are limited per organiser (``CHECKIN_CODE_GUESS_LIMIT``)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from unionevents import create_app
from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.extensions import db
from unionevents.registrations import services, ticket_codes
from unionevents.registrations.models import Registration, RegistrationState as S

from .organiser_fixtures import (  # noqa: F401 - fixtures
    FENGTAI_STREET, act_as, add_people, audit_count, organiser, other_organiser, state_of, tree,
)

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, 'test')}"}


def api_code(client, headers, activity, code, **more):
    return client.post("/api/v1/checkins", json={"activity_id": activity.id, "code": code, **more},
                       headers=headers)


# --------------------------------------------------------------------------- the codes themselves

def test_codes_use_no_look_alike_characters_and_are_random():
    codes = {ticket_codes.new_code() for _ in range(2000)}
    assert len(codes) == 2000  # random: no repeats in 2000 draws from 31⁸
    for forbidden in "01OIL":
        assert not any(forbidden in code for code in codes)
    assert all(len(code) == 8 and code.isalnum() and code.upper() == code for code in codes)
    # every character of the alphabet turns up: no hidden bias towards a few
    assert set("".join(codes)) == set(ticket_codes.ALPHABET)


@pytest.mark.parametrize("typed, stored", [
    ("ABCD EFGH", "ABCDEFGH"), ("abcd-efgh", "ABCDEFGH"), (" 2345 6789 ", "23456789"),
    ("ABCDEFG", None), ("ABCDEFGHJ", None), ("ABCD EFG0", None), ("ABCDEFGI", None), ("", None), (None, None),
])
def test_a_typed_code_is_read_leniently_but_only_in_the_alphabet(typed, stored):
    assert ticket_codes.normalise(typed) == stored


def test_the_ticket_shows_the_code_in_two_groups():
    assert ticket_codes.display("ABCDEFGH") == "ABCD EFGH"
    assert ticket_codes.looks_like_code("abcd efgh") and not ticket_codes.looks_like_code("x" * 43)


# --------------------------------------------------------------------------- every place has one

def test_every_sign_up_gets_a_code_and_the_ticket_shows_it(make, client, login):
    activity = make.activity(capacity=5)
    worker = make.user("骑手甲")
    registration = services.register(worker, activity.id)
    assert ticket_codes.normalise(registration.ticket_code) == registration.ticket_code
    login(worker)
    body = client.get(f"/me/registrations/{registration.id}").get_data(as_text=True)
    assert ticket_codes.display(registration.ticket_code) in body
    assert 'class="ticket-code"' in body


def test_no_code_on_a_page_without_a_place(make, client, login):
    activity = make.activity(capacity=1, waitlist_enabled=True)
    services.register(make.user("先来"), activity.id)
    worker = make.user("后到")
    waiting = services.register(worker, activity.id)
    assert waiting.state == S.WAITLISTED
    login(worker)
    body = client.get(f"/me/registrations/{waiting.id}").get_data(as_text=True)
    assert 'class="ticket-code"' not in body and waiting.ticket_code not in body


def test_the_database_refuses_a_code_twice_in_one_activity_but_not_across_two(make):
    first, second = make.activity("甲"), make.activity("乙")
    (a,) = add_people(first, 1)
    (b,) = add_people(first, 1)
    (c,) = add_people(second, 1)
    code = db.session.get(Registration, a.id).ticket_code
    db.session.get(Registration, c.id).ticket_code = code  # another activity: fine
    db.session.commit()
    db.session.get(Registration, b.id).ticket_code = code
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_erasure_gives_a_new_code(make):
    from unionevents.registrations.services.erasure import anonymise_registrations

    activity = make.activity()
    (reg,) = add_people(activity, 1)
    old = reg.ticket_code
    anonymise_registrations(reg.user_id)
    db.session.commit()
    assert db.session.get(Registration, reg.id).ticket_code != old


# --------------------------------------------------------------------------- the API shows it

def test_the_api_sign_up_reply_and_my_registrations_carry_the_code(make, client):
    activity = make.activity(capacity=1, waitlist_enabled=True)
    worker, late = make.user("骑手乙"), make.user("骑手丙")
    reply = client.post(f"/api/v1/activities/{activity.id}/registrations", json={}, headers=bearer(worker))
    assert reply.status_code == 201, reply.json
    code = reply.json["ticket_code"]
    assert code == db.session.get(Registration, reply.json["id"]).ticket_code
    mine = client.get("/api/v1/me/registrations", headers=bearer(worker)).json
    assert mine[0]["ticket_code"] == code
    waiting = client.post(f"/api/v1/activities/{activity.id}/registrations", json={}, headers=bearer(late))
    assert waiting.json["state"] == "waitlisted" and waiting.json["ticket_code"] is None  # no place, no code


# --------------------------------------------------------------------------- the door takes it

def test_the_api_checks_in_a_typed_code_like_a_scan(make, client, organiser, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at)
    headers = bearer(organiser)
    typed = ticket_codes.display(reg.ticket_code).lower().replace(" ", "-")
    first = api_code(client, headers, activity, typed)
    assert first.status_code == 200, first.json
    assert first.json["registration_id"] == reg.id and first.json["already_checked_in"] is False
    again = api_code(client, headers, activity, reg.ticket_code)
    assert again.status_code == 200 and again.json["already_checked_in"] is True
    assert audit_count("registration.check_in", reg.id) == 1


def test_a_code_outside_the_window_is_refused_like_a_scan_and_an_override_works(make, client, organiser,
                                                                                frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at - timedelta(hours=5))
    headers = bearer(organiser)
    early = api_code(client, headers, activity, reg.ticket_code)
    scan = client.post("/api/v1/checkins", json={"token": reg.ticket_secret}, headers=headers)
    assert early.status_code == scan.status_code == 409
    assert early.json["code"] == scan.json["code"] == "checkin_not_open"
    assert state_of(reg.id) == S.CONFIRMED
    forced = api_code(client, headers, activity, reg.ticket_code, override_reason="班车提前到达")
    assert forced.status_code == 200 and state_of(reg.id) == S.ATTENDED


def test_codes_of_other_activities_and_unknown_codes_are_not_found(make, client, organiser, frozen_time):
    here, there = make.activity("这里"), make.activity("那里")
    (theirs,) = add_people(there, 1)
    frozen_time(here.starts_at)
    headers = bearer(organiser)
    other = api_code(client, headers, here, theirs.ticket_code)
    if db.session.scalar(select(Registration.id).where(Registration.activity_id == here.id,
                                                       Registration.ticket_code == theirs.ticket_code)) is None:
        assert other.status_code == 404 and other.json["code"] == "unknown_ticket"
    for nonsense in ("ZZZZ ZZZZ", "0000OOOO", "abc"):
        assert api_code(client, headers, here, nonsense).status_code == 404
    assert state_of(theirs.id) == S.CONFIRMED


def test_only_the_activitys_organisers_may_type_codes(make, client, organiser, other_organiser, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    worker = make.user("骑手丁")
    frozen_time(activity.starts_at)
    for who in (other_organiser, worker):
        known = api_code(client, bearer(who), activity, reg.ticket_code)
        unknown = api_code(client, bearer(who), activity, "ZZZZZZZZ")
        assert known.status_code == unknown.status_code == 403  # the same answer: nothing learnt
    assert client.post("/api/v1/checkins", json={"activity_id": activity.id, "code": reg.ticket_code}).status_code == 401
    assert state_of(reg.id) == S.CONFIRMED


@pytest.mark.parametrize("body", [{}, {"code": "ABCDEFGH"}, {"activity_id": 1, "code": "ABCDEFGH", "token": "x" * 43}])
def test_a_code_needs_its_activity_and_comes_alone(client, organiser, body):
    response = client.post("/api/v1/checkins", json=body, headers=bearer(organiser))
    assert response.status_code == 422


def test_the_door_page_takes_a_typed_code(make, organiser, act_as, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at)
    client = act_as(organiser)
    response = client.post(f"/manage/activities/{activity.id}/checkin/ticket",
                           data={"token": ticket_codes.display(reg.ticket_code).lower()})
    assert response.status_code == 302
    assert state_of(reg.id) == S.ATTENDED
    door = client.get(f"/manage/activities/{activity.id}/checkin").get_data(as_text=True)
    assert "Checked in: 工人0000" in door
    client.post(f"/manage/activities/{activity.id}/checkin/ticket", data={"token": "ZZZZ ZZZZ"})
    assert "This ticket code is not known" in client.get(f"/manage/activities/{activity.id}/checkin").get_data(
        as_text=True)


# --------------------------------------------------------------------------- guessing is limited

@pytest.fixture
def limited_client(database_url):
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": True,
                              "RATELIMIT_STORAGE_URI": "memory://", "CHECKIN_CODE_GUESS_LIMIT": "3 per 5 minutes"})
    yield application.test_client()
    with application.app_context():
        db.engine.dispose()


@pytest.mark.xdist_group("ratelimit")
def test_unknown_codes_are_limited_per_organiser_but_scans_and_others_go_on(make, organiser, limited_client,
                                                                            frozen_time):
    activity = make.activity()
    a, b = add_people(activity, 2)
    other = make.user("另一位组织者", role=Role.ORGANISER, scope=FENGTAI_STREET)
    frozen_time(activity.starts_at)
    headers = bearer(organiser)
    for _ in range(3):
        assert api_code(limited_client, headers, activity, "ZZZZZZZZ").status_code == 404
    refused = api_code(limited_client, headers, activity, a.ticket_code)
    assert refused.status_code == 429  # even a right code: the guesser waits
    scan = limited_client.post("/api/v1/checkins", json={"token": a.ticket_secret, "activity_id": activity.id},
                               headers=headers)
    assert scan.status_code == 200  # QR scans never count and are never refused
    assert api_code(limited_client, bearer(other), activity, b.ticket_code).status_code == 200  # another organiser
