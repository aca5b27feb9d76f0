"""axe-core on the judge's blind scoring pages, the contest pages and the officer dashboard, on a phone
and a desktop: no serious or critical violation (issue 8 lists judge scoring and the dashboard among the
main pages).  The data is built through the services, as the organiser would."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.conftest import DESKTOP_VIEWPORT, PHONE_VIEWPORT, SCREENSHOT_DIR
from tests.browser.pages import log_in
from tests.browser.test_accessibility import BAD, axe_problems
from tests.contests.conftest import photo_bytes, upload
from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind
from unionevents.contests import services
from unionevents.contests.models import ContestFormat
from unionevents.core.timeutil import now
from unionevents.extensions import db

#: Tests that judge before the entry deadline close submissions early, as an organiser may (with a reason).
EARLY = "评委日程提前，提前截止投稿"


@pytest.fixture
def uploads(app, tmp_path):
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield
    app.config["UPLOAD_DIR"] = previous


@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, DESKTOP_VIEWPORT], ids=["phone", "desktop"])
def test_judge_contest_and_dashboard_pages_have_no_serious_violations(app, make, uploads, new_context, viewport):
    tree = make.tree()
    organiser = make.user("摄影赛组织者", role=Role.ORGANISER, scope=tree["朝阳区总工会"])
    officer = make.user("朝阳区干部", role=Role.OFFICER, scope=tree["朝阳区总工会"])
    entrant = make.user("欧阳小雨", union="奥运村快递驿站联合工会")
    judge = make.user("评委周老师")
    activity = make.activity("职工摄影大赛", node=tree["朝阳区总工会"], kind=ActivityKind.CONTEST, capacity=500,
                             starts_in=timedelta(days=9), signup_closes_at=now() + timedelta(days=7),
                             waitlist_enabled=False)
    contest = services.setup_contest(organiser, activity.id, services.ContestSettings(
        format=ContestFormat.PHOTO, entry_limit=3))
    services.add_judge(organiser, contest.id, judge.mobile)
    entry = services.submit_entry(entrant, activity.id, services.EntryData(title="工地的春天", description="清晨"),
                                  [upload(photo_bytes(size=(64, 48)))])
    first_round = contest.rounds[0]
    services.open_round(organiser, contest.id, first_round.id, override_reason=EARLY)
    db.session.commit()
    entry_id, round_id, activity_id = entry.id, first_round.id, activity.id

    found: dict[str, list] = {}
    phone = viewport == PHONE_VIEWPORT

    def audit(page, name: str, url: str) -> None:
        response = page.goto(url)
        assert response is not None and response.ok, f"{name}: {url} answered {response and response.status}"
        if phone:
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT_DIR / f"phone-{name}.png"), full_page=True)
        problems = axe_problems(page)
        if problems:
            found[name] = problems

    judge_page = new_context(viewport=viewport, bypass_csp=True).new_page()
    log_in(judge_page, judge)
    audit(judge_page, "judge-home", "/judge")
    audit(judge_page, "judge-round", f"/judge/rounds/{round_id}")
    audit(judge_page, "judge-scoring", f"/judge/rounds/{round_id}/entries/{entry_id}")

    worker_page = new_context(viewport=viewport, bypass_csp=True).new_page()
    log_in(worker_page, entrant)
    audit(worker_page, "contest", f"/contests/{activity_id}")
    audit(worker_page, "my-entry", f"/me/entries/{entry_id}")

    officer_page = new_context(viewport=viewport, bypass_csp=True).new_page()
    log_in(officer_page, officer)
    audit(officer_page, "officer-dashboard", "/reports/")
    audit(officer_page, "activity-statistics", f"/reports/activities/{activity_id}")

    assert not found, "serious or critical axe violations:\n" + "\n".join(
        f"{page}: {problem}" for page, problems in found.items() for problem in problems)
    assert BAD == {"serious", "critical"}
