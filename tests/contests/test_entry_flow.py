"""Contest entry in one flow (issue 19 item 7): sign-up leads into the entry; singing entries with
category, performers (name + mobile, limits per category), song title and an optional recording; the
entrant's progress 已报名 · 作品已提交 · 初赛 · 决赛 · 获奖; the same over the JSON API."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from tests.api_support import bearer
from unionevents.accounts.models import Role
from unionevents.contests import rules, services
from unionevents.contests.models import ContestFormat, Entry, EntryMember, RoundEntry
from unionevents.core.errors import Conflict, ValidationFailed
from unionevents.extensions import db
from unionevents.registrations import services as registrations
from unionevents.registrations.followups import followup
from unionevents.registrations.models import Registration

from .test_media import ftyp, mp3_bytes, upload

SONG = "五月的鲜花"
TRIO = "欧阳小雨 13900001111\n司马青 13900002222\n上官明 13900003333"


def members(n: int) -> str:
    return "\n".join(f"团员{i} 1390000{i:04d}" for i in range(1, n + 1))


def singing(contest_world, **settings):
    return contest_world(format=ContestFormat.PERFORMANCE, entry_limit=1, **settings)


def group_entry(person, world, text=TRIO, category="group", title=SONG, recording=None):
    return services.submit_entry(person, world.activity.id, services.EntryData(
        title=title, category=category, team_leader="欧阳小雨", members=text), recording=recording)


# --------------------------------------------------------------------------- rules

@pytest.mark.parametrize("category, count, problem", [
    ("solo", 0, None), ("solo", 1, (rules.NO_MEMBERS, 0)),
    ("group", 1, (rules.TOO_FEW, 2)), ("group", 2, None), ("group", 10, None), ("group", 11, (rules.TOO_MANY, 10)),
    ("choir", 9, (rules.TOO_FEW, 10)), ("choir", 10, None), ("choir", 80, None), ("choir", 81, (rules.TOO_MANY, 80)),
])
def test_member_limits_per_category_are_one_table(category, count, problem):
    assert rules.member_count_problem(category, count) == problem


def test_categories_are_the_enum_and_the_limits_table_alike():
    from unionevents.contests.models import PerformanceCategory

    assert set(rules.MEMBER_LIMITS) == {c.value for c in PerformanceCategory} == {"solo", "group", "choir"}


def test_member_lines_read_name_then_mobile_in_the_ways_people_type_them():
    text = "张三 13800001111\n\n李四，138-0000-2222\n欧阳 小雨 13800003333\n王五"
    assert rules.split_member_lines(text) == [
        (1, "张三", "13800001111"), (3, "李四", "138-0000-2222"), (4, "欧阳 小雨", "13800003333"), (5, "王五", "")]


@pytest.mark.parametrize("facts, stage", [
    (dict(holds_place=False, submitted=False, round_positions=(), awarded=False), -1),
    (dict(holds_place=True, submitted=False, round_positions=(), awarded=False), 0),
    (dict(holds_place=True, submitted=True, round_positions=(), awarded=False), 1),
    (dict(holds_place=True, submitted=True, round_positions={0}, awarded=False), 2),
    (dict(holds_place=True, submitted=True, round_positions={0, 1}, awarded=False), 3),
    (dict(holds_place=True, submitted=True, round_positions={0, 1, 2}, awarded=False), 3),
    (dict(holds_place=True, submitted=True, round_positions={0}, awarded=True), 4),
])
def test_the_stage_follows_place_entry_rounds_and_award(facts, stage):
    assert rules.entry_stage(**facts) == stage
    assert rules.STAGES == ("signed_up", "submitted", "preliminary", "final", "awarded")


# --------------------------------------------------------------------------- services

def test_a_group_entry_keeps_its_performers_and_recording(contest_world, worker, upload_dir):
    world, person = singing(contest_world), worker()
    entry = group_entry(person, world, recording=upload(mp3_bytes(), "五月的鲜花.mp3"))
    assert [(p.name, p.mobile) for p in entry.performers] == [
        ("欧阳小雨", "13900001111"), ("司马青", "13900002222"), ("上官明", "13900003333")]
    assert entry.media_type == "audio/mpeg" and entry.media_size == 4096
    assert (upload_dir / entry.media_name).exists()
    registration = db.session.get(Registration, entry.registration_id)
    assert registration.user_id == person.id and registration.holds_place


@pytest.mark.parametrize("text, category, title, needle", [
    (TRIO, "group", "", "曲目名称"),  # the song title is required
    ("欧阳小雨 1390000111\n司马青 13900002222", "group", SONG, "不是有效的中国大陆手机号"),
    (members(11), "group", SONG, "最多 10 名"),
    (members(3), "choir", SONG, "需要 10 到 80 名"),
    ("欧阳小雨 13900001111\n司马青", "group", SONG, "第 2 行"),
    ("欧阳小雨 13900001111\n司马青 13900001111", "group", SONG, "已在第 1 行"),
    ("欧阳小雨 13900001111", "solo", SONG, "独唱无需填写成员"),
])
def test_bad_performance_entries_say_what_is_wrong_in_chinese(contest_world, worker, text, category, title,
                                                              needle):
    world, person = singing(contest_world), worker()
    with pytest.raises(ValidationFailed) as caught:
        group_entry(person, world, text=text, category=category, title=title)
    assert needle in " ".join(m for messages in caught.value.errors.values() for m in messages)
    assert db.session.query(Entry).count() == 0 and db.session.query(EntryMember).count() == 0


@pytest.mark.parametrize("data, name, needle", [
    (b"<?php echo 1; ?>" + b"\0" * 100, "song.mp3", "MP3"),  # a script named .mp3: sniffed, refused
    (ftyp(b"heic"), "photo.mov", "MP4"),
    (b"", "empty.mp3", "文件为空"),
])
def test_a_recording_that_is_not_one_is_refused(contest_world, worker, upload_dir, data, name, needle):
    world, person = singing(contest_world), worker()
    with pytest.raises(ValidationFailed) as caught:
        group_entry(person, world, recording=upload(data, name))
    assert needle in caught.value.errors["recording"][0]
    assert db.session.query(Entry).count() == 0
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_an_oversize_recording_is_refused_with_the_limit(app, contest_world, worker, upload_dir):
    world, person = singing(contest_world), worker()
    app.config["CONTEST_MAX_AUDIO_BYTES"] = 8_000
    try:
        with pytest.raises(ValidationFailed) as caught:
            group_entry(person, world, recording=upload(mp3_bytes(8_001), "long.mp3"))
    finally:
        app.config["CONTEST_MAX_AUDIO_BYTES"] = 20 * 1024 * 1024
    assert "音频文件太大" in caught.value.errors["recording"][0]
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_changing_the_entry_replaces_performers_and_recording(contest_world, worker, upload_dir):
    world, person = singing(contest_world), worker()
    entry = group_entry(person, world, recording=upload(mp3_bytes(), "a.mp3"))
    first = entry.media_name
    services.update_entry(person, entry.id, services.EntryData(
        title=SONG, category="group", team_leader="欧阳小雨", members=members(4)),
        recording=upload(ftyp(b"isom"), "b.mp4"))
    db.session.expire_all()
    entry = db.session.get(Entry, entry.id)
    assert len(entry.performers) == 4 and entry.media_type == "video/mp4"
    assert not (upload_dir / first).exists() and (upload_dir / entry.media_name).exists()
    services.withdraw_entry(person, entry.id)
    assert list(upload_dir.iterdir()) == []


def test_no_place_no_entry(contest_world, worker):
    """A contest that is full: the entrant's sign-up is refused, so no entry is made either."""
    world = singing(contest_world, capacity=1)
    group_entry(worker(), world)
    with pytest.raises(Conflict):
        group_entry(worker("司马青"), world)
    assert db.session.query(Entry).count() == 1


