"""Class feedback: once, only after attending, only one's own; organisers see the average and comments."""
from __future__ import annotations

import html
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from unionevents.activities.models import ActivityKind
from unionevents.core.audit import AuditLog
from unionevents.core.errors import NotFound, ValidationFailed
from unionevents.extensions import db
from unionevents.registrations import services as engine
from unionevents.results import rules, services
from unionevents.results.models import Feedback

from .conftest import WORKPLACE
from tests.factories import check_in_at_the_door


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def course(make, tree):
    return make.activity("花卉养护课", kind=ActivityKind.CLASS_, capacity=20)


@pytest.fixture
def attended(make, organiser, course):
    """``attended(name)``: a worker checked in at the class."""

    def _attended(name="花友"):
        worker = make.user(name, union=WORKPLACE)
        return check_in_at_the_door(engine.register(worker, course.id).id, organiser)

    return _attended


def feedback_count():
    return db.session.scalar(select(func.count(Feedback.id)))


class TestRules:
    @pytest.mark.parametrize("rating, ok", [(1, True), (5, True), ("3", True), (" 4 ", True), (0, False),
                                            (6, False), ("", False), (None, False), ("4.5", False),
                                            (True, False), ("٣", False), ("x", False)])
    def test_rating(self, rating, ok):
        _cleaned, errors = rules.clean_feedback(rating, "")
        assert ("rating" not in errors) is ok

    def test_comment_length_and_cleaning(self):
        cleaned, errors = rules.clean_feedback(5, "  很好\r\n老师耐心\x00 ")
        assert errors == {} and cleaned == (5, "很好\n老师耐心")
        assert rules.clean_feedback(5, "好" * 500)[1] == {}
        assert set(rules.clean_feedback(5, "好" * 501)[1]) == {"comment"}

    def test_average_and_distribution(self):
        assert rules.average([5, 4, 4]) == Decimal("4.3")
        assert rules.average([]) is None
        assert rules.distribution([5, 5, 1]) == {5: 2, 4: 0, 3: 0, 2: 0, 1: 1}


class TestServices:
    def test_after_attending_once(self, attended):
        registration = attended()
        feedback = services.leave_feedback(registration.user, registration.id, "5", "讲得很清楚")
        assert (feedback.rating, feedback.comment) == (5, "讲得很清楚")
        with pytest.raises(services.FeedbackAlreadyGiven):
            services.leave_feedback(registration.user, registration.id, 4, "")
        assert feedback_count() == 1
        audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "feedback.create"))
        assert audit.data == {"registration_id": registration.id, "activity_id": registration.activity_id}

    def test_the_database_refuses_a_second_row(self, attended):
        registration = attended()
        services.leave_feedback(registration.user, registration.id, 5, "")
        db.session.add(Feedback(registration_id=registration.id, activity_id=registration.activity_id,
                                rating=3))
        with pytest.raises(Exception):
            db.session.commit()
        db.session.rollback()

    def test_not_before_attending(self, make, course):
        worker = make.user("未上课", union=WORKPLACE)
        registration = engine.register(worker, course.id)
        with pytest.raises(services.FeedbackNotOpen):
            services.leave_feedback(worker, registration.id, 5, "")
        assert feedback_count() == 0

    def test_only_for_classes(self, make, organiser, tree):
        meeting = make.activity("劳模报告会", kind=ActivityKind.MEETING)
        worker = make.user("听众", union=WORKPLACE)
        registration = check_in_at_the_door(engine.register(worker, meeting.id).id, organiser)
        with pytest.raises(services.FeedbackNotAsked):
            services.leave_feedback(worker, registration.id, 5, "")

    def test_only_ones_own(self, make, attended):
        registration = attended()
        with pytest.raises(NotFound):
            services.leave_feedback(make.user("别人"), registration.id, 1, "差评")
        with pytest.raises(NotFound):
            services.leave_feedback(registration.user, 999999, 1, "")
        assert feedback_count() == 0

    def test_bad_values(self, attended):
        registration = attended()
        with pytest.raises(ValidationFailed) as error:
            services.leave_feedback(registration.user, registration.id, 9, "x" * 501)
        assert set(error.value.errors) == {"rating", "comment"}

    def test_summary(self, attended, course):
        for name, rating, comment in (("甲", 5, "很好"), ("乙", 4, ""), ("丙", 4, "时间太短")):
            registration = attended(name)
            services.leave_feedback(registration.user, registration.id, rating, comment)
        attended("丁")
        summary = services.feedback_summary(course.id)
        assert (summary.count, summary.attended, summary.average) == (3, 4, Decimal("4.3"))
        assert summary.distribution[4] == 2
        assert sorted(c for _at, _r, c in summary.comments) == ["很好", "时间太短"]
        assert services.ratings_for_activities([course.id, 5555]) == {
            course.id: {"count": 3, "average": Decimal("4.3")}, 5555: {"count": 0, "average": None}}

    def test_my_feedback_lists_attended_classes(self, attended):
        registration = attended()
        items = services.my_feedback(registration.user)
        assert [(i.registration.id, i.feedback) for i in items] == [(registration.id, None)]
        services.leave_feedback(registration.user, registration.id, 3, "")
        assert services.my_feedback(registration.user)[0].feedback.rating == 3


