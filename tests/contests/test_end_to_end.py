"""The seed page's photo contest end to end: 383 entries, a preliminary and a final round, two judges,
and a published award list of exactly 5 / 15 / 25 / 35 / 40."""
from __future__ import annotations

import random
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from unionevents.accounts.models import User
from unionevents.accounts.services import create_user
from unionevents.contests import services
from unionevents.contests.models import Award, AwardTier, Contest, Entry, Round
from unionevents.core.db import is_sqlite
from unionevents.extensions import db
from unionevents.unions.services import find_by_name

from .conftest import WORKER_UNION, photo_bytes, upload

ENTRIES = 383
FINALISTS = 150


@pytest.fixture
def quick_commits(app):
    """Thousands of small commits: skip the fsyncs (durability is not under test here).

    Every connection checked out during the test runs without waiting for the disk (SQLite
    ``synchronous = OFF``, PostgreSQL ``synchronous_commit = off``); the pool is emptied afterwards
    so later tests get connections with the configured settings again.
    """
    app.config["UPLOAD_FSYNC"] = False
    statement = "PRAGMA synchronous = OFF" if is_sqlite() else "SET synchronous_commit TO off"

    def _no_sync(dbapi_connection, _record, _proxy):
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()

    db.session.remove()
    db.engine.dispose()
    event.listen(db.engine, "checkout", _no_sync)
    yield
    app.config["UPLOAD_FSYNC"] = True
    db.session.remove()
    event.remove(db.engine, "checkout", _no_sync)
    db.engine.dispose()


@contextmanager
def small_session():
    """Forget loaded objects afterwards, so commits do not expire hundreds of them each time."""
    yield
    db.session.expunge_all()


def test_photo_contest_with_383_entries_to_a_published_award_list(contest_world, judge_user, quick_commits,
                                                                  frozen_time):
    world = contest_world(entry_limit=3, capacity=1000)
    contest = world.refresh()
    contest_id, activity_id, organiser_id = contest.id, world.activity.id, world.organiser.id
    # One criterion scored 0–1000, so every entry gets a distinct total.
    for criterion in list(contest.criteria):
        services.delete_criterion(world.organiser, contest_id, criterion.id)
    criterion_id = services.add_criterion(world.organiser, contest_id, "综合", 100, 1000).id
    judge_ids = [judge_user(world, "评委甲").id, judge_user(world, "评委乙").id]

    union = find_by_name(WORKER_UNION)
    people = [create_user(f"1350000{i:04d}", f"摄影者{i}", None, union=union, accept_privacy=True)
              for i in range(ENTRIES)]
    db.session.commit()
    people_ids = [p.id for p in people]
    db.session.expunge_all()
    tiny = photo_bytes(size=(8, 8))
    entry_ids = []
    for i, person_id in enumerate(people_ids):
        with small_session():
            entry_ids.append(services.submit_entry(db.session.get(User, person_id), activity_id, services.EntryData(
                title=f"作品{i}", consent_publish_name=i % 2 == 0), [upload(tiny)]).id)
    assert db.session.scalar(select(func.count(Entry.id))) == ENTRIES

    organiser = db.session.get(User, organiser_id)
    contest = db.session.get(Contest, contest_id)
    preliminary_id, final_id = [r.id for r in contest.rounds]
    # The preliminary splits the 383 photos between the two judges (odd and even positions).
    rng = random.Random(2026)
    order = list(entry_ids)
    rng.shuffle(order)  # the preliminary's order of merit
    codes = dict(db.session.execute(select(Entry.id, Entry.code)).all())
    for judge_index, panel in enumerate(services.judges(contest)):
        services.assign_entries(organiser, contest_id, panel.id, [codes[e] for e in order[judge_index::2]])
    with pytest.raises(services.SubmissionsStillOpen):  # entries are still open: judging waits
        services.open_round(organiser, contest_id, preliminary_id)
    frozen_time(contest.activity.signup_closes_at)  # the announced deadline passes
    services.open_round(organiser, contest_id, preliminary_id)
    for judge_index, judge_id in enumerate(judge_ids):
        for position, entry_id in list(enumerate(order))[judge_index::2]:
            with small_session():
                services.save_scores(db.session.get(User, judge_id), preliminary_id, entry_id,
                                     {criterion_id: str(1000 - 2 * position)})
    organiser = db.session.get(User, organiser_id)
    services.close_round(organiser, contest_id, preliminary_id)
    advanced = services.advance(organiser, contest_id, preliminary_id, top_n=FINALISTS)
    assert sorted(advanced) == sorted(order[:FINALISTS])

    for panel in services.judges(db.session.get(Contest, contest_id)):  # the whole panel judges the final
        services.assign_entries(organiser, contest_id, panel.id, [])
    services.open_round(organiser, contest_id, final_id)
    final_order = list(advanced)
    rng.shuffle(final_order)
    for judge_index, judge_id in enumerate(judge_ids):
        judge = db.session.get(User, judge_id)
        _items, scored, total = services.blind_entries(judge, db.session.get(Round, final_id))
        assert (scored, total) == (0, FINALISTS)
        for position, entry_id in enumerate(final_order):
            with small_session():
                services.save_scores(db.session.get(User, judge_id), final_id, entry_id,
                                     {criterion_id: str(900 - 3 * position - judge_index)})
    organiser = db.session.get(User, organiser_id)
    services.close_round(organiser, contest_id, final_id)

    allocation = services.allocate(organiser, contest_id)
    assert not allocation.ties
    services.publish_results(organiser, contest_id)
    contest = db.session.get(Contest, contest_id)
    counts = dict(db.session.execute(select(AwardTier.id, func.count(Award.id)).join(Award)
                                     .group_by(AwardTier.id)).all())
    assert [counts[t.id] for t in contest.tiers] == [5, 15, 25, 35, 40]
    assert [t.awarded for t in contest.tiers] == [5, 15, 25, 35, 40]
    winners = services.published_awards(contest)
    assert len(winners) == 120
    assert {w.entry.id for w in winners if w.tier_name == contest.tiers[0].name} == set(final_order[:5])
