"""Contest pages over HTTP: entry upload, image permissions, blind judge pages, organiser pages, results."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask import g

from unionevents.accounts.models import Role
from unionevents.contests import services
from unionevents.contests.models import Entry
from unionevents.core.timeutil import now
from unionevents.extensions import db

from .conftest import photo_bytes, submit_photo

#: Tests that judge before the entry deadline close submissions early, as an organiser may (with a reason).
EARLY = "评委日程提前，提前截止投稿"

ENTRANT_NAME = "欧阳独特"
ENTRANT_MOBILE = "13612345678"


def as_user(app, user):
    """A fresh client logged in as ``user`` (each identity its own cookie jar)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    return client


def _post_entry(client, activity_id, data: bytes, filename="photo.jpg", title="春天的工地", consent=True):
    form = {"title": title, "description": "在工地拍摄", "photos": (io.BytesIO(data), filename)}
    if consent:
        form["consent_publish_name"] = "y"
    return client.post(f"/contests/{activity_id}/enter", data=form, content_type="multipart/form-data")


@pytest.fixture
def entrant(make):
    make.tree()
    return make.user(ENTRANT_NAME, mobile=ENTRANT_MOBILE, union="奥运村快递驿站联合工会")


def test_worker_uploads_an_entry_and_sees_it(app, contest_world, entrant):
    world = contest_world()
    client = as_user(app, entrant)
    first = client.get(f"/contests/{world.activity.id}/enter")  # not signed up: the sign-up comes first
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/activities/{world.activity.id}/signup")
    response = _post_entry(client, world.activity.id, photo_bytes(gps=True))
    assert response.status_code == 302
    entry = db.session.query(Entry).one()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert entry.code in page and "春天的工地" in page
    photo = client.get(f"/contests/images/{entry.images[0].id}")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in photo.headers["Cache-Control"]  # an entrant's photo is not kept in any cache
    assert b"GPS" not in photo.data
    assert client.get(f"/contests/images/{entry.images[0].id}/thumb").mimetype == "image/jpeg"


def test_fake_photo_over_http_is_a_message_not_a_500(app, contest_world, entrant):
    world = contest_world()
    response = _post_entry(as_user(app, entrant), world.activity.id, b"plain text, not a photo", "x.jpg")
    assert response.status_code == 422
    assert 'id="photos-error"' in response.get_data(as_text=True)
    assert db.session.query(Entry).count() == 0


def test_oversize_request_is_the_entry_form_with_a_chinese_message_not_an_error_page(app, contest_world, entrant):
    world = contest_world()
    previous = app.config["CONTEST_MAX_ENTRY_REQUEST_BYTES"]
    app.config["CONTEST_MAX_ENTRY_REQUEST_BYTES"] = 10_000
    try:
        response = _post_entry(as_user(app, entrant), world.activity.id, photo_bytes() + b"\0" * 20_000)
    finally:
        app.config["CONTEST_MAX_ENTRY_REQUEST_BYTES"] = previous
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "上传的文件太大" in page and 'class="stack-form entry-form"' in page  # the form again, to try once more
    assert db.session.query(Entry).count() == 0


@pytest.mark.parametrize("page", ["enter", "edit"])
def test_anonymous_oversize_post_to_an_entry_page_is_the_login_redirect_not_a_500(app, contest_world, entrant,
                                                                                   page):
    world = contest_world()
    entry = submit_photo(entrant, world)
    url = (f"/contests/{world.activity.id}/enter" if page == "enter" else f"/me/entries/{entry.id}/edit")
    previous = app.config["CONTEST_MAX_ENTRY_REQUEST_BYTES"]
    app.config["CONTEST_MAX_ENTRY_REQUEST_BYTES"] = 10_000
    try:
        form = {"title": "x", "photos": (io.BytesIO(photo_bytes() + b"\0" * 20_000), "photo.jpg")}
        response = app.test_client().post(url, data=form, content_type="multipart/form-data")
    finally:
        app.config["CONTEST_MAX_ENTRY_REQUEST_BYTES"] = previous
    assert response.status_code == 302, response.status_code
    assert "/login" in response.headers["Location"] and "next=" in response.headers["Location"]


