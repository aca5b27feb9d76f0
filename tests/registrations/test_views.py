"""Worker pages for registrations: the detail page's reasons, the sign-up form, my registrations,
the ticket, the calendar file and cancellation (the rules themselves are tested with the services)."""
from __future__ import annotations

import re

from datetime import timedelta

import pytest
from flask import g
from icalendar import Calendar
from sqlalchemy import func, select

from unionevents.activities.models import ActivityKind, QuestionKind
from unionevents.activities.services import add_question, add_slots
from unionevents.core.errors import ValidationFailed
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState


@pytest.fixture
def login(login):
    """Switch the client to ``user``, also within one test.

    Test-client requests share the test's app context, so Flask-Login's per-context cache
    (``g._login_user``) would keep the first user of the test; drop it when switching.
    """

    def _switch(user, the_client=None):
        g.pop("_login_user", None)
        return login(user, the_client)

    return _switch


def registration_count() -> int:
    return db.session.scalar(select(func.count(Registration.id)))


@pytest.fixture
def worker(make):
    make.tree()
    return make.user("张小花", union="玉泉营商场工会")


@pytest.fixture
def course(make, worker):
    """The flower-care class: one place, a required single choice, an optional number and yes/no."""
    activity = make.activity("花卉养护课", capacity=1, venue="玉泉营街道职工之家")
    add_question(activity, "您想学习哪类花卉？", QuestionKind.SINGLE_CHOICE, required=True,
                 choices=["绿萝", "吊兰", "多肉"])
    add_question(activity, "家里有几盆花？", QuestionKind.NUMBER)
    add_question(activity, "是否需要花盆？", QuestionKind.YES_NO)
    add_question(activity, "还想学什么？", QuestionKind.MULTIPLE_CHOICE, choices=["插花", "盆景"])
    db.session.commit()
    return activity


def qid(activity, position: int) -> str:
    return f"q{activity.questions[position].id}"


@pytest.fixture
def health(make, worker):
    activity = make.activity("送健康", kind=ActivityKind.HEALTH, capacity=0,
                             venue="奥运村街道职工服务站")
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, 2)
    db.session.commit()
    return activity


def sign_up(user, activity, choice="吊兰"):
    answers = {str(activity.questions[0].id): choice} if activity.questions else None
    return services.register(user, activity.id, answers=answers)


# --- the activity page --------------------------------------------------------------------------------

def test_detail_asks_visitors_to_log_in(client, course):
    page = client.get(f"/activities/{course.id}").get_data(as_text=True)
    # A plain call to action, not the error box a refused worker sees (issue 19).
    assert "登录后报名" in page and 'class="reasons"' not in page
    assert "/account/login?next=" in page
    assert f"/activities/{course.id}/signup" not in page


def test_detail_explains_why_a_worker_cannot_sign_up(client, login, make, worker):
    outsider = make.user("非会员")
    activity = make.activity("会员专享课", members_only=True)
    login(outsider)
    page = client.get(f"/activities/{activity.id}").get_data(as_text=True)
    reasons = services.signup_state(outsider, activity).reasons
    assert reasons and all(reason in page for reason in reasons)
    assert f"/activities/{activity.id}/signup" not in page


def test_detail_shows_places_waiting_list_window_and_button(client, login, make, course, worker):
    sign_up(make.user("先报名的"), course)
    sign_up(make.user("候补的"), course)
    login(worker)
    page = client.get(f"/activities/{course.id}").get_data(as_text=True)
    assert 'class="places-left">0' in page
    assert 'class="waitlist-length">1' in page
    assert f'href="/activities/{course.id}/signup"' in page
    assert "window-open" in page


def test_detail_before_the_window_opens(client, login, make, worker):
    activity = make.activity("下月的课", signup_opens_at=now() + timedelta(days=2))
    login(worker)
    page = client.get(f"/activities/{activity.id}").get_data(as_text=True)
    assert "window-not_open" in page
    assert f"/activities/{activity.id}/signup" not in page


def test_detail_links_to_an_existing_registration(client, login, course, worker):
    registration = sign_up(worker, course)
    login(worker)
    page = client.get(f"/activities/{course.id}").get_data(as_text=True)
    assert f"/me/registrations/{registration.id}" in page


