"""Deleting an account removes the entrant's photos and anonymises their entries (issue 14, defect 10).

The deletion page promises that only anonymous statistics remain: the photo files go, the entry
keeps its code and its scores (so awards and statistics still add up) but loses title, text and names.
"""
from __future__ import annotations

from sqlalchemy import func, select

from unionevents.accounts import privacy
from unionevents.accounts.models import User
from unionevents.contests import services
from unionevents.contests.models import Entry, EntryImage, Score
from unionevents.extensions import db

from .conftest import submit_photo
from .test_views import as_user

#: Tests that judge before the entry deadline close submissions early, as an organiser may (with a reason).
EARLY = "评委日程提前，提前截止投稿"

SECRET_TITLE = "我家阳台的秘密花园"
SECRET_TEXT = "在工地拍摄"


def _scored(world, judge, entries, marks):
    contest = world.refresh()
    first = contest.rounds[0]
    services.open_round(world.organiser, contest.id, first.id, override_reason=EARLY)
    for entry, mark in zip(entries, marks):
        services.save_scores(judge, first.id, entry.id, {c.id: mark for c in contest.criteria})
    return first


def test_deleting_the_account_deletes_the_photos_and_anonymises_the_entry(app, make, contest_world,
                                                                          worker, judge_user, upload_dir):
    world = contest_world()
    entrant, other = worker("欧阳独特"), worker("王秋菊")
    entry = submit_photo(entrant, world, title=SECRET_TITLE, consent=True)
    kept = submit_photo(other, world, title="别人的作品")
    image_ids = [image.id for image in entry.images]
    own_files = {n for image in entry.images for n in (image.stored_name, image.thumb_name)}
    judge = judge_user(world)
    first = _scored(world, judge, [entry, kept], [9, 7])
    scores_before = db.session.scalar(select(func.count(Score.id)).where(Score.entry_id == entry.id))
    ranking_before = [(r.entry_id, r.rank) for r in services.final_ranking(world.refresh())[1]]
    assert scores_before == 3 and own_files <= {p.name for p in upload_dir.iterdir()}

    privacy.erase_account(db.session.get(User, entrant.id))
    db.session.expire_all()

    left = {p.name for p in upload_dir.iterdir()}
    assert not own_files & left, "the photo and its thumbnail are deleted from UPLOAD_DIR"
    assert len(left) == 2, "the other entrant's photo stays"
    assert db.session.scalar(select(func.count(EntryImage.id)).where(EntryImage.entry_id == entry.id)) == 0
    for client in (as_user(app, world.organiser), as_user(app, judge), app.test_client()):
        for image_id in image_ids:
            assert client.get(f"/contests/images/{image_id}").status_code == 404
            assert client.get(f"/contests/images/{image_id}/thumb").status_code == 404

    anonymous = db.session.get(Entry, entry.id)
    assert anonymous is not None and anonymous.code == entry.code
    assert SECRET_TITLE not in anonymous.title and anonymous.title
    assert anonymous.description == "" and not anonymous.consent_publish_name
    # Scores stay: the round's results and the final ranking are unchanged.
    assert db.session.scalar(select(func.count(Score.id)).where(Score.entry_id == entry.id)) == scores_before
    assert [(r.entry_id, r.rank) for r in services.final_ranking(world.refresh())[1]] == ranking_before

    judge_client = as_user(app, judge)
    for url in (f"/judge/rounds/{first.id}", f"/judge/rounds/{first.id}/entries/{entry.id}"):
        page = judge_client.get(url)
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert SECRET_TITLE not in html and SECRET_TEXT not in html and "欧阳独特" not in html
        assert entry.code in html and "已删除账号的作品" in html
    organiser_page = as_user(app, world.organiser).get(
        f"/manage/activities/{world.activity.id}/contest/rounds/{first.id}/results")
    assert organiser_page.status_code == 200
    html = organiser_page.get_data(as_text=True)
    assert entry.code in html and SECRET_TITLE not in html and "欧阳独特" not in html
    overview = as_user(app, world.organiser).get(f"/manage/activities/{world.activity.id}/contest")
    assert overview.status_code == 200 and SECRET_TITLE not in overview.get_data(as_text=True)


def test_a_performance_entry_loses_its_names_and_title_too(contest_world, worker, upload_dir):
    from unionevents.contests.models import ContestFormat

    from unionevents.contests.models import EntryMember
    from .test_media import mp3_bytes, upload

    world = contest_world(format=ContestFormat.PERFORMANCE)
    person = worker()
    entry = services.submit_entry(person, world.activity.id, services.EntryData(
        title=SECRET_TITLE, description=SECRET_TEXT, category="group", team_leader="欧阳独特",
        members="欧阳独特 13900001111\n司马小雨 13900002222"), recording=upload(mp3_bytes(), "歌.mp3"))
    recording = entry.media_name
    assert (upload_dir / recording).exists()
    privacy.erase_account(db.session.get(User, person.id))
    db.session.expire_all()
    anonymous = db.session.get(Entry, entry.id)
    assert SECRET_TITLE not in anonymous.title and anonymous.team_leader is None and anonymous.members is None
    assert anonymous.description == "" and anonymous.media_name is None
    assert db.session.query(EntryMember).count() == 0  # the members' names and mobiles go too
    assert not (upload_dir / recording).exists()


def test_files_stay_when_the_erasure_rolls_back(app, contest_world, worker, upload_dir):
    """Files go only after the database says the entry no longer points at them."""
    world = contest_world()
    person = worker()
    submit_photo(person, world)

    def broken(user_id):
        raise RuntimeError("disk full")

    privacy.register_erasure_hook(broken)
    try:
        try:
            privacy.erase_account(db.session.get(User, person.id))
        except RuntimeError:
            pass
    finally:
        privacy.erasure_hooks.remove(broken)
    db.session.rollback()
    assert len(list(upload_dir.iterdir())) == 2
    assert db.session.scalar(select(func.count(EntryImage.id))) == 1
