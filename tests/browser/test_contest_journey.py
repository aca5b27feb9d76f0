"""The photo contest on phones: a worker uploads an entry, a judge scores it blind, and after the
organiser's rounds and awards the worker sees the award and a certificate."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.contests.conftest import photo_bytes
from tests.factories import PASSWORD
from unionevents.accounts.models import Role, User
from unionevents.activities.models import ActivityKind
from unionevents.contests import services
from unionevents.contests.models import ContestFormat, Entry
from unionevents.core.timeutil import now
from unionevents.extensions import db

#: Tests that judge before the entry deadline close submissions early, as an organiser may (with a reason).
EARLY = "评委日程提前，提前截止投稿"

pytestmark = pytest.mark.browser

ENTRANT = "欧阳小雨"
ENTRANT_MOBILE = "13655556666"


def log_in(page, user):
    page.goto("/account/login")
    page.fill("input[name=mobile]", user.mobile)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack-form button[type=submit], form.stack-form input[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def fresh(model, ident):
    db.session.rollback()  # end this thread's read so it sees what the server committed
    return db.session.get(model, ident)


@pytest.fixture
def uploads(app, tmp_path):
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield
    app.config["UPLOAD_DIR"] = previous


def test_worker_enters_judge_scores_blind_worker_sees_the_award(
        make, uploads, page, new_context, tmp_path, screenshot, browser_errors):
    tree = make.tree()
    organiser = make.user("工业工会组织者", role=Role.ORGANISER, scope=tree["朝阳区总工会"])
    worker = make.user(ENTRANT, mobile=ENTRANT_MOBILE, union="奥运村快递驿站联合工会")
    judge = make.user("评委周老师")
    activity = make.activity("职工摄影大赛", node=tree["朝阳区总工会"], kind=ActivityKind.CONTEST, capacity=500,
                             starts_in=timedelta(days=9), signup_closes_at=now() + timedelta(days=7),
                             waitlist_enabled=False)
    contest = services.setup_contest(organiser, activity.id, services.ContestSettings(
        format=ContestFormat.PHOTO, entry_limit=3))
    services.add_judge(organiser, contest.id, judge.mobile)
    photo = tmp_path / "工地的春天.jpg"
    photo.write_bytes(photo_bytes(size=(640, 480), color=(30, 120, 200), gps=True))

    # 1. The worker enters the contest on a phone.
    log_in(page, worker)
    page.goto(f"/activities/{activity.id}")
    page.locator("a.button", has_text=re.compile("Contest entries|参赛")).click()
    page.wait_for_url(re.compile(rf"/contests/{activity.id}$"))
    page.locator("a.button.primary").click()
    page.wait_for_url(re.compile(rf"/activities/{activity.id}/signup$"))  # one flow: sign up, then enter
    page.locator("form.signup-form [type=submit]").click()
    page.wait_for_url(re.compile(rf"/contests/{activity.id}/enter$"))
    page.fill("input[name=title]", "工地的春天")
    page.fill("textarea[name=description]", "清晨的塔吊与初升的太阳。")
    page.set_input_files("input[name=photos]", str(photo))
    page.check("input[name=consent_publish_name]")
    screenshot("contest-01-entry-form")
    page.locator("form.entry-form input[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/entries/\d+$"))
    entry_id = int(page.url.rsplit("/", 1)[1])
    entry = fresh(Entry, entry_id)
    assert entry.code in page.locator("h1").inner_text()
    assert page.locator(".photos img").first.evaluate("img => img.naturalWidth") > 0
    screenshot("contest-02-entry")

    # 2. The organiser opens the preliminary; the judge scores blind on a 360×740 phone.
    first, final = contest.rounds[0], contest.rounds[1]
    services.open_round(organiser, contest.id, first.id, override_reason=EARLY)
    judge_page = new_context().new_page()
    log_in(judge_page, judge)
    judge_page.get_by_role("link", name=re.compile("Judging|评审|评分")).first.click()
    judge_page.locator(".card a").first.click()
    judge_page.wait_for_url(re.compile(rf"/judge/rounds/{first.id}$"))
    assert "0" in judge_page.locator(".progress-text").inner_text()
    judge_page.locator(".judge-item a").first.click()
    html = judge_page.content()
    for secret in (ENTRANT, ENTRANT_MOBILE, ENTRANT_MOBILE[-4:], "奥运村快递驿站联合工会"):
        assert secret not in html
    assert judge_page.locator("h1").inner_text().startswith(entry.code)
    criteria = contest.criteria
    judge_page.fill(f"#c{criteria[0].id}", "12")  # out of range first: a message, not a crash
    for criterion in criteria[1:]:
        judge_page.fill(f"#c{criterion.id}", "8")
    judge_page.locator("form.score-form input[type=submit]").click()
    assert judge_page.locator(f"#c{criteria[0].id}-error").is_visible()
    screenshot("contest-03-judge-error", judge_page)
    judge_page.fill(f"#c{criteria[0].id}", "9.5")
    judge_page.locator("form.score-form input[type=submit]").click()
    judge_page.wait_for_url(re.compile(rf"/judge/rounds/{first.id}$"))
    assert "1" in judge_page.locator(".progress-text").inner_text()
    assert judge_page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot("contest-04-judge-progress", judge_page)

    # 3. Rounds and awards by the organiser (services), then the worker sees the award.
    judge = fresh(User, judge.id)
    organiser = fresh(User, organiser.id)
    services.close_round(organiser, contest.id, first.id)
    services.advance(organiser, contest.id, first.id, top_n=1)
    services.open_round(organiser, contest.id, final.id)
    services.save_scores(judge, final.id, entry_id, {c.id: "9" for c in criteria})
    services.close_round(organiser, contest.id, final.id)
    services.allocate(organiser, contest.id)
    services.publish_results(organiser, contest.id)
    top_tier = fresh(type(contest), contest.id).tiers[0].name

    page.goto(f"/me/entries/{entry_id}")
    assert top_tier in page.locator(".award").inner_text()
    screenshot("contest-05-award")
    page.locator("a", has_text=re.compile("certificate|证书")).first.click()
    assert ENTRANT in page.locator(".certificate-name").inner_text()
    page.goto(f"/contests/{activity.id}/results")
    assert ENTRANT in page.locator(".winner-name").first.inner_text()
    screenshot("contest-06-results")
    assert browser_errors == []
