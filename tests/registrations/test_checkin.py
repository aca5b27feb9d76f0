"""The door check-in page: search by name or last four digits, one-tap check-in, undo, tickets,
refusals with clear messages, and a double check-in race that ends in one check-in."""
from __future__ import annotations

import pytest

import threading
from datetime import timedelta

from sqlalchemy import func, select

from unionevents.accounts.models import User
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import CheckInReceipt, Registration, RegistrationState as S

from .organiser_fixtures import (  # noqa: F401 - fixtures
    AOYUNCUN_STREET, act_as, add_people, audit_count, organiser, state_of, tree,
)

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


def door(activity, q=None):
    return f"/manage/activities/{activity.id}/checkin" + (f"?q={q}" if q else "")


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_search_by_name_and_by_the_last_four_digits(make, organiser, act_as):
    activity = make.activity(capacity=20)
    (reg,) = add_people(activity, 1, name_prefix="王")
    add_people(activity, 3, name_prefix="李")
    mobile = db.session.scalar(select(User.mobile).where(User.id == reg.user_id))
    client = act_as(organiser)
    by_name = page(client, door(activity, "王"))
    assert "王0000" in by_name and "李0000" not in by_name
    assert mobile not in by_name and f"{mobile[:3]}****{mobile[-4:]}" in by_name
    by_digits = page(client, door(activity, mobile[-4:]))
    assert "王0000" in by_digits
    assert "Nobody matches" in page(client, door(activity, "赵"))


def test_one_tap_check_in_then_again_then_undo(make, organiser, act_as, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at - timedelta(minutes=30))  # at the door, check-in open
    client = act_as(organiser)
    url = f"/manage/activities/{activity.id}/checkin/{reg.id}"
    response = client.post(url, data={"q": "工人"})
    assert response.status_code == 302 and response.headers["Location"].endswith("q=%E5%B7%A5%E4%BA%BA")
    assert state_of(reg.id) == S.ATTENDED
    assert "Checked in: 工人0000" in page(client, door(activity, "工人"))
    client.post(url)
    assert "was already checked in" in page(client, door(activity))
    assert audit_count("registration.check_in", reg.id) == 1
    listing = page(client, door(activity, "工人"))
    assert "Undo check-in" in listing
    client.post(url + "/undo")
    assert state_of(reg.id) == S.CONFIRMED
    assert "Check-in undone" in page(client, door(activity))
    client.post(url + "/undo")  # twice: nothing more happens
    assert state_of(reg.id) == S.CONFIRMED
    assert audit_count("registration.undo_check_in", reg.id) == 1


def test_cancelled_and_waitlisted_are_refused_with_a_clear_message(make, organiser, act_as):
    activity = make.activity(capacity=5)
    (cancelled,) = add_people(activity, 1, state=S.CANCELLED)
    (waiting,) = add_people(activity, 1, state=S.WAITLISTED)
    client = act_as(organiser)
    listing = page(client, door(activity, "工人"))
    assert "Cannot be checked in" in listing
    client.post(f"/manage/activities/{activity.id}/checkin/{cancelled.id}")
    assert "has been cancelled; it cannot be checked in" in page(client, door(activity))
    client.post(f"/manage/activities/{activity.id}/checkin/{waiting.id}")
    assert "still on the waiting list" in page(client, door(activity))
    assert state_of(cancelled.id) == S.CANCELLED and state_of(waiting.id) == S.WAITLISTED


def test_a_registration_of_another_activity_is_not_found_here(make, organiser, act_as):
    mine, other = make.activity("我的"), make.activity("另一个")
    (theirs,) = add_people(other, 1)
    client = act_as(organiser)
    client.post(f"/manage/activities/{mine.id}/checkin/{theirs.id}")
    assert state_of(theirs.id) == S.CONFIRMED
    assert "does not exist" in page(client, door(mine))


def ticket(client, activity, token):
    return client.post(f"/manage/activities/{activity.id}/checkin/ticket", data={"token": token})


def test_check_in_by_ticket(make, organiser, act_as, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at)
    client = act_as(organiser)
    assert ticket(client, activity, f"  {reg.ticket_secret} ").status_code == 302
    assert state_of(reg.id) == S.ATTENDED
    assert "Checked in: 工人0000" in page(client, door(activity))