def test_the_database_refuses_an_entry_without_a_registration(contest_world, worker):
    world, person = singing(contest_world), worker()
    db.session.add(Entry(contest_id=world.contest.id, user_id=person.id, registration_id=None, code="S9999",
                         title=SONG))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_database_refuses_half_a_recording(contest_world, worker):
    world, person = singing(contest_world), worker()
    entry = group_entry(person, world)
    entry.media_name = "0123456789abcdef.mp3"
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_progress_runs_from_sign_up_to_award(contest_world, worker, app):
    world, person = singing(contest_world), worker()
    registration = registrations.register(person, world.activity.id)
    with app.test_request_context():
        after = followup(registration)
    assert [s.title for s in after.steps] == ["已报名", "作品已提交", "初赛", "决赛", "获奖"]
    assert after.stage_title == "已报名" and after.action[0] == "contests.enter"
    entry = group_entry(person, world)
    assert services.entry_progress(entry).stage.value == "submitted"
    with app.test_request_context():
        after = followup(db.session.get(Registration, registration.id))
    assert after.stage_title == "作品已提交" and after.action is None  # nothing more to do
    contest = world.refresh()
    final = contest.rounds[1]
    db.session.add(RoundEntry(round_id=final.id, entry_id=entry.id))  # advanced to the final
    db.session.commit()
    assert services.entry_progress(db.session.get(Entry, entry.id)).stage_title == "决赛"


