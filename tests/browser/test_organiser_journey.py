"""An organiser's journey (issue 4, item 9): create a class with time slots through /manage, publish it,
a worker signs up on their own phone, the organiser checks them in at the door by name on a 360×740
phone and exports the roster as XLSX, which opens with openpyxl and holds the worker as attended."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook

from tests.browser.test_worker_journey import fresh, log_in
from unionevents.accounts.models import Role
from unionevents.activities.models import Activity, ActivityStatus
from unionevents.core.timeutil import now, utc_to_local
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState as S

pytestmark = pytest.mark.browser

TITLE = "插花体验课"


def local(value, fmt="%Y-%m-%dT%H:%M") -> str:
    return utc_to_local(value).strftime(fmt)


def test_organiser_creates_class_with_slots_checks_in_and_exports(
        app, make, page, new_context, screenshot, browser_errors, frozen_time):
    make.tree()
    organiser = make.user("街道组织者", role=Role.ORGANISER, scope="丰台区玉泉营街道总工会")
    worker = make.user("赵小梅", union="玉泉营商场工会")
    starts = utc_to_local(now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    day = starts.strftime("%Y-%m-%d")

    # 1. Create the class (a draft) through the form.
    log_in(page, organiser)
    page.goto("/manage/activities/new")
    page.fill("#title", TITLE)
    page.select_option("#kind", "class")
    page.fill("#venue", "玉泉营街道职工之家")
    page.fill("#starts_at", f"{day}T09:00")
    page.fill("#ends_at", f"{day}T11:00")
    page.fill("#signup_opens_at", local(now() - timedelta(hours=1)))
    page.fill("#signup_closes_at", f"{day}T08:00")
    page.fill("#capacity", "10")
    screenshot("organiser-01-new-activity")
    page.locator("form.stack-form [type=submit]").last.click()
    page.wait_for_url(re.compile(r"/manage/activities/\d+$"))
    activity_id = int(page.url.rsplit("/", 1)[1])

    # 2. Generate four 30-minute slots of 3 places.
    page.goto(f"/manage/activities/{activity_id}/slots")
    page.fill("#bulk-date", day)
    page.fill("#bulk-first_start", "09:00")
    page.fill("#bulk-last_end", "11:00")
    page.fill("#bulk-minutes", "30")
    page.fill("#bulk-capacity_each", "3")
    page.locator(f"form[action$='/manage/activities/{activity_id}/slots/generate'] [type=submit]").click()
    page.wait_for_url(re.compile(rf"/manage/activities/{activity_id}/slots$"))
    screenshot("organiser-02-slots")
    db.session.rollback()
    activity = db.session.get(Activity, activity_id)
    assert len(activity.slots) == 4 and activity.capacity == 12

    # 3. Publish.
    page.goto(f"/manage/activities/{activity_id}")
    page.locator(f"form[action$='/manage/activities/{activity_id}/publish'] button").click()
    page.wait_for_url(re.compile(rf"/manage/activities/{activity_id}$"))
    screenshot("organiser-03-published")
    db.session.rollback()
    assert db.session.get(Activity, activity_id).status == ActivityStatus.PUBLISHED

    # 4. The worker signs up on their own phone, choosing the second slot.
    phone = new_context().new_page()
    log_in(phone, worker)
    phone.goto(f"/activities/{activity_id}/signup")
    phone.locator(".slot-choices input[type=radio]").nth(1).check()
    phone.locator("form.signup-form [type=submit]").click()
    phone.wait_for_url(re.compile(r"/me/registrations/\d+$"))
    registration_id = int(phone.url.rsplit("/", 1)[1])
    assert fresh(registration_id).state == S.CONFIRMED
    screenshot("organiser-04-worker-ticket", phone)

    # 5. At the door (360×740), on the day, as the worker's slot begins: search the name, check in.
    assert page.viewport_size == {"width": 360, "height": 740}
    frozen_time(fresh(registration_id).slot.starts_at)
    page.goto(f"/manage/activities/{activity_id}/checkin")
    page.fill("input[name=q]", "赵小梅")
    page.locator("form.search-form [type=submit]").click()
    page.wait_for_url(re.compile(r"/checkin\?q="))
    screenshot("organiser-05-door-search")
    page.locator(f"form[action$='/checkin/{registration_id}'] button").click()
    page.wait_for_url(re.compile(r"/checkin"))
    assert page.locator(".flash-success").is_visible()
    screenshot("organiser-06-checked-in")
    registration = fresh(registration_id)
    assert registration.state == S.ATTENDED and registration.checked_in_at is not None

    # 6. Export the roster as XLSX.
    page.goto(f"/manage/activities/{activity_id}/roster")
    export_form = page.locator(f"form[action$='/manage/activities/{activity_id}/roster/export']")
    export_form.locator("input[type=radio][value=xlsx]").check()
    with page.expect_download() as download_info:
        export_form.locator("[type=submit]").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    data = open(download.path(), "rb").read()
    screenshot("organiser-07-roster")

    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    with app.test_request_context(), force_locale("zh_Hans"):
        name_title, state_title = "姓名", str(S.ATTENDED.title)
        from flask_babel import gettext
        state_header = gettext("State")
    header = rows[0]
    assert name_title in header and state_header in header
    people = [row for row in rows[1:] if row[header.index(name_title)]]
    assert len(people) == 1
    assert people[0][header.index(name_title)] == "赵小梅"
    assert people[0][header.index(state_header)] == state_title
    assert db.session.query(Registration).count() == 1

    assert not [e for e in browser_errors if "Content Security Policy" in e or "Refused" in e]