class TestViews:
    def test_worker_rates_through_the_form(self, client, login, attended):
        registration = attended()
        login(registration.user)
        assert "花卉养护课" in text(client.get("/me/feedback"))
        url = f"/me/feedback/{registration.id}"
        assert client.get(url).status_code == 200
        response = client.post(url, data={"rating": "4", "comment": "不错"})
        assert response.status_code == 303
        again = client.post(url, data={"rating": "1"})
        assert again.status_code == 409 and feedback_count() == 1
        assert "4" in text(client.get(url))

    @pytest.mark.parametrize("data, field", [({}, "rating"), ({"rating": "7"}, "rating"),
                                             ({"rating": "<b>"}, "rating"),
                                             ({"rating": "5", "comment": "好" * 501}, "comment")])
    def test_bad_input_gets_a_field_message(self, client, login, attended, data, field):
        registration = attended()
        login(registration.user)
        response = client.post(f"/me/feedback/{registration.id}", data=data)
        assert response.status_code == 422
        assert f'id="{field}-error"' in text(response)
        assert feedback_count() == 0

    def test_someone_elses_registration_is_404(self, client, login, make, attended):
        registration = attended()
        login(make.user("别人"))
        assert client.get(f"/me/feedback/{registration.id}").status_code == 404
        assert client.post(f"/me/feedback/{registration.id}", data={"rating": "1"}).status_code == 404

    def test_before_attending_the_form_is_not_offered(self, client, login, make, course):
        worker = make.user("未上课", union=WORKPLACE)
        registration = engine.register(worker, course.id)
        login(worker)
        page = client.get(f"/me/feedback/{registration.id}")
        assert page.status_code == 200 and 'name="rating"' not in text(page)
        assert client.post(f"/me/feedback/{registration.id}", data={"rating": "5"}).status_code == 409

    def test_the_registration_page_offers_feedback_when_the_service_allows_it(self, client, login, make,
                                                                               organiser, attended, course):
        rate = "评价课程"
        registration = attended()
        login(registration.user)
        page = f"/me/registrations/{registration.id}"
        assert rate in text(client.get(page))
        services.leave_feedback(registration.user, registration.id, 5, "")
        assert rate in text(client.get(page))  # given feedback can still be looked at
        signed_up = make.user("只报名", union=WORKPLACE)
        login(signed_up)
        assert rate not in text(client.get(f"/me/registrations/{engine.register(signed_up, course.id).id}"))
        talk = make.activity("讲座", kind=ActivityKind.MEETING)
        there = check_in_at_the_door(engine.register(signed_up, talk.id).id, organiser)
        assert rate not in text(client.get(f"/me/registrations/{there.id}"))

    def test_organiser_page_and_scope(self, client, login, organiser, rival, attended, course):
        registration = attended()
        services.leave_feedback(registration.user, registration.id, 5, "<script>alert(1)</script>")
        login(organiser)
        response = client.get(f"/manage/activities/{course.id}/feedback")
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and "&lt;script&gt;" in body and "<script>alert" not in body
        assert registration.user.name not in body  # anonymous to the organiser
        login(rival)
        assert client.get(f"/manage/activities/{course.id}/feedback").status_code == 403
        login(registration.user)
        assert client.get(f"/manage/activities/{course.id}/feedback").status_code == 403
        login(organiser)
        assert client.get("/manage/activities/999999/feedback").status_code == 404