def test_another_kind_of_activity_has_no_followup(make, worker, app):
    activity = make.activity("花卉养护课", capacity=10)
    registration = registrations.register(worker(), activity.id)
    with app.test_request_context():
        assert followup(registration) is None


# --------------------------------------------------------------------------- pages

def as_user(app, user):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    return client


def test_signing_up_for_a_contest_leads_to_the_entry_form_and_the_ticket_says_what_is_next(
        app, contest_world, worker):
    world, person = singing(contest_world), worker()
    client = as_user(app, person)
    response = client.post(f"/activities/{world.activity.id}/signup", data={})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/contests/{world.activity.id}/enter")
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "成员（姓名和手机号）" in form and 'name="recording"' in form
    registration = db.session.query(Registration).filter_by(user_id=person.id).one()
    ticket = client.get(f"/me/registrations/{registration.id}").get_data(as_text=True)
    assert "下一步：提交参赛作品" in ticket and 'aria-current="step"' in ticket
    group_entry(person, world)
    ticket = client.get(f"/me/registrations/{registration.id}").get_data(as_text=True)
    assert "下一步：提交参赛作品" not in ticket and "作品已提交" in ticket


def test_the_entry_form_sends_a_worker_who_has_not_signed_up_to_the_sign_up(app, contest_world, worker):
    world, person = singing(contest_world), worker()
    client = as_user(app, person)
    response = client.get(f"/contests/{world.activity.id}/enter")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/activities/{world.activity.id}/signup")
    assert db.session.query(Registration).count() == 0  # nothing made by looking
    registrations.register(person, world.activity.id)
    assert client.get(f"/contests/{world.activity.id}/enter").status_code == 200


