"""A workplace union's organiser enrols two members into a district activity on a phone (item 7)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.browser.test_worker_journey import log_in
from unionevents.accounts.models import Role
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState as S

pytestmark = pytest.mark.browser


def test_workplace_organiser_enrols_members_on_a_phone(make, page, screenshot, browser_errors):
    tree = make.tree()
    organiser = make.user("商场工会组织者", role=Role.ORGANISER, scope="玉泉营商场工会")
    a = make.user("钱一", union="玉泉营商场工会")
    b = make.user("孙二", union="玉泉营商场工会")
    make.user("外单位职工", union="奥运村快递驿站联合工会")
    activity = make.activity("丰台区职工运动会", node="丰台区总工会", capacity=1)

    log_in(page, organiser)
    page.goto("/manage/activities")
    page.locator("a[href$='/manage/enrol/']").click()
    page.get_by_role("link", name="丰台区职工运动会").click()
    page.wait_for_url(re.compile(rf"/manage/enrol/{activity.id}/{tree['玉泉营商场工会'].id}$"))
    assert page.locator("label", has_text="外单位职工").count() == 0
    page.get_by_label(re.compile("钱一")).check()
    page.get_by_label(re.compile("孙二")).check()
    screenshot("enrol-01-checklist")
    page.locator("form.stack-form [type=submit]").first.click()
    assert page.locator("table.enrol-result tbody tr").count() == 2
    screenshot("enrol-02-result")
    db.session.rollback()
    states = dict(db.session.execute(select(Registration.user_id, Registration.state)).all())
    assert set(states) == {a.id, b.id}  # one place: one confirmed, the other on the waiting list
    assert sorted(states.values()) == [S.CONFIRMED, S.WAITLISTED]
    assert not [e for e in browser_errors if "Content Security Policy" in e or "Refused" in e]
