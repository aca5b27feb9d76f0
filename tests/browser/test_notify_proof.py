"""Issue 17's proof on a 360 px phone, in Chinese: a reminder in 我的消息, a registration holding an
offer (its deadline and the button to take it), and — once that offer ran out — both workers' view:
the one whose offer expired (told so, the registration cancelled) and the next in line (offered the
place, with a deadline).  Screenshots test-artifacts/screenshots/notify-*.png; axe finds nothing
serious or critical on any of these pages."""
from __future__ import annotations

from datetime import timedelta

from unionevents.extensions import db
from unionevents.notifications.reminders import send_due_reminders
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

from tests.browser.pages import log_in
from tests.browser.test_accessibility import axe_problems

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def phone_of(new_context, user):
    page = new_context(bypass_csp=True).new_page()
    log_in(page, user)
    return page


def look(page, url: str, name: str, screenshot, *, must_show: tuple[str, ...]) -> str:
    """Open ``url`` on the phone, check it shows ``must_show``, fits 360 px, passes axe; the PNG."""
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    text = page.locator("main").inner_text()
    for words in must_show:
        assert words in text, (name, words, text[:800])
    assert page.evaluate(NO_SIDEWAYS_SCROLL), name
    screenshot(name, page)
    assert axe_problems(page) == [], name
    return text


def test_reminder_offer_and_an_offer_passed_on_at_360_px(make, new_context, screenshot):
    tree = make.tree()
    union = tree["玉泉营商场工会"]
    first = make.user("王骑手", union=union)
    second = make.user("李快递", union=union)
    holder = make.user("占位人", union=union)
    checkup = make.activity("职工健康体检", capacity=5, starts_in=timedelta(hours=20),
                            venue="玉泉营社区卫生服务中心")
    course = make.activity("职工花卉养护与家庭园艺入门课程（第二期）", capacity=1, starts_in=timedelta(days=3),
                           venue="玉泉营街道职工之家二楼")

    # A reminder: the first worker holds a place in the check-up tomorrow; the timer's run queues it.
    services.register(first, checkup.id)
    assert send_due_reminders() == 1
    # The course is full: both workers wait; the holder lets the place go, so it is offered to the first.
    held = services.register(holder, course.id)
    first_reg = services.register(first, course.id)
    second_reg = services.register(second, course.id)
    services.cancel(held.id, holder)
    db.session.expire_all()
    deadline = db.session.get(Registration, first_reg.id).offer_expires_at
    assert deadline is not None

    phone = phone_of(new_context, first)
    look(phone, "/me/messages", "notify-inbox-reminder", screenshot, must_show=("职工健康体检", "玉泉营社区卫生服务中心"))
    look(phone, f"/me/registrations/{first_reg.id}", "notify-offer-registration", screenshot,
         must_show=("为您保留到", "接受名额"))
    assert phone.get_by_role("link", name="接受名额").count() == 1
    look(phone, f"/t/{first_reg.id}/ok", "notify-offer-accept", screenshot, must_show=("接受名额",))

    # Nobody answers: the timer's run after the deadline passes the place to the next in line.
    assert services.expire_offers(at=deadline + timedelta(minutes=1)) == 1
    db.session.expire_all()
    assert db.session.get(Registration, first_reg.id).state == S.CANCELLED
    assert db.session.get(Registration, second_reg.id).offer_expires_at is not None

    look(phone, "/me/messages", "notify-expired-first-inbox", screenshot, must_show=("过期",))
    look(phone, f"/me/registrations/{first_reg.id}", "notify-expired-first-registration", screenshot,
         must_show=("已取消",))
    next_phone = phone_of(new_context, second)
    look(next_phone, "/me/messages", "notify-expired-second-inbox", screenshot, must_show=(f"/t/{second_reg.id}/ok",))
    look(next_phone, f"/me/registrations/{second_reg.id}", "notify-expired-second-registration", screenshot,
         must_show=("为您保留到", "接受名额"))
