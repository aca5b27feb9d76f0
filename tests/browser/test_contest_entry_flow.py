"""The singing contest on a 360 px phone, in one flow (issue 19 item 7): sign up → the entry form →
a small group of three with their mobiles, the song title and a short audio file → the status
shows 作品已提交, on the entry page, 我的参赛作品 and the ticket.  Each bad input gets its Chinese
message on the form; axe finds nothing serious or critical at 360 and 1280 px."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.browser.conftest import DESKTOP_VIEWPORT
from tests.browser.test_accessibility import axe_problems
from tests.browser.test_contest_journey import log_in
from tests.contests.test_media import mp3_bytes
from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind
from unionevents.contests import services
from unionevents.contests.models import ContestFormat, Entry
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations.models import Registration

pytestmark = pytest.mark.browser

SONG = "五月的鲜花"
TRIO = "欧阳小雨 13900001111\n司马青 13900002222\n上官明 13900003333"
ENTRY_FORM = "form.entry-form input[type=submit]"


@pytest.fixture
def uploads(app, tmp_path):
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads" / "contests"
    app.config["UPLOAD_DIR"] = previous


@pytest.fixture
def singing_contest(make):
    tree = make.tree()
    organiser = make.user("怀柔区总工会组织者", role=Role.ORGANISER, scope=tree["朝阳区总工会"])
    activity = make.activity("“五月的鲜花”职工歌咏比赛", node=tree["朝阳区总工会"], kind=ActivityKind.CONTEST,
                             capacity=2000, starts_in=timedelta(days=20), signup_closes_at=now() + timedelta(days=10),
                             waitlist_enabled=False)
    services.setup_contest(organiser, activity.id, services.ContestSettings(
        format=ContestFormat.PERFORMANCE, entry_limit=1))
    return activity


def fill_entry(page, *, category="group", title=SONG, leader="欧阳小雨", members=TRIO, recording=None):
    page.check(f"input[name=category][value={category}]")
    page.fill("input[name=title]", title)
    page.fill("input[name=team_leader]", leader)
    page.fill("textarea[name=members]", members)
    page.set_input_files("input[name=recording]", str(recording) if recording else [])


def submit_and_expect(page, field: str, text: str):
    page.locator(ENTRY_FORM).click()
    page.wait_for_load_state()
    error = page.locator(f"#{field}-error")
    assert text in error.inner_text(), error.inner_text()
    assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true"


def test_sign_up_then_enter_a_group_and_see_the_status(app, make, singing_contest, uploads, new_context,
                                                         tmp_path, screenshot):
    worker = make.user("欧阳小雨", mobile="13900001111", union="奥运村快递驿站联合工会")
    activity = singing_contest
    song = tmp_path / "五月的鲜花.mp3"
    song.write_bytes(mp3_bytes(48_000))
    not_audio = tmp_path / "歌.mp3"
    not_audio.write_bytes(b"<html><script>alert(1)</script></html>" * 20)
    big = tmp_path / "整场录音.mp3"
    big.write_bytes(mp3_bytes(1_300_000))
    problems: dict[str, list] = {}
    page = new_context(bypass_csp=True).new_page()  # 360×740; bypass_csp only to inject axe
    browser_errors: list[str] = []
    page.on("console", lambda message: browser_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: browser_errors.append(str(error)))

    def shot(name):
        screenshot(name, page)

    def audit(name):
        found = axe_problems(page)
        if found:
            problems[name] = found

    # 1. Sign up: straight on to the entry form.
    log_in(page, worker)
    page.goto(f"/activities/{activity.id}/signup")
    shot("contest-flow-01-signup")
    page.locator("form.signup-form [type=submit]").click()
    page.wait_for_url(re.compile(rf"/contests/{activity.id}/enter$"))
    assert page.locator(".flash").first.is_visible()
    shot("contest-flow-02-entry-form")

    # The ticket says what comes next until an entry exists.
    db.session.rollback()
    registration = db.session.query(Registration).filter_by(user_id=worker.id).one()
    page.goto(f"/me/registrations/{registration.id}")
    next_step = page.get_by_role("link", name="下一步：提交参赛作品")
    assert next_step.is_visible()
    assert page.locator(".steps [aria-current=step] .step-title").inner_text() == "已报名"
    shot("contest-flow-03-ticket-next-step")
    audit("ticket-next-step")
    next_step.click()
    page.wait_for_url(re.compile(rf"/contests/{activity.id}/enter$"))
    audit("entry-form")

    # 2. Bad inputs, one at a time: each gets its Chinese message at its field.
    fill_entry(page, title="")
    submit_and_expect(page, "title", "必填")
    fill_entry(page, members="欧阳小雨 13900001111\n司马青 1390000222\n上官明 13900003333")
    submit_and_expect(page, "members", "第 2 行：“1390000222”不是有效的中国大陆手机号")
    shot("contest-flow-04-bad-mobile")
    audit("entry-form-errors")
    fill_entry(page, members="\n".join(f"团员{i} 1390000{i:04d}" for i in range(1, 12)))
    submit_and_expect(page, "members", "组合唱最多 10 名成员；现填写了 11 名")
    fill_entry(page, recording=not_audio)
    submit_and_expect(page, "recording", "不是我们接受的录音或录像")
    app.config["CONTEST_MAX_AUDIO_BYTES"] = 1024 * 1024
    try:
        fill_entry(page, recording=big)
        submit_and_expect(page, "recording", "音频文件太大：最多 1 MB")
    finally:
        app.config["CONTEST_MAX_AUDIO_BYTES"] = 20 * 1024 * 1024
    shot("contest-flow-05-oversize")
    db.session.rollback()
    assert db.session.query(Entry).count() == 0

    # 3. A group of three, the song title and a short recording.
    fill_entry(page, recording=song)
    page.check("input[name=consent_publish_name]")
    page.locator(ENTRY_FORM).click()
    page.wait_for_url(re.compile(r"/me/entries/\d+$"))
    assert page.locator(".entry-stage").inner_text() == "作品已提交"
    assert page.locator(".steps [aria-current=step] .step-title").inner_text() == "作品已提交"
    assert page.locator(".performers li").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("contest-flow-06-status")
    audit("entry-status")
    db.session.rollback()  # end this thread's read so it sees what the server committed
    entry = db.session.query(Entry).one()
    assert entry.media_type == "audio/mpeg" and entry.media_size == 48_000 and len(entry.performers) == 3
    assert entry.registration_id == registration.id

    page.goto("/me/entries")
    assert "作品已提交" in page.locator(".entry-stage").first.inner_text()
    shot("contest-flow-07-my-entries")
    audit("my-entries")
    page.goto(f"/me/registrations/{registration.id}")
    assert page.get_by_role("link", name="下一步：提交参赛作品").count() == 0
    assert "作品已提交" in page.locator(".steps").inner_text()
    shot("contest-flow-08-ticket-after")

    # 4. The same pages on a desktop.
    desktop = new_context(viewport=DESKTOP_VIEWPORT, bypass_csp=True).new_page()
    log_in(desktop, worker)
    for name, url in (("desktop-entry-form", f"/contests/{activity.id}/enter"),
                      ("desktop-entry", f"/me/entries/{entry.id}"), ("desktop-mine", "/me/entries"),
                      ("desktop-ticket", f"/me/registrations/{registration.id}")):
        desktop.goto(url)
        found = axe_problems(desktop)
        if found:
            problems[name] = found
    assert not problems, problems
    # The refused forms answer 422 (Chromium logs each as a failed load); nothing else may go wrong.
    assert [e for e in browser_errors if "status of 422" not in e] == []
