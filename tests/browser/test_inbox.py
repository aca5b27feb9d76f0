"""我的消息 and a waiting-list offer on a 360 px phone, in Chinese: the header shows the unread count,
the inbox lists the worker's messages newest first without sideways scrolling, opening it clears the
count; the offer's link takes the place with one tap.  axe finds nothing serious on either page."""
from __future__ import annotations

from datetime import timedelta

from unionevents.core.db import write_transaction
from unionevents.core.outbox import enqueue
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration

from tests.browser.test_accessibility import axe_problems
from tests.browser.pages import log_in

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_inbox_and_offer_on_a_phone(make, new_context, screenshot):
    tree = make.tree()
    rider = make.user("王骑手", union=tree["玉泉营商场工会"])
    holder = make.user("占位人", union=tree["玉泉营商场工会"])
    course = make.activity("职工花卉养护与家庭园艺入门课程（第二期）", capacity=1, starts_in=timedelta(days=3),
                           venue="玉泉营街道职工之家二楼")
    held = services.register(holder, course.id)
    mine = services.register(rider, course.id)  # full: on the waiting list
    with write_transaction():
        enqueue(rider.id, "activity.notice", "明天上午九点在职工之家门口集合，请带好身份证。", subject="集合通知",
                activity_id=course.id)
    services.cancel(held.id, holder)  # the place is offered to the rider, with a deadline
    db.session.expire_all()
    assert db.session.get(Registration, mine.id).offer_expires_at is not None

    context = new_context(bypass_csp=True)
    page = context.new_page()
    log_in(page, rider)
    # At 360 px the header's entries give way to the tab bar: its 消息 tab carries the count.
    badge = page.locator(".tab-bar .nav-count")
    assert badge.inner_text().startswith("3")  # waiting list, the organiser's notice, the offer
    page.locator(".tab-bar a[href='/me/messages']").click()
    page.wait_for_url("**/me/messages")
    cards = page.locator(".message")
    assert cards.count() == 3
    assert "名额" in cards.nth(0).inner_text() and f"/t/{mine.id}/ok" in cards.nth(0).inner_text()
    assert "集合通知" in cards.nth(1).inner_text()
    assert page.locator(".message.unread").count() == 3
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    screenshot("inbox-phone-360", page)
    assert axe_problems(page) == []
    page.reload()
    assert page.locator(".message.unread").count() == 0 and page.locator(".nav-count").count() == 0

    page.goto(f"/t/{mine.id}/ok")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    screenshot("offer-phone-360", page)
    assert axe_problems(page) == []
    page.get_by_role("button", name="接受名额").click()
    page.wait_for_url(f"**/me/registrations/{mine.id}")
    assert "名额已确认" in page.locator(".flashes").inner_text()
    db.session.rollback()  # a fresh snapshot: the server committed in another connection
    assert db.session.get(Registration, mine.id).offer_expires_at is None