def test_the_entry_pages_alone_take_a_request_larger_than_max_content_length(app, contest_world, entrant):
    """A 30 MB body is refused on another page, but reaches the entry form (whose service then judges it)."""
    world = contest_world()
    body = photo_bytes() + b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1024)
    response = _post_entry(as_user(app, entrant), world.activity.id, body)
    assert response.status_code == 422 and "照片" in response.get_data(as_text=True)


def test_unpublished_photos_are_private(app, make, contest_world, entrant, judge_user):
    world = contest_world()
    entry = submit_photo(entrant, world)
    image_id = entry.images[0].id
    url = f"/contests/images/{image_id}"
    stranger = make.user("路人甲", union="奥运村快递驿站联合工会")
    far_organiser = make.user("丰台组织者", role=Role.ORGANISER, scope="丰台区总工会")
    assert app.test_client().get(url).status_code == 404
    assert as_user(app, stranger).get(url).status_code == 404
    assert as_user(app, far_organiser).get(url).status_code == 404
    assert as_user(app, world.organiser).get(url).status_code == 200
    assert as_user(app, judge_user(world)).get(url).status_code == 200
    assert as_user(app, entrant).get(url).status_code == 200


def test_photos_of_an_invitation_only_contest_stay_hidden_from_the_uninvited(app, make, contest_world,
                                                                              entrant):
    """The contest's pages answer 404 to a worker who is not invited: so do its photos, during the public
    vote (logged-in voters) and after the results (award winners are public only for public contests)."""
    from unionevents.activities.models import Visibility

    world = contest_world()
    entry = submit_photo(entrant, world)
    image_id = entry.images[0].id
    contest = world.refresh()
    contest.activity.visibility = Visibility.INVITATION
    contest.public_vote = True
    contest.vote_opens_at = now() - timedelta(hours=1)
    contest.vote_closes_at = now() + timedelta(hours=1)
    db.session.commit()
    stranger = make.user("路人甲", union="奥运村快递驿站联合工会")
    for url in (f"/contests/images/{image_id}", f"/contests/images/{image_id}/thumb"):
        assert as_user(app, stranger).get(url).status_code == 404
        assert app.test_client().get(url).status_code == 404
        assert as_user(app, entrant).get(url).status_code == 200  # registered: invited
        assert as_user(app, world.organiser).get(url).status_code == 200


def _judged(world, judge, entries, marks):
    contest = world.refresh()
    first = contest.rounds[0]
    services.open_round(world.organiser, contest.id, first.id, override_reason=EARLY)
    for entry, mark in zip(entries, marks):
        services.save_scores(judge, first.id, entry.id, {c.id: mark for c in contest.criteria})
    return first


def test_judge_pages_never_show_names_unions_or_mobiles(app, contest_world, entrant, judge_user):
    world = contest_world()
    entry = submit_photo(entrant, world, title="春天的工地", consent=True)
    judge = judge_user(world)
    first = _judged(world, judge, [], [])
    client = as_user(app, judge)
    pages = [client.get("/judge"), client.get(f"/judge/rounds/{first.id}"),
             client.get(f"/judge/rounds/{first.id}/entries/{entry.id}")]
    for page in pages:
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        for secret in (ENTRANT_NAME, ENTRANT_MOBILE, ENTRANT_MOBILE[-4:], "奥运村快递驿站联合工会",
                       f"user_id", f"/users/{entrant.id}"):
            assert secret not in html, secret
    assert entry.code in pages[2].get_data(as_text=True) and "0 / 1" not in pages[1].get_data(as_text=True)


