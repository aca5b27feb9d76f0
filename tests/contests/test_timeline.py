"""A small contest through its timeline over HTTP: judging waits for the entry deadline (or an early
close with a reason, audited), the contest page shows the real close, publishing goes through a summary
and a confirmation and is refused while a round is open, and 4 entries no longer all get 特等奖."""
from __future__ import annotations

from sqlalchemy import select

from unionevents.contests import services
from unionevents.contests.models import Contest, RoundStatus
from unionevents.core.audit import AuditLog
from unionevents.extensions import db

from .conftest import submit_photo
from .test_views import as_user as _as_user


def as_user(app, user):
    client = _as_user(app, user)
    client.set_cookie("lang", "en")
    return client


def _contest(world) -> Contest:
    db.session.expire_all()
    return db.session.get(Contest, world.contest.id)


def test_small_contest_timeline_guards_and_publication(app, make, contest_world, judge_user, english):
    world = contest_world()
    people = [make.user(f"参赛者{i}", union="奥运村快递驿站联合工会") for i in range(4)]
    entries = [submit_photo(p, world, title=f"作品{i}", consent=True) for i, p in enumerate(people)]
    judge = judge_user(world)
    organiser = as_user(app, world.organiser)
    base = f"/manage/activities/{world.activity.id}/contest"
    first = _contest(world).rounds[0]
    deadline = world.activity.signup_closes_at

    # Submissions are open: the organiser's page asks for a reason, and without one the round stays shut.
    rounds_page = organiser.get(f"{base}/rounds").get_data(as_text=True)
    assert 'name="reason"' in rounds_page
    refused = organiser.post(f"{base}/rounds/{first.id}/open", data={"reason": ""}, follow_redirects=True)
    assert "Submissions are open until" in refused.get_data(as_text=True)
    assert _contest(world).rounds[0].status == RoundStatus.SETUP
    assert organiser.post(f"{base}/rounds/{first.id}/open", data={"reason": "x" * 201}).status_code == 302
    assert _contest(world).rounds[0].status == RoundStatus.SETUP

    # With a reason, submissions close now: audited, and the contest page shows the real close.
    organiser.post(f"{base}/rounds/{first.id}/open", data={"reason": "评委下周出差"})
    contest = _contest(world)
    assert contest.rounds[0].status == RoundStatus.OPEN and contest.early_close_reason == "评委下周出差"
    closed = contest.submissions_closed_at
    assert closed is not None and closed < deadline
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "contest.submissions.close_early"))
    assert audit is not None and audit.actor_id == world.organiser.id and "评委下周出差" in str(audit.data)
    page = as_user(app, people[0]).get(f"/contests/{world.activity.id}").get_data(as_text=True)
    assert "Entries closed" in page and f'datetime="{closed.isoformat()}Z"' in page
    assert f'datetime="{deadline.isoformat()}Z"' not in page

    for entry, mark in zip(entries, (9, 8, 7, 6)):
        services.save_scores(judge, first.id, entry.id, {c.id: mark for c in contest.criteria})

    # Publishing is refused while the round is open (the summary says why, a forced POST changes nothing).
    services.set_award(world.organiser, contest.id, entries[0].id, contest.tiers[0].id)
    summary = organiser.get(f"{base}/results/publish").get_data(as_text=True)
    assert "A round is still being judged" in summary and 'name="confirm"' not in summary
    assert organiser.post(f"{base}/results/publish", data={"confirm": "y"}).status_code == 409
    assert not _contest(world).results_published

    services.close_round(world.organiser, contest.id, first.id)
    allocation = services.allocate(world.organiser, contest.id)
    contest = _contest(world)
    by_entry = {entry_id: tier_id for entry_id, tier_id, _rank in allocation.awards}
    assert [by_entry[e.id] for e in entries] == [t.id for t in contest.tiers[:4]]  # 特等 一等 二等 三等, one each

    # The summary lists entries, rounds and who gets what; publishing needs the confirmation.
    summary = organiser.get(f"{base}/results/publish").get_data(as_text=True)
    assert 'class="entry-count">4<' in summary and contest.rounds[0].name in summary
    assert all(e.code in summary for e in entries) and "1 of at most 1" in summary
    unconfirmed = organiser.post(f"{base}/results/publish", data={})
    assert unconfirmed.status_code == 422 and not _contest(world).results_published
    assert organiser.post(f"{base}/results/publish", data={"confirm": "y"}).status_code == 302
    contest = _contest(world)
    assert contest.results_published
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "contest.results.publish")) is not None
    public = app.test_client()
    public.set_cookie("lang", "en")
    page = public.get(f"/contests/{world.activity.id}").get_data(as_text=True)
    assert "Results published" in page and f'datetime="{contest.results_published_at.isoformat()}Z"' in page


def test_judging_opens_without_a_reason_once_the_deadline_has_passed(app, make, contest_world, frozen_time):
    world = contest_world()
    submit_photo(make.user("参赛者", union="奥运村快递驿站联合工会"), world)
    frozen_time(world.activity.signup_closes_at)
    first = _contest(world).rounds[0]
    as_user(app, world.organiser).post(f"/manage/activities/{world.activity.id}/contest/rounds/{first.id}/open",
                                       data={})
    contest = _contest(world)
    assert contest.rounds[0].status == RoundStatus.OPEN and contest.submissions_closed_at is None
    assert contest.entry_deadline == world.activity.signup_closes_at


def test_a_tier_minimum_score_is_saved_from_the_awards_page_and_validated(app, contest_world, english):
    world = contest_world()
    tier = _contest(world).tiers[0]
    client = as_user(app, world.organiser)
    url = f"/manage/activities/{world.activity.id}/contest/awards"
    ok = client.post(url, data={"tier_id": tier.id, "tier-name": tier.name, "tier-quota": "5",
                                "tier-min_score": "85.5"})
    assert ok.status_code == 302 and _contest(world).tiers[0].min_score == 85.5
    bad = client.post(url, data={"tier_id": tier.id, "tier-name": tier.name, "tier-quota": "5",
                                 "tier-min_score": "101"})
    assert bad.status_code == 422 and _contest(world).tiers[0].min_score == 85.5
    cleared = client.post(url, data={"tier_id": tier.id, "tier-name": tier.name, "tier-quota": "5",
                                     "tier-min_score": ""})
    assert cleared.status_code == 302 and _contest(world).tiers[0].min_score is None
