"""The demo seed's two contests: the photo contest's quotas and rounds, the singing contest's three stages."""
from __future__ import annotations

from sqlalchemy import select

from unionevents.accounts.models import User
from unionevents.activities.models import Activity
from unionevents.contests import services
from unionevents.contests.models import Contest, ContestFormat
from unionevents.extensions import db


def test_demo_contests_are_ready_and_the_seed_stays_idempotent(app, client):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    contests = {c.activity.title: c for c in db.session.scalars(select(Contest))}
    assert len(contests) == 3  # the seed page's two, and the showcase's small one (tests/unions/test_demo_showcase.py)
    photo = next(c for c in contests.values() if c.format == ContestFormat.PHOTO)
    songs = contests["怀柔区“五月的鲜花”职工群众歌咏活动"]
    assert [(t.name, t.quota) for t in photo.tiers] == [("特等奖", 5), ("一等奖", 15), ("二等奖", 25), ("三等奖", 35),
                                                        ("优秀奖", 40)]
    assert [r.name for r in songs.rounds] == ["初赛", "决赛", "颁奖展演"] and not songs.rounds[-1].scored
    assert not db.session.get(Activity, songs.activity_id).questions  # the entry form asks category and song
    song_entries = services.contest_entries(songs)
    assert sorted(e.category.value for e in song_entries) == ["choir", "group", "solo"]
    assert [len(e.performers) for e in sorted(song_entries, key=lambda e: e.category.value)] == [12, 3, 0]
    assert all(services.entry_progress(e).stage.value == "submitted" for e in song_entries)
    judge = db.session.scalar(select(User).where(User.mobile == "13700000001"))
    assert services.judge_of(judge, photo) is not None
    for contest in contests.values():
        assert client.get(f"/contests/{contest.activity_id}").status_code == 200