def test_judge_scores_over_http_with_messages_and_progress(app, contest_world, entrant, judge_user):
    world = contest_world()
    entries = [submit_photo(entrant, world, title=f"作品{i}") for i in range(2)]
    judge = judge_user(world)
    first = _judged(world, judge, [], [])
    criteria = world.refresh().criteria
    client = as_user(app, judge)
    url = f"/judge/rounds/{first.id}/entries/{entries[0].id}"
    bad = client.post(url, data={f"c{c.id}": "11" for c in criteria})
    assert bad.status_code == 422 and f'id="c{criteria[0].id}-error"' in bad.get_data(as_text=True)
    good = client.post(url, data={f"c{c.id}": "8" for c in criteria})
    assert good.status_code == 302 and good.headers["Location"].endswith(f"/entries/{entries[1].id}")
    progress = client.get(f"/judge/rounds/{first.id}").get_data(as_text=True)
    assert "1" in progress and "2" in progress
    services.close_round(world.organiser, world.contest.id, first.id)
    late = client.post(url, data={f"c{c.id}": "9" for c in criteria})
    assert late.status_code == 409


def test_a_judge_of_another_contest_cannot_open_this_round(app, make, contest_world, entrant, judge_user):
    world = contest_world()
    entry = submit_photo(entrant, world)
    first = _judged(world, judge_user(world), [], [])
    other_world = contest_world()
    outsider = judge_user(other_world, name="别的评委")
    client = as_user(app, outsider)
    assert client.get(f"/judge/rounds/{first.id}").status_code == 404
    assert client.get(f"/judge/rounds/{first.id}/entries/{entry.id}").status_code == 404
    assert as_user(app, entrant).get("/judge").status_code == 403


def test_organiser_pages_work_and_are_scoped(app, make, contest_world, entrant, judge_user):
    world = contest_world()
    entry = submit_photo(entrant, world)
    judge = judge_user(world)
    first = _judged(world, judge, [entry], [8])
    base = f"/manage/activities/{world.activity.id}/contest"
    client = as_user(app, world.organiser)
    for path in ("", "/rounds", "/judges", f"/rounds/{first.id}/results", "/awards"):
        assert client.get(base + path).status_code == 200, path
    assert client.post(base + f"/rounds/{first.id}/close").status_code == 302
    export = client.get(base + "/export.xlsx")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    far = make.user("丰台组织者", role=Role.ORGANISER, scope="丰台区总工会")
    assert as_user(app, far).get(base).status_code == 403
    assert as_user(app, entrant).get(base + "/awards").status_code == 403


def test_organiser_sets_up_a_contest_with_the_form(app, make, contest_world):
    world = contest_world()
    client = as_user(app, world.organiser)
    base = f"/manage/activities/{world.activity.id}/contest"
    bad = client.post(base, data={"format": "photo", "entry_limit": "0", "jury_weight": "60"})
    assert bad.status_code == 422
    vote = client.post(base, data={"format": "photo", "entry_limit": "2", "jury_weight": "70", "public_vote": "y",
                                   "vote_opens_at": "2026-05-01T09:00", "vote_closes_at": "2026-05-01T08:00"})
    assert vote.status_code == 422 and "vote_closes_at-error" in vote.get_data(as_text=True)
    ok = client.post(base, data={"format": "photo", "entry_limit": "2", "jury_weight": "60"})
    assert ok.status_code == 302 and world.refresh().entry_limit == 2


def test_tie_at_the_cut_is_shown_for_an_explicit_choice(app, make, contest_world, judge_user):
    world = contest_world()
    entries = [submit_photo(make.user(f"职工{i}"), world, title=f"作品{i}") for i in range(3)]
    first = _judged(world, judge_user(world), entries, [9, 7, 7])
    services.close_round(world.organiser, world.contest.id, first.id)
    client = as_user(app, world.organiser)
    url = f"/manage/activities/{world.activity.id}/contest/rounds/{first.id}/results"
    tie = client.post(url, data={"rule": "top", "top_n": "2"})
    html = tie.get_data(as_text=True)
    assert tie.status_code == 409 and f'name="pick" value="{entries[1].id}"' in html
    done = client.post(url, data={"rule": "top", "top_n": "2", "pick": str(entries[2].id)})
    assert done.status_code == 302
    assert set(services.round_entry_ids(world.refresh().rounds[1])) == {entries[0].id, entries[2].id}