# --- the sign-up form ---------------------------------------------------------------------------------

def test_signup_needs_login(client, course):
    response = client.get(f"/activities/{course.id}/signup")
    assert response.status_code == 302 and "/account/login" in response.location


def test_signup_form_shows_the_questions(client, login, course, worker):
    login(worker)
    page = client.get(f"/activities/{course.id}/signup").get_data(as_text=True)
    for question in course.questions:
        assert question.label in page
    assert 'type="radio"' in page and 'type="checkbox"' in page
    assert "<fieldset" in page and "<legend>" in page


@pytest.mark.parametrize("data, field", [
    ({}, 0),                                       # required choice missing
    ({0: "仙人掌"}, 0),                             # not one of the choices
    ({0: "吊兰", 1: "三盆"}, 1),                     # not a number
    ({0: "吊兰", 2: "maybe"}, 2),                   # yes/no neither
    ({0: "吊兰", 3: ["插花", "养鱼"]}, 3),           # one box not offered
])
def test_signup_with_bad_answers_is_refused_next_to_the_field(client, login, course, worker, data, field):
    login(worker)
    form = {qid(course, i): value for i, value in data.items()}
    response = client.post(f"/activities/{course.id}/signup", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{qid(course, field)}-error"' in page
    assert registration_count() == 0


def test_health_signup_needs_a_slot_and_separate_consent(client, login, app, health, worker):
    login(worker)
    page = client.get(f"/activities/{health.id}/signup").get_data(as_text=True)
    assert app.config["HEALTH_CONSENT_VERSION"] in page
    assert 'name="consent"' in page and 'name="slot_id"' in page

    slot = health.slots[0]
    no_slot = client.post(f"/activities/{health.id}/signup", data={"consent": "y"})
    assert no_slot.status_code == 422 and 'id="slot_id-error"' in no_slot.get_data(as_text=True)
    no_consent = client.post(f"/activities/{health.id}/signup", data={"slot_id": str(slot.id)})
    assert no_consent.status_code == 422 and 'id="consent-error"' in no_consent.get_data(as_text=True)
    bad_slot = client.post(f"/activities/{health.id}/signup", data={"slot_id": "999999", "consent": "y"})
    assert bad_slot.status_code == 422
    assert registration_count() == 0

    ok = client.post(f"/activities/{health.id}/signup", data={"slot_id": str(slot.id), "consent": "y"})
    assert ok.status_code == 302
    registration = db.session.scalar(select(Registration))
    assert registration.slot_id == slot.id and registration.health_consent_at is not None
    assert registration.health_consent_version == app.config["HEALTH_CONSENT_VERSION"]


def test_service_field_errors_are_shown_on_their_fields(client, login, course, worker, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValidationFailed({qid(course, 0): ["这一项没有通过检查"], "elsewhere": ["另一条消息"]})

    monkeypatch.setattr(services, "register", refuse)
    login(worker)
    response = client.post(f"/activities/{course.id}/signup", data={qid(course, 0): "吊兰"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "这一项没有通过检查" in page and "另一条消息" in page


def test_successful_signup_is_confirmed_with_answers(client, login, course, worker):
    login(worker)
    response = client.post(f"/activities/{course.id}/signup", data={
        qid(course, 0): "吊兰", qid(course, 1): "3", qid(course, 2): "yes", qid(course, 3): ["插花", "盆景"]})
    registration = db.session.scalar(select(Registration))
    assert response.status_code == 302
    assert response.location.endswith(f"/me/registrations/{registration.id}")
    assert registration.state == RegistrationState.CONFIRMED
    answers = registration.answers
    assert answers[str(course.questions[0].id)] == "吊兰"
    assert answers[str(course.questions[1].id)] == 3
    assert answers[str(course.questions[2].id)] is True
    assert answers[str(course.questions[3].id)] == ["插花", "盆景"]
    page = client.get(response.location).get_data(as_text=True)
    assert "flash-success" in page and "吊兰" in page and "插花、盆景" in page


def test_signup_when_full_joins_the_waiting_list_with_its_position(client, login, make, course, worker):
    sign_up(make.user("先报名的"), course)
    sign_up(make.user("候补一"), course)
    login(worker)
    response = client.post(f"/activities/{course.id}/signup", data={qid(course, 0): "绿萝"},
                           follow_redirects=True)
    registration = db.session.scalar(select(Registration).where(Registration.user_id == worker.id))
    assert registration.state == RegistrationState.WAITLISTED
    page = response.get_data(as_text=True)
    assert "flash-success" in page and "2" in page and 'class="waitlist-position"' in page
    assert "qr-code" not in page


def test_signup_for_an_approval_activity_is_pending(client, login, make, worker):
    from unionevents.activities.models import SignupMode

    activity = make.activity("劳模报告会", kind=ActivityKind.MEETING, mode=SignupMode.APPROVAL)
    login(worker)
    response = client.post(f"/activities/{activity.id}/signup", follow_redirects=True)
    assert response.status_code == 200
    registration = db.session.scalar(select(Registration))
    assert registration.state == RegistrationState.PENDING
    assert "qr-code" not in response.get_data(as_text=True)


def test_duplicate_signup_redirects_to_the_registration(client, login, course, worker):
    registration = sign_up(worker, course)
    login(worker)
    for response in (client.get(f"/activities/{course.id}/signup"),
                     client.post(f"/activities/{course.id}/signup", data={qid(course, 0): "吊兰"})):
        assert response.status_code == 302
        assert response.location.endswith(f"/me/registrations/{registration.id}")
    assert registration_count() == 1


def test_not_eligible_is_a_clear_message(client, login, make, worker):
    outsider = make.user("非会员")
    activity = make.activity("会员专享课", members_only=True)
    login(outsider)
    response = client.post(f"/activities/{activity.id}/signup")
    assert response.status_code == 403
    assert 'class="problem"' in response.get_data(as_text=True)
    assert registration_count() == 0


def test_closed_window_is_a_clear_message(client, login, make, worker):
    activity = make.activity("下月的课", signup_opens_at=now() + timedelta(days=2))
    login(worker)
    response = client.post(f"/activities/{activity.id}/signup")
    assert response.status_code == 409
    assert 'class="problem"' in response.get_data(as_text=True)
    assert registration_count() == 0


def test_full_without_waiting_list_is_a_clear_message(client, login, make, worker):
    activity = make.activity("小班课", capacity=1, waitlist_enabled=False)
    services.register(make.user("先报名的"), activity.id)
    login(worker)
    response = client.post(f"/activities/{activity.id}/signup")
    assert response.status_code == 409
    assert 'class="problem"' in response.get_data(as_text=True)
    assert registration_count() == 1


# --- my registrations, the ticket, the calendar file ---------------------------------------------------

def test_my_registrations_lists_upcoming_with_waiting_list_position(client, login, make, course, worker):
    sign_up(make.user("先报名的"), course)
    sign_up(worker, course)
    other = make.activity("以书换蔬", kind=ActivityKind.SWAP)
    services.register(worker, other.id)
    login(worker)
    page = client.get("/me/registrations").get_data(as_text=True)
    assert "花卉养护课" in page and "以书换蔬" in page
    assert "state-waitlisted" in page and "state-confirmed" in page


def test_my_registrations_needs_login(client):
    response = client.get("/me/registrations")
    assert response.status_code == 302 and "/account/login" in response.location


def test_someone_elses_registration_is_not_found(client, login, make, course, worker):
    registration = sign_up(worker, course)
    login(make.user("别人"))
    for url in (f"/me/registrations/{registration.id}", f"/me/registrations/{registration.id}/calendar.ics",
                f"/me/registrations/{registration.id}/cancel"):
        assert client.get(url).status_code == 404
    assert client.post(f"/me/registrations/{registration.id}/cancel").status_code == 404
    assert db.session.get(Registration, registration.id).state == RegistrationState.CONFIRMED


def test_ticket_qr_only_for_a_confirmed_place(client, login, make, course, worker):
    confirmed = sign_up(worker, course)
    waiting_user = make.user("候补的")
    waiting = sign_up(waiting_user, course)
    login(worker)
    page = client.get(f"/me/registrations/{confirmed.id}").get_data(as_text=True)
    assert '<svg role="img" viewBox=' in page and 'class="qr-code"' in page
    # No inline script or style (CSP): only the deferred offline-ticket script file.
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None and "style=" not in page
    login(waiting_user)
    page = client.get(f"/me/registrations/{waiting.id}").get_data(as_text=True)
    assert "qr-code" not in page and 'class="waitlist-position"' in page


def test_calendar_file(client, login, course, worker):
    registration = sign_up(worker, course)
    login(worker)
    response = client.get(f"/me/registrations/{registration.id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in response.headers["Content-Disposition"]
    event = Calendar.from_ical(response.data).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "花卉养护课"
    assert str(event["LOCATION"]) == "玉泉营街道职工之家"
    assert str(event["UID"]).startswith(f"registration-{registration.id}@")
    assert event.decoded("DTSTART").replace(tzinfo=None) == course.starts_at.replace(microsecond=0)
    assert event.decoded("DTEND").replace(tzinfo=None) == course.ends_at.replace(microsecond=0)
    raw = response.get_data(as_text=True)
    assert f"DTSTART:{course.starts_at:%Y%m%dT%H%M%S}Z" in raw


def test_calendar_file_uses_the_time_slot(client, login, health, worker):
    slot = health.slots[1]
    registration = services.register(worker, health.id, slot_id=slot.id, health_consent=True)
    login(worker)
    raw = client.get(f"/me/registrations/{registration.id}/calendar.ics").get_data(as_text=True)
    assert f"DTSTART:{slot.starts_at:%Y%m%dT%H%M%S}Z" in raw
    assert f"DTEND:{slot.ends_at:%Y%m%dT%H%M%S}Z" in raw


# --- cancelling ---------------------------------------------------------------------------------------

def test_cancel_asks_first_then_promotes_the_first_waiting(client, login, make, course, worker):
    registration = sign_up(worker, course)
    first_user, second_user = make.user("候补一"), make.user("候补二")
    first, second = sign_up(first_user, course), sign_up(second_user, course)
    login(worker)
    confirm_page = client.get(f"/me/registrations/{registration.id}/cancel")
    assert confirm_page.status_code == 200 and "<form" in confirm_page.get_data(as_text=True)
    assert db.session.get(Registration, registration.id).state == RegistrationState.CONFIRMED

    response = client.post(f"/me/registrations/{registration.id}/cancel", follow_redirects=True)
    assert "flash-success" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Registration, registration.id).state == RegistrationState.CANCELLED
    assert db.session.get(Registration, first.id).state == RegistrationState.CONFIRMED
    assert db.session.get(Registration, second.id).state == RegistrationState.WAITLISTED

    login(first_user)
    page = client.get(f"/me/registrations/{first.id}").get_data(as_text=True)
    assert "state-confirmed" in page and "qr-code" in page
    login(second_user)
    page = client.get(f"/me/registrations/{second.id}").get_data(as_text=True)
    assert "state-waitlisted" in page and "1" in page


def test_cancel_after_the_cutoff_is_refused_with_a_message(client, login, make, worker):
    activity = make.activity("明天的课", starts_in=timedelta(days=1),
                             cancel_cutoff_at=now() + timedelta(hours=1))
    registration = services.register(worker, activity.id)
    from unionevents.core import timeutil

    timeutil.freeze(now() + timedelta(hours=2))
    login(worker)
    response = client.post(f"/me/registrations/{registration.id}/cancel", follow_redirects=True)
    assert "flash-error" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Registration, registration.id).state == RegistrationState.CONFIRMED


def test_cancelling_twice_is_a_message_not_an_error(client, login, course, worker):
    registration = sign_up(worker, course)
    login(worker)
    client.post(f"/me/registrations/{registration.id}/cancel")
    again = client.get(f"/me/registrations/{registration.id}/cancel", follow_redirects=True)
    assert again.status_code == 200 and "flash-info" in again.get_data(as_text=True)
    posted = client.post(f"/me/registrations/{registration.id}/cancel", follow_redirects=True)
    assert posted.status_code == 200 and "flash-error" in posted.get_data(as_text=True)