def test_ticket_refusals(make, organiser, act_as):
    activity, other = make.activity("门口的活动"), make.activity("别的活动")
    out_of_scope = make.activity("奥运村活动", node=AOYUNCUN_STREET)
    (elsewhere,) = add_people(other, 1)
    (foreign,) = add_people(out_of_scope, 1)
    (cancelled,) = add_people(activity, 1, state=S.CANCELLED)
    client = act_as(organiser)
    ticket(client, activity, elsewhere.ticket_secret)
    assert "This ticket is for another activity: “别的活动”" in page(client, door(activity))
    ticket(client, activity, foreign.ticket_secret)
    text = page(client, door(activity))
    assert "This ticket is for another activity" in text and "奥运村活动" not in text
    ticket(client, activity, cancelled.ticket_secret)
    assert "has been cancelled" in page(client, door(activity))
    ticket(client, activity, "not-a-ticket")
    assert "ticket code is not known" in page(client, door(activity))
    ticket(client, activity, "")
    assert "This field is required" in page(client, door(activity))
    ticket(client, activity, "x" * 5000)
    assert "flash-error" in page(client, door(activity))
    assert {state_of(r.id) for r in (elsewhere, foreign)} == {S.CONFIRMED}


def test_the_page_offers_the_scan_button_only_through_the_script(make, organiser, act_as):
    activity = make.activity()
    text = page(act_as(organiser), door(activity))
    assert 'data-scan-box hidden' in text  # shown by checkin-scan.js when BarcodeDetector exists
    assert "/static/js/checkin-scan.js" in text
    assert "<script>" not in text and "onclick" not in text  # CSP: no inline script


def test_double_check_in_from_two_threads_is_one_check_in(app, make, organiser, frozen_time):
    activity = make.activity()
    regs = add_people(activity, 5)
    frozen_time(activity.starts_at)
    organiser_id, ids = organiser.id, [r.id for r in regs]
    errors = []

    def door_volunteer(reg_id, barrier):
        with app.app_context(), app.test_request_context():
            try:
                actor = db.session.get(User, organiser_id)
                barrier.wait()
                services.check_in_registration(activity_id, reg_id, actor)
            except Exception as error:  # noqa: BLE001 - collected and reported below
                errors.append(error)
            finally:
                db.session.remove()

    activity_id = activity.id
    for reg_id in ids:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=door_volunteer, args=(reg_id, barrier)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    for reg_id in ids:
        assert state_of(reg_id) == S.ATTENDED
        assert audit_count("registration.check_in", reg_id) == 1
    assert db.session.scalar(select(func.count(Registration.id)).where(Registration.state == S.ATTENDED)) == 5


def test_same_client_id_from_two_threads_is_one_check_in_and_one_receipt(app, make, organiser, frozen_time):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    frozen_time(activity.starts_at)
    organiser_id, token = organiser.id, reg.ticket_secret
    barrier = threading.Barrier(2)
    results, errors = [], []

    def scanner():
        with app.app_context(), app.test_request_context():
            try:
                actor = db.session.get(User, organiser_id)
                barrier.wait()
                results.append(services.check_in_ticket(token, actor, client_id="0f8c2b3e-1a2b-4c5d-8e9f-001122334455"))
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=scanner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 2
    assert audit_count("registration.check_in", reg.id) == 1
    assert db.session.scalar(select(func.count(CheckInReceipt.id))) == 1
    assert sorted(r.replay for r in results) in ([False, False], [False, True])


def test_a_replayed_sync_is_authorised_like_a_new_request(make, organiser, act_as, frozen_time):
    """Issue 14, defect 8, through the door page's sync: another organiser replaying a client id at
    their own activity's door learns nothing about this activity's attendee."""
    from unionevents.accounts.models import Role

    activity = make.activity()
    frozen_time(activity.starts_at)
    (reg,) = add_people(activity, 1)
    other = make.user("奥运村组织者", role=Role.ORGANISER, scope=AOYUNCUN_STREET)
    theirs = make.activity("奥运村的课", node=AOYUNCUN_STREET)
    client_id = "0b7c7a40-5b55-4a8e-9d0e-3f0a0d5b6c11"
    client = act_as(organiser)
    first = client.post(f"/manage/activities/{activity.id}/checkin/sync",
                        json={"client_id": client_id, "registration_id": reg.id})
    assert first.status_code == 200
    client = act_as(other)
    response = client.post(f"/manage/activities/{theirs.id}/checkin/sync",
                           json={"client_id": client_id, "token": reg.ticket_secret})
    text = response.get_data(as_text=True)
    assert response.status_code == 409, text
    assert "工人0000" not in text and activity.title not in text and "registration_id" not in response.json

