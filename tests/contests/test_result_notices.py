"""Entrants and winners are told when a contest's results are published (once, in their language)."""
from __future__ import annotations

from sqlalchemy import select

from unionevents.contests import services
from unionevents.core.outbox import OutboxMessage
from unionevents.extensions import db

from .test_services import _awarded_world


def _notices(activity_id):
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.activity_id == activity_id, OutboxMessage.kind.like("contest.%")).order_by(OutboxMessage.id)))


def test_winners_and_entrants_are_told_once_when_results_are_published(contest_world, worker, judge_user):
    world, entries = _awarded_world(contest_world, worker, judge_user)
    services.allocate(world.organiser, world.contest.id)
    assert _notices(world.activity.id) == []  # allocating tells nobody
    services.publish_results(world.organiser, world.contest.id)
    notices = {m.user_id: m for m in _notices(world.activity.id)}
    owners = [e.user_id for e in entries]
    assert set(notices) == set(owners)
    assert notices[owners[0]].kind == "contest.won" and "一等奖" in notices[owners[0]].body
    assert notices[owners[1]].kind == "contest.won" and "二等奖" in notices[owners[1]].body
    assert notices[owners[3]].kind == "contest.results" and "奖" not in notices[owners[3]].body
    for message in notices.values():
        assert f"/contests/{world.activity.id}/results" in message.body and len(message.body) <= 70
        assert message.body.startswith(("恭喜", "“"))  # the workers' default language: Chinese
    services.unpublish_results(world.organiser, world.contest.id)
    services.publish_results(world.organiser, world.contest.id)
    assert len(_notices(world.activity.id)) == len(owners)  # published again: nobody is told twice