def test_the_entry_form_takes_members_and_a_recording_and_the_pages_show_the_status(app, contest_world, worker):
    world, person = singing(contest_world), worker()
    client = as_user(app, person)
    response = client.post(f"/contests/{world.activity.id}/enter", data={
        "category": "group", "title": SONG, "team_leader": "欧阳小雨", "members": TRIO,
        "recording": (io.BytesIO(mp3_bytes()), "song.mp3")}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "作品已提交" in page and "139****1111" in page and "成员（3）" in page
    assert "13900002222" not in page  # the members' mobiles are shown masked, even to the entrant
    mine = client.get("/me/entries").get_data(as_text=True)
    assert 'aria-current="step"' in mine and "作品已提交" in mine


def test_a_bad_entry_form_is_a_422_with_the_message_at_the_field(app, contest_world, worker):
    world, person = singing(contest_world), worker()
    response = as_user(app, person).post(f"/contests/{world.activity.id}/enter", data={
        "category": "group", "title": SONG, "team_leader": "欧阳小雨", "members": "欧阳小雨 123",
        "recording": (io.BytesIO(b"MZ\x90\x00" * 50), "song.mp3")}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="members-error"' in page and 'id="recording-error"' in page and "不是有效的中国大陆手机号" in page


# --------------------------------------------------------------------------- API

def test_the_api_submits_a_performance_entry_and_reads_its_status(client, contest_world, worker):
    world, person = singing(contest_world), worker()
    headers = bearer(person)
    body = {"title": SONG, "category": "group", "team_leader": "欧阳小雨",
            "members": [{"name": "欧阳小雨", "mobile": "13900001111"}, {"name": "司马青", "mobile": "13900002222"}]}
    response = client.post(f"/api/v1/contests/{world.activity.id}/entries", json=body, headers=headers)
    assert response.status_code == 201, response.json
    assert response.json["stage"] == "submitted" and response.json["members"][0]["mobile"] == "139****1111"
    listed = client.get("/api/v1/me/entries", headers=headers).json
    assert [e["id"] for e in listed] == [response.json["id"]]
    assert [s["current"] for s in listed[0]["steps"]] == [False, True, False, False, False]
    one = client.get(f"/api/v1/me/entries/{response.json['id']}", headers=headers)
    assert one.status_code == 200 and one.json["stage_title"]
    other = client.get(f"/api/v1/me/entries/{response.json['id']}", headers=bearer(worker("司马青")))
    assert other.status_code == 404


def test_the_api_says_what_is_wrong_with_an_entry(client, contest_world, worker):
    world, person = singing(contest_world), worker()
    body = {"title": "", "category": "choir", "team_leader": "欧阳小雨",
            "members": [{"name": "欧阳小雨", "mobile": "12345"}]}
    response = client.post(f"/api/v1/contests/{world.activity.id}/entries", json=body, headers=bearer(person))
    assert response.status_code == 422
    assert set(response.json["errors"]) >= {"title", "members"}


def test_entries_stay_open_only_until_the_deadline_for_the_next_step(contest_world, worker, frozen_time, app):
    world, person = singing(contest_world, closes_in=timedelta(days=1)), worker()
    registration = registrations.register(person, world.activity.id)
    frozen_time(world.activity.signup_closes_at)
    with app.test_request_context():
        assert followup(db.session.get(Registration, registration.id)).action is None


# --------------------------------------------------------------------------- the recording, played back

def test_the_recording_plays_for_entrant_organiser_and_judge_only(app, make, contest_world, worker, upload_dir,
                                                                   judge_user):
    world, person = singing(contest_world), worker()
    entry = group_entry(person, world, recording=upload(mp3_bytes(), "五月的鲜花.mp3"))
    url = f"/contests/entries/{entry.id}/recording"
    judge = judge_user(world)
    for who in (person, world.organiser, judge):
        response = as_user(app, who).get(url)
        assert response.status_code == 200
        assert response.mimetype == "audio/mpeg" and response.data == mp3_bytes()
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"] == "inline"
        assert "no-store" in response.headers["Cache-Control"]
    seek = as_user(app, person).get(url, headers={"Range": "bytes=0-9"})
    assert seek.status_code == 206 and len(seek.data) == 10  # players seek with Range requests
    other = worker("另一位职工")
    far_organiser = make.user("丰台组织者", role=Role.ORGANISER, scope="丰台区总工会")
    assert as_user(app, other).get(url).status_code == 404
    assert as_user(app, far_organiser).get(url).status_code == 404
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    # The entry's page and the judge's page carry the player (and a plain link, for no-JS/old phones).
    page = as_user(app, person).get(f"/me/entries/{entry.id}").get_data(as_text=True)
    assert f'<audio controls preload="none" src="{url}"' in page and f'href="{url}"' in page
    contest = world.refresh()
    first = contest.rounds[0]
    services.open_round(world.organiser, contest.id, first.id, override_reason="评委日程提前，提前截止投稿")
    judged = as_user(app, judge).get(f"/judge/rounds/{first.id}/entries/{entry.id}").get_data(as_text=True)
    assert f'<audio controls preload="none" src="{url}"' in judged


def test_an_entry_without_a_recording_has_none_to_play(app, contest_world, worker):
    world, person = singing(contest_world), worker()
    entry = group_entry(person, world)
    assert as_user(app, person).get(f"/contests/entries/{entry.id}/recording").status_code == 404
    assert "<audio" not in as_user(app, person).get(f"/me/entries/{entry.id}").get_data(as_text=True)