def test_results_page_certificate_and_own_outcome(app, make, contest_world, entrant, judge_user):
    world = contest_world()
    shy = make.user("害羞的人", union="奥运村快递驿站联合工会")
    winner = submit_photo(entrant, world, title="获奖作品", consent=True)
    anonymous = submit_photo(shy, world, title="匿名作品", consent=False)
    first = _judged(world, judge_user(world), [winner, anonymous], [9, 8])
    services.close_round(world.organiser, world.contest.id, first.id)
    services.allocate(world.organiser, world.contest.id)
    public = app.test_client()
    assert public.get(f"/contests/{world.activity.id}/results").status_code == 404
    assert public.get(f"/contests/images/{winner.images[0].id}").status_code == 404
    services.publish_results(world.organiser, world.contest.id)
    page = public.get(f"/contests/{world.activity.id}/results").get_data(as_text=True)
    assert ENTRANT_NAME in page and "害羞的人" not in page and str(services.MSG_ANONYMOUS) in page
    assert public.get(f"/contests/images/{winner.images[0].id}").status_code == 200  # winners are public
    mine = as_user(app, entrant).get(f"/me/entries/{winner.id}").get_data(as_text=True)
    assert "Special prize" in mine or "特等奖" in mine
    certificate = as_user(app, entrant).get(f"/me/entries/{winner.id}/certificate")
    assert certificate.status_code == 200 and ENTRANT_NAME in certificate.get_data(as_text=True)
    assert as_user(app, shy).get(f"/me/entries/{winner.id}/certificate").status_code == 404
    assert as_user(app, shy).get(f"/me/entries/{winner.id}").status_code == 404


def test_public_vote_over_http(app, make, contest_world, entrant, frozen_time):
    opens = now() - timedelta(hours=1)
    world = contest_world(public_vote=True, vote_opens_at=opens, vote_closes_at=opens + timedelta(days=2))
    entry = submit_photo(entrant, world)
    voter = as_user(app, make.user("投票人"))
    gallery = voter.get(f"/contests/{world.activity.id}/vote")
    assert gallery.status_code == 200 and entry.code in gallery.get_data(as_text=True)
    assert ENTRANT_NAME not in gallery.get_data(as_text=True)
    assert voter.get(f"/contests/images/{entry.images[0].id}/thumb").status_code == 200
    first = voter.post(f"/contests/{world.activity.id}/vote/{entry.id}")
    second = voter.post(f"/contests/{world.activity.id}/vote/{entry.id}", follow_redirects=True)
    assert first.status_code == 302 and second.status_code == 200
    assert str(services.AlreadyVoted.default_message) in second.get_data(as_text=True)


def test_the_organiser_forms_take_their_bounds_from_the_services(app):
    from wtforms.validators import NumberRange

    from unionevents.contests import rules
    from unionevents.contests.forms import AdvanceForm, CriterionForm, SettingsForm

    def bounds(field):
        return next((v.min, v.max) for v in field.validators if isinstance(v, NumberRange))

    with app.test_request_context():
        assert bounds(SettingsForm().jury_weight) == (0, rules.WEIGHT_TOTAL)
        assert bounds(SettingsForm().entry_limit) == (1, services.MAX_ENTRY_LIMIT)
        assert bounds(CriterionForm().weight) == (1, services.MAX_CRITERION_WEIGHT)
        assert bounds(CriterionForm().max_score) == (1, services.MAX_CRITERION_SCORE)
        assert bounds(AdvanceForm().top_n) == (1, services.MAX_ADVANCE)
        assert SettingsForm().jury_weight.default == rules.DEFAULT_JURY_WEIGHT
