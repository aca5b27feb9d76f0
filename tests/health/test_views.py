"""Health pages over HTTP: who gets which page, the form's field messages, never a 500."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from unionevents.core.audit import AuditLog
from unionevents.extensions import db
from unionevents.health import services
from unionevents.health.models import HealthAssessment

from .conftest import GOOD


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def form_data(**overrides):
    data = {k: ("y" if v is True else v) for k, v in GOOD.items() if v is not False}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def recorded(medic, attendee):
    return services.record_assessment(medic, attendee.id, GOOD)


@pytest.fixture
def people(make, medic, other_medic, organiser, officer, admin, attendee):
    return {"self": attendee.user, "other_worker": make.user("路人"), "medic": medic,
            "other_medic": other_medic, "organiser": organiser, "officer": officer, "admin": admin}


# who: (own record page, medical assessment page, attendee list, /medical)
EXPECTED = {
    "self": (200, 403, 403, 403),
    "other_worker": (404, 403, 403, 403),
    "medic": (404, 200, 200, 200),
    "other_medic": (404, 403, 403, 200),
    "organiser": (404, 403, 403, 403),
    "officer": (404, 403, 403, 403),
    "admin": (404, 403, 403, 403),
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_access_matrix_over_http(who, client, login, people, recorded, attendee):
    login(people[who])
    urls = [f"/me/health/{recorded.id}",
            f"/medical/activities/{attendee.activity_id}/registrations/{attendee.id}",
            f"/medical/activities/{attendee.activity_id}", "/medical"]
    statuses = tuple(client.get(url).status_code for url in urls)
    assert statuses == EXPECTED[who]
    post = client.post(f"/medical/activities/{attendee.activity_id}/registrations/{attendee.id}",
                       data=form_data(systolic="140", version="1"))
    assert post.status_code == (303 if who == "medic" else 403)
    assert db.session.scalar(select(HealthAssessment.systolic)) == (140 if who == "medic" else 128)


def test_anonymous_visitors_are_sent_to_log_in(client, recorded, attendee):
    for url in ["/me/health", f"/me/health/{recorded.id}", "/medical",
                f"/medical/activities/{attendee.activity_id}/registrations/{attendee.id}"]:
        response = client.get(url)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_the_worker_sees_their_records_and_nobody_elses(client, login, make, recorded, attendee):
    login(attendee.user)
    page = text(client.get("/me/health"))
    assert "送健康·骑手体检" in page and "128 / 82" in page and "23.0" in page and "久坐低头" in page
    login(make.user("路人"))
    page = text(client.get("/me/health"))
    assert "128 / 82" not in page and "送健康·骑手体检" not in page
    assert client.get("/me/health/999999").status_code == 404


def test_medical_staff_record_then_edit_through_the_form(client, login, medic, attendee):
    login(medic)
    url = f"/medical/activities/{attendee.activity_id}/registrations/{attendee.id}"
    page = client.get(url)
    assert page.status_code == 200 and "王骑手" in text(page) and "138****5678" in text(page)
    response = client.post(url, data=form_data())
    assert response.status_code == 303
    assessment = db.session.scalar(select(HealthAssessment))
    assert assessment.follow_up is True and assessment.cervical.value == "mild"
    page = text(client.get(url))
    assert 'value="128"' in page and 'name="version" type="hidden" value="1"' in page
    response = client.post(url, data=form_data(heart_rate="88", version="1"))
    assert response.status_code == 303
    page = text(client.get(url))
    assert "History" in page or "历史" in page
    # a second tab still showing version 1 is told, not allowed to overwrite
    response = client.post(url, data=form_data(heart_rate="99", version="1"))
    assert response.status_code == 409 and db.session.scalar(select(HealthAssessment.heart_rate)) == 88


@pytest.mark.parametrize("bad, field", [
    ({"systolic": "abc"}, "systolic"), ({"systolic": "300"}, "systolic"), ({"diastolic": "130"}, "diastolic"),
    ({"heart_rate": "10"}, "heart_rate"), ({"height_cm": "500"}, "height_cm"),
    ({"weight_kg": "1e9"}, "weight_kg"), ({"cervical": "<script>"}, "cervical"),
    ({"advice": "很" * 5000}, "advice"), ({"lumbar_note": "x" * 500}, "lumbar_note"),
    ({"systolic": "", "diastolic": "80"}, "systolic"),
])
def test_bad_input_gets_a_field_message_and_changes_nothing(client, login, medic, attendee, bad, field):
    login(medic)
    url = f"/medical/activities/{attendee.activity_id}/registrations/{attendee.id}"
    response = client.post(url, data=form_data(**bad))
    assert response.status_code == 422
    page = text(response)
    assert f'id="{field}-error"' in page and 'aria-invalid="true"' in page
    assert db.session.scalar(select(func.count(HealthAssessment.id))) == 0


@pytest.mark.parametrize("data", [{}, {"version": "abc"}, {"follow_up": "y"},
                                  {"systolic": ["1", "2"]}, {"advice": "\x00\x07"}])
def test_odd_posts_never_500(client, login, medic, attendee, data):
    login(medic)
    url = f"/medical/activities/{attendee.activity_id}/registrations/{attendee.id}"
    response = client.post(url, data=data)
    assert response.status_code in (409, 422)


def test_no_consent_or_not_checked_in_is_explained(client, login, medic, health, signed_up):
    booked = signed_up(health, "未签到", check_in=False)
    login(medic)
    url = f"/medical/activities/{health.id}/registrations/{booked.id}"
    assert "check the worker in" in text(client.get(url)) or "签到" in text(client.get(url))
    response = client.post(url, data=form_data())
    assert response.status_code == 409


def test_attendee_list_and_search(client, login, medic, health, signed_up, attendee):
    signed_up(health, "陈快递", "13900001111")
    login(medic)
    page = text(client.get(f"/medical/activities/{health.id}"))
    assert "王骑手" in page and "陈快递" in page and "13812345678" not in page
    page = text(client.get(f"/medical/activities/{health.id}?q=1111"))
    assert "陈快递" in page and "王骑手" not in page
    assert client.get(f"/medical/activities/{health.id}?q=" + "%" * 300).status_code == 200
    page = text(client.get("/medical"))
    assert "送健康·骑手体检" in page


def test_pages_are_audited(client, login, medic, recorded, attendee):
    login(attendee.user)
    client.get("/me/health")
    client.get(f"/me/health/{recorded.id}")
    login(medic)
    client.get(f"/medical/activities/{attendee.activity_id}/registrations/{attendee.id}")
    reads = db.session.scalars(select(AuditLog.actor_id).where(AuditLog.action == "health.read")).all()
    assert reads == [attendee.user_id, attendee.user_id, medic.id]
