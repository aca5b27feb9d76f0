"""A worker's journey on a phone: find the flower-care class, sign up, see the ticket, cancel —
and the first person on the waiting list gets the place."""
from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD
from unionevents.activities.models import QuestionKind
from unionevents.activities.services import add_question
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState

pytestmark = pytest.mark.browser


def log_in(page, user):
    page.goto("/account/login")
    page.fill("input[name=mobile]", user.mobile)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack-form button[type=submit], form.stack-form input[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def fresh(registration_id: int) -> Registration:
    db.session.rollback()  # end this thread's read so it sees what the server committed
    return db.session.get(Registration, registration_id)


def test_worker_signs_up_sees_ticket_cancels_and_the_waiting_list_moves(
        make, page, new_context, screenshot, browser_errors):
    make.tree()
    worker = make.user("张小花", union="玉泉营商场工会")
    first_waiting = make.user("李春兰", union="玉泉营商场工会")
    second_waiting = make.user("王秋菊", union="玉泉营商场工会")
    make.activity("篮球友谊赛", capacity=20)
    course = make.activity("花卉养护课", node="丰台区玉泉营街道总工会", capacity=1,
                           venue="玉泉营街道职工之家", description="绿萝、吊兰的养护与分株。")
    question = add_question(course, "您想学习哪类花卉？", QuestionKind.SINGLE_CHOICE, required=True,
                            choices=["绿萝", "吊兰", "多肉"])
    db.session.commit()

    # 1. Log in and find the class in the catalogue.
    log_in(page, worker)
    page.locator("nav.tab-bar").get_by_role("link", name="活动", exact=True).click()
    page.fill("#q", "花卉")
    page.locator("form.filter-form button[type=submit]").click()
    card = page.locator(".card", has_text="花卉养护课")
    assert card.count() == 1
    assert page.locator(".card", has_text="篮球友谊赛").count() == 0
    screenshot("01-catalogue")
    card.get_by_role("link", name="花卉养护课").click()

    # 2. The detail page: one place left, nobody waiting, sign-up open.
    page.wait_for_url(re.compile(rf"/activities/{course.id}$"))
    assert page.locator(".places-left").inner_text().startswith("1")
    screenshot("02-detail")
    page.locator(".signup-box a.button.primary").click()

    # 3. Sign up: forgetting the required question is refused with a message next to it.
    page.wait_for_url(re.compile(rf"/activities/{course.id}/signup$"))
    page.locator("form.signup-form button[type=submit], form.signup-form input[type=submit]").click()
    error = page.locator(f"#q{question.id}-error")
    assert error.is_visible()
    screenshot("03-signup-error")
    page.get_by_label("吊兰").check()
    page.locator("form.signup-form button[type=submit], form.signup-form input[type=submit]").click()

    # 4. The registration page: confirmed, with a visible QR ticket.
    page.wait_for_url(re.compile(r"/me/registrations/\d+$"))
    registration_id = int(page.url.rsplit("/", 1)[1])
    assert fresh(registration_id).state == RegistrationState.CONFIRMED
    assert page.locator(".flash-success").is_visible()
    assert page.locator(".ticket svg.qr-code").is_visible()
    screenshot("04-ticket")

    # Two colleagues arrive later and join the waiting list.
    waiting_first = services.register(first_waiting, course.id, answers={str(question.id): "绿萝"})
    waiting_second = services.register(second_waiting, course.id, answers={str(question.id): "多肉"})
    assert waiting_first.state == waiting_second.state == RegistrationState.WAITLISTED

    # 5. "My activities" lists it; cancel through the confirmation step.
    page.get_by_role("link", name=re.compile("我的活动|My activities")).first.click()
    page.get_by_role("link", name="花卉养护课", exact=True).click()
    page.locator("a.button.danger").click()
    page.wait_for_url(re.compile(rf"/me/registrations/{registration_id}/cancel$"))
    screenshot("05-cancel-confirm")
    page.locator("form button.danger").click()
    page.wait_for_url(re.compile(rf"/me/registrations/{registration_id}$"))
    assert fresh(registration_id).state == RegistrationState.CANCELLED
    assert page.locator(".ticket").count() == 0
    screenshot("06-cancelled")

    # 6. The first on the waiting list got the place; the second is now first in line.
    assert fresh(waiting_first.id).state == RegistrationState.CONFIRMED
    assert fresh(waiting_second.id).state == RegistrationState.WAITLISTED
    other_phone = new_context().new_page()
    log_in(other_phone, first_waiting)
    other_phone.goto(f"/me/registrations/{waiting_first.id}")
    assert other_phone.locator(".state-confirmed").is_visible()
    assert other_phone.locator(".ticket svg.qr-code").is_visible()
    screenshot("07-promoted-ticket", other_phone)

    assert not [e for e in browser_errors if "Content Security Policy" in e or "Refused" in e]
