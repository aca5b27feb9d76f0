"""Contest services: entries and their limits and deadline, blind judging, advancement, votes, awards."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from unionevents.core.audit import AuditLog
from unionevents.core.errors import Conflict, NotFound, ValidationFailed
from unionevents.contests import rules, services
from unionevents.contests.models import (
    Award, AwardTier, ContestFormat, Entry, PerformanceCategory, RoundStatus, Score, Vote,
)
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState

from .conftest import submit_photo

#: Tests that judge before the entry deadline close submissions early, as an organiser may (with a reason).
EARLY = "评委日程提前，提前截止投稿"


def test_a_new_photo_contest_has_the_seed_page_award_tiers_rounds_and_criteria(contest_world):
    world = contest_world()
    contest = world.refresh()
    assert [t.quota for t in contest.tiers] == [5, 15, 25, 35, 40]
    assert len(contest.rounds) == 2 and all(r.scored for r in contest.rounds)
    assert sum(c.weight for c in contest.criteria) == 100


def test_a_singing_contest_has_preliminary_final_and_an_unscored_award_show(contest_world):
    contest = contest_world(format=ContestFormat.PERFORMANCE, entry_limit=1).refresh()
    assert [r.scored for r in contest.rounds] == [True, True, False]


def test_entering_creates_the_confirmed_registration_through_the_engine(contest_world, worker):
    world, person = contest_world(), worker()
    entry = submit_photo(person, world)
    registration = db.session.get(Registration, entry.registration_id)
    assert registration.user_id == person.id and registration.state == RegistrationState.CONFIRMED
    assert entry.code == "P0001" and len(entry.images) == 1
    second = submit_photo(person, world, title="第二幅")
    assert second.registration_id == entry.registration_id and second.code == "P0002"
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("contest.entry%"))).all()
    assert actions == ["contest.entry.create", "contest.entry.create"]


def test_entry_limit_per_person(contest_world, worker):
    world, person = contest_world(entry_limit=2), worker()
    submit_photo(person, world)
    submit_photo(person, world)
    with pytest.raises(services.EntryLimitReached):
        submit_photo(person, world)
    other = worker("李春兰")
    submit_photo(other, world)  # the limit is per person
    assert db.session.scalar(select(func.count(Entry.id))) == 3


def test_entry_fields_are_checked_with_messages(contest_world, worker):
    world, person = contest_world(), worker()
    with pytest.raises(ValidationFailed) as caught:
        services.submit_entry(person, world.activity.id, services.EntryData(title=""), [])
    assert set(caught.value.errors) == {"title", "photos"}
    assert db.session.scalar(select(func.count(Registration.id))) == 0  # nothing made on a refusal


def test_performance_entries_need_category_leader_and_members(contest_world, worker):
    world, person = contest_world(format=ContestFormat.PERFORMANCE, entry_limit=1), worker()
    with pytest.raises(ValidationFailed) as caught:
        services.submit_entry(person, world.activity.id, services.EntryData(title="我和我的祖国", category="choir"))
    assert set(caught.value.errors) == {"team_leader", "members"}
    choir = "\n".join(f"团员{n} 1390000{n:04d}" for n in range(1, 13))
    entry = services.submit_entry(person, world.activity.id, services.EntryData(
        title="我和我的祖国", category="choir", team_leader="赵老师", members=choir))
    assert entry.category == PerformanceCategory.CHOIR and entry.code == "S0001"
    assert [(p.name, p.mobile) for p in entry.performers][:2] == [("团员1", "13900000001"), ("团员2", "13900000002")]


def test_entries_can_be_edited_until_the_deadline_then_lock(contest_world, worker, frozen_time):
    world, person = contest_world(closes_in=timedelta(days=1)), worker()
    entry = submit_photo(person, world)
    services.update_entry(person, entry.id, services.EntryData(title="新标题", consent_publish_name=True))
    db.session.expire_all()
    entry = db.session.get(Entry, entry.id)
    assert entry.title == "新标题" and entry.consent_publish_name and entry.consent_at is not None
    frozen_time(world.activity.signup_closes_at)
    with pytest.raises(services.EntriesLocked):
        services.update_entry(person, entry.id, services.EntryData(title="太晚了"))
    with pytest.raises(services.EntriesLocked):
        services.withdraw_entry(person, entry.id)
    with pytest.raises(services.EntriesLocked):
        submit_photo(person, world)


def test_entries_lock_once_judging_starts(contest_world, worker):
    world, person = contest_world(), worker()
    entry = submit_photo(person, world)
    services.open_round(world.organiser, world.contest.id, world.refresh().rounds[0].id, override_reason=EARLY)
    with pytest.raises(services.EntriesLocked) as caught:
        services.update_entry(person, entry.id, services.EntryData(title="改一改"))
    assert "Judging" in str(caught.value.message) or "评" in str(caught.value.message)
    with pytest.raises(services.EntriesLocked):
        submit_photo(person, world)


def test_nobody_edits_someone_elses_entry(contest_world, worker):
    world = contest_world()
    entry = submit_photo(worker(), world)
    with pytest.raises(NotFound):
        services.update_entry(worker("王秋菊"), entry.id, services.EntryData(title="x"))


def test_withdrawing_removes_the_entry_and_its_files(contest_world, worker, upload_dir):
    world, person = contest_world(), worker()
    entry = submit_photo(person, world)
    assert len(list(upload_dir.iterdir())) == 2  # photo + thumbnail
    services.withdraw_entry(person, entry.id)
    assert list(upload_dir.iterdir()) == []


def _scored_round(world, judge, entries, marks):
    """Open the first round and let ``judge`` score each entry with all criteria = ``marks[i]``."""
    contest = world.refresh()
    first = contest.rounds[0]
    services.open_round(world.organiser, contest.id, first.id, override_reason=EARLY)
    for entry, mark in zip(entries, marks):
        services.save_scores(judge, first.id, entry.id, {c.id: mark for c in contest.criteria})
    return first


def test_judges_see_codes_and_titles_only(contest_world, worker, judge_user):
    world = contest_world()
    entry = submit_photo(worker("张小花"), world, title="春天的工地")
    judge = judge_user(world)
    first = _scored_round(world, judge, [], [])
    items, scored, total = services.blind_entries(judge, first)
    assert (scored, total) == (0, 1)
    assert items[0].code == entry.code and items[0].title == "春天的工地"
    assert not hasattr(items[0], "user") and not hasattr(items[0], "user_id")


def test_scores_are_validated_revisable_while_open_and_frozen_after(contest_world, worker, judge_user):
    world = contest_world()
    entry = submit_photo(worker(), world)
    judge = judge_user(world)
    first = _scored_round(world, judge, [], [])
    criteria = world.refresh().criteria
    with pytest.raises(ValidationFailed) as caught:
        services.save_scores(judge, first.id, entry.id, {criteria[0].id: "11", criteria[1].id: "abc"})
    errors = caught.value.errors
    assert f"c{criteria[0].id}" in errors and f"c{criteria[1].id}" in errors and f"c{criteria[2].id}" in errors
    assert "0" in errors[f"c{criteria[0].id}"][0] and "10" in errors[f"c{criteria[0].id}"][0]
    services.save_scores(judge, first.id, entry.id, {c.id: "7" for c in criteria})
    services.save_scores(judge, first.id, entry.id, {c.id: "8.5" for c in criteria})  # revised
    values = db.session.scalars(select(Score.value).where(Score.judge_id == judge.id)).all()
    assert sorted(values) == [8.5, 8.5, 8.5]
    services.close_round(world.organiser, world.contest.id, first.id)
    with pytest.raises(services.RoundClosed):
        services.save_scores(judge, first.id, entry.id, {c.id: "9" for c in criteria})


def test_one_score_per_judge_entry_round_and_criterion_in_the_database(contest_world, worker, judge_user):
    world = contest_world()
    entry = submit_photo(worker(), world)
    judge = judge_user(world)
    first = _scored_round(world, judge, [entry], [5])
    criterion = world.refresh().criteria[0]
    db.session.add(Score(round_id=first.id, entry_id=entry.id, judge_id=judge.id, criterion_id=criterion.id,
                         value=1))
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()


def test_judges_limited_to_a_subset_and_strangers_refused(contest_world, worker, judge_user, make):
    world = contest_world()
    entries = [submit_photo(worker(f"职工{i}"), world, title=f"作品{i}") for i in range(3)]
    judge = judge_user(world)
    panel = services.judges(world.refresh())[0]
    services.assign_entries(world.organiser, world.contest.id, panel.id, [entries[0].code, entries[2].code.lower()])
    first = _scored_round(world, judge, [], [])
    items, _scored, total = services.blind_entries(judge, first)
    assert total == 2 and {i.id for i in items} == {entries[0].id, entries[2].id}
    with pytest.raises(NotFound):
        services.save_scores(judge, first.id, entries[1].id, {})
    with pytest.raises(NotFound):
        services.judge_round_for(make.user("路人"), first.id)
    with pytest.raises(ValidationFailed):
        services.assign_entries(world.organiser, world.contest.id, panel.id, ["P9999"])


def test_advancement_top_n_with_a_tie_needs_the_organisers_pick(contest_world, worker, judge_user):
    world = contest_world()
    entries = [submit_photo(worker(f"职工{i}"), world, title=f"作品{i}") for i in range(5)]
    judge = judge_user(world)
    first = _scored_round(world, judge, entries, [9, 8, 7, 7, 5])
    services.close_round(world.organiser, world.contest.id, first.id)
    with pytest.raises(services.TieAtCut) as caught:
        services.advance(world.organiser, world.contest.id, first.id, top_n=3)
    assert set(caught.value.cut.tied) == {entries[2].id, entries[3].id} and caught.value.cut.slots == 1
    with pytest.raises(services.TieAtCut):  # picking a non-tied entry is no resolution
        services.advance(world.organiser, world.contest.id, first.id, top_n=3, picks=[entries[4].id])
    chosen = services.advance(world.organiser, world.contest.id, first.id, top_n=3, picks=[entries[3].id])
    assert set(chosen) == {entries[0].id, entries[1].id, entries[3].id}
    final = world.refresh().rounds[1]
    assert set(services.round_entry_ids(final)) == set(chosen)
    by_threshold = services.advance(world.organiser, world.contest.id, first.id, threshold=70)
    assert len(by_threshold) == 4  # redo before the final starts: all scoring at least 70


def test_advancing_needs_a_closed_round(contest_world, worker, judge_user):
    world = contest_world()
    entry = submit_photo(worker(), world)
    first = _scored_round(world, judge_user(world), [entry], [8])
    with pytest.raises(Conflict):
        services.advance(world.organiser, world.contest.id, first.id, top_n=1)
    with pytest.raises(ValidationFailed):
        services.advance(world.organiser, world.contest.id, first.id, top_n=0)


def test_advancement_limits_are_the_services_and_named_in_their_messages(contest_world, worker, judge_user):
    world = contest_world()
    entry = submit_photo(worker(), world)
    first = _scored_round(world, judge_user(world), [entry], [8])
    services.close_round(world.organiser, world.contest.id, first.id)
    with pytest.raises(ValidationFailed) as caught:
        services.advance(world.organiser, world.contest.id, first.id, threshold=rules.SCORE_SCALE + 0.5)
    assert [str(m) for m in caught.value.errors["threshold"]] == [
        f"请输入 0 到 {rules.SCORE_SCALE} 之间的分数。"]
    with pytest.raises(ValidationFailed) as caught:
        services.advance(world.organiser, world.contest.id, first.id, top_n=services.MAX_ADVANCE + 1)
    assert [str(m) for m in caught.value.errors["top_n"]] == [
        f"请输入 1 到 {services.MAX_ADVANCE} 之间的整数。"]
    with pytest.raises(Conflict):  # the top of the scale is a valid threshold: nobody reaches it here
        services.advance(world.organiser, world.contest.id, first.id, threshold=rules.SCORE_SCALE)


def test_weights_are_percentages_of_one_total(contest_world, make):
    world = contest_world()
    too_heavy = services.ContestSettings(format=ContestFormat.PHOTO, entry_limit=3, public_vote=True,
                                         vote_opens_at=now(), vote_closes_at=now() + timedelta(days=1),
                                         jury_weight=rules.WEIGHT_TOTAL + 1)
    with pytest.raises(ValidationFailed) as caught:
        services.setup_contest(world.organiser, world.activity.id, too_heavy)
    assert [str(m) for m in caught.value.errors["jury_weight"]] == [
        f"请输入 0 到 {rules.WEIGHT_TOTAL} 之间的评委评分权重（百分比）。"]
    contest = world.refresh()  # made without a public vote: the jury decides alone
    assert (contest.jury_weight, contest.public_weight) == (rules.WEIGHT_TOTAL, 0)
    with pytest.raises(ValidationFailed) as caught:
        services.add_criterion(world.organiser, world.contest.id, "构图",
                               services.MAX_CRITERION_WEIGHT + 1, 10)
    assert [str(m) for m in caught.value.errors["weight"]] == [
        f"请输入 1 到 {services.MAX_CRITERION_WEIGHT} 之间的权重。"]


def _vote_world(contest_world, worker):
    opens = now() - timedelta(hours=1)
    world = contest_world(public_vote=True, vote_opens_at=opens, vote_closes_at=opens + timedelta(days=3),
                          jury_weight=60)
    entries = [submit_photo(worker(f"职工{i}"), world, title=f"作品{i}") for i in range(2)]
    return world, entries


def test_one_public_vote_per_account_per_day(contest_world, worker, frozen_time):
    frozen_time(datetime(2026, 5, 1, 2, 0))  # 10:00 in Beijing
    world, entries = _vote_world(contest_world, worker)
    voter = worker("投票人")
    services.cast_vote(voter, world.activity.id, entries[0].id)
    with pytest.raises(services.AlreadyVoted):
        services.cast_vote(voter, world.activity.id, entries[1].id)
    frozen_time(datetime(2026, 5, 1, 15, 59))  # 23:59 the same Beijing day
    with pytest.raises(services.AlreadyVoted):
        services.cast_vote(voter, world.activity.id, entries[1].id)
    frozen_time(datetime(2026, 5, 1, 16, 0))  # midnight: a new day
    services.cast_vote(voter, world.activity.id, entries[1].id)
    assert db.session.scalar(select(func.count(Vote.id))) == 2
    frozen_time(world.refresh().vote_closes_at)
    with pytest.raises(services.VoteClosed):
        services.cast_vote(worker("迟到者"), world.activity.id, entries[0].id)


def test_the_database_refuses_a_second_vote_the_same_day(contest_world, worker):
    world, entries = _vote_world(contest_world, worker)
    voter = worker("投票人")
    services.cast_vote(voter, world.activity.id, entries[0].id)
    db.session.add(Vote(contest_id=world.contest.id, entry_id=entries[1].id, voter_id=voter.id,
                        day=rules.vote_day(now())))
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()


def test_final_score_combines_jury_and_public_vote(contest_world, worker, judge_user):
    world, entries = _vote_world(contest_world, worker)
    for i in range(3):
        services.cast_vote(worker(f"投票{i}"), world.activity.id, entries[1].id)
    first = _scored_round(world, judge_user(world), entries, [9, 8])
    services.close_round(world.organiser, world.contest.id, first.id)
    _round, ranked, scores = services.final_ranking(world.refresh())
    assert scores[entries[0].id].final == pytest.approx(0.6 * 90)
    assert scores[entries[1].id].final == pytest.approx(0.6 * 80 + 0.4 * 100)
    assert ranked[0].entry_id == entries[1].id


def _awarded_world(contest_world, worker, judge_user, n=4, tiers=((1,), (2,))):
    world = contest_world()
    entries = [submit_photo(worker(f"职工{i}"), world, title=f"作品{i}", consent=i == 0) for i in range(n)]
    first = _scored_round(world, judge_user(world), entries, [9, 8, 7, 6][:n])
    services.close_round(world.organiser, world.contest.id, first.id)
    contest = world.refresh()
    for tier in contest.tiers[2:]:
        services.delete_tier(world.organiser, contest.id, tier.id)
    services.save_tier(world.organiser, contest.id, contest.tiers[0].id, "一等奖", 1)
    services.save_tier(world.organiser, contest.id, contest.tiers[1].id, "二等奖", 2)
    return world, entries


def test_awards_by_rank_hand_edits_never_pass_a_quota(contest_world, worker, judge_user):
    world, entries = _awarded_world(contest_world, worker, judge_user)
    allocation = services.allocate(world.organiser, world.contest.id)
    assert len(allocation.awards) == 3
    contest = world.refresh()
    first_tier, second_tier = contest.tiers
    assert (first_tier.awarded, second_tier.awarded) == (1, 2)
    with pytest.raises(services.QuotaFull):  # the 4th entry cannot join a full tier
        services.set_award(world.organiser, contest.id, entries[3].id, second_tier.id)
    with pytest.raises(ValidationFailed):  # nor can the quota drop below what is awarded
        services.save_tier(world.organiser, contest.id, second_tier.id, "二等奖", 1)
    services.set_award(world.organiser, contest.id, entries[2].id, None)  # free a place ...
    services.set_award(world.organiser, contest.id, entries[3].id, second_tier.id)  # ... and give it by hand
    contest = world.refresh()
    counts = dict(db.session.execute(select(Award.tier_id, func.count(Award.id)).group_by(Award.tier_id)).all())
    assert counts == {first_tier.id: 1, second_tier.id: 2}
    assert [t.awarded for t in contest.tiers] == [1, 2]


def test_the_database_refuses_a_tier_counter_above_its_quota(contest_world):
    world = contest_world()
    tier = world.refresh().tiers[0]
    tier.awarded = tier.quota + 1
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()


def test_publishing_shows_names_only_with_consent(contest_world, worker, judge_user):
    world, entries = _awarded_world(contest_world, worker, judge_user)
    contest = world.refresh()
    with pytest.raises(NotFound):
        services.published_awards(contest)
    with pytest.raises(Conflict):
        services.publish_results(world.organiser, contest.id)  # nothing allocated yet
    services.allocate(world.organiser, contest.id)
    outcome = services.entry_outcome(db.session.get(Entry, entries[0].id))
    assert outcome.award is None and not outcome.published  # not before publication
    services.publish_results(world.organiser, contest.id)
    winners = services.published_awards(world.refresh())
    names = [w.display_name for w in winners]
    assert names == ["职工0", str(services.MSG_ANONYMOUS), str(services.MSG_ANONYMOUS)]
    outcome = services.entry_outcome(db.session.get(Entry, entries[0].id))
    assert outcome.published and outcome.award.tier.name == "一等奖"
    with pytest.raises(Conflict):  # awards are frozen while published
        services.set_award(world.organiser, contest.id, entries[3].id, None)


def test_export_has_every_score_the_vote_and_the_ranking(contest_world, worker, judge_user):
    from io import BytesIO

    from openpyxl import load_workbook

    world, entries = _awarded_world(contest_world, worker, judge_user)
    services.allocate(world.organiser, world.contest.id)
    book = load_workbook(BytesIO(services.export_scores(world.refresh())))
    ranking, scores, votes = book.worksheets
    assert ranking.max_row == 1 + 4 and scores.max_row == 1 + 4 * 3 and votes.max_row == 1 + 4
    names = {cell.value for row in book.worksheets for r in row.iter_rows() for cell in r}
    assert "职工1" not in names  # entrants stay anonymous in the deliberation sheet
