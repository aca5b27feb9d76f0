"""Series of activities: made from one activity, each occurrence its own activity; edits to one or to all
later ones; whole-series sign-up through the sign-up engine, all or nothing."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from unionevents.activities import series_rules
from unionevents.activities.models import Activity, ActivityStatus
from unionevents.activities.services import ActivityData, series
from unionevents.activities.services.series import EditScope
from unionevents.core.errors import Conflict, NotAllowed, ValidationFailed
from unionevents.core.timeutil import now, utc_to_local
from unionevents.extensions import db
from unionevents.registrations import services as registrations
from unionevents.registrations.models import Registration, RegistrationState as S
from unionevents.registrations.services.errors import ActivityFull

from .conftest import organiser, rival, tree  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def weekly_class(make, organiser):
    # sign-up opened a month ago: it stays open for every date (each window moves with its date)
    return make.activity("花卉养护课", capacity=2, starts_in=timedelta(days=3),
                         signup_opens_at=now() - timedelta(days=30))


def weekly_dates(activity, weeks=4):
    start = utc_to_local(activity.starts_at)
    return series_rules.weekly(start.date(), start.weekday(), start.time(), weeks)


def test_a_weekly_series_makes_one_activity_per_date(weekly_class, organiser):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class), whole_series_signup=True)
    items = series.occurrences(made.id)
    assert len(items) == 4 and items[0].id == weekly_class.id
    assert [b.starts_at - a.starts_at for a, b in zip(items, items[1:])] == [timedelta(weeks=1)] * 3
    for item in items:
        assert (item.title, item.capacity, item.taken, item.status) == ("花卉养护课", 2, 0, ActivityStatus.PUBLISHED)
        assert item.signup_closes_at - item.starts_at == weekly_class.signup_closes_at - weekly_class.starts_at


def test_series_refusals(weekly_class, organiser, rival):
    with pytest.raises(NotAllowed):
        series.create_series(rival, weekly_class.id, weekly_dates(weekly_class))
    with pytest.raises(ValidationFailed) as error:
        series.create_series(organiser, weekly_class.id, [utc_to_local(weekly_class.starts_at)])
    assert "at least one date" in error.value.errors["dates"][0]
    past = utc_to_local(weekly_class.starts_at) - timedelta(days=30)
    with pytest.raises(ValidationFailed) as error:
        series.create_series(organiser, weekly_class.id, [past])
    assert "already passed" in error.value.errors["dates"][0]
    series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 2))
    with pytest.raises(Conflict):
        series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 3))


def test_each_occurrence_has_its_own_capacity_and_roster(weekly_class, organiser, make):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 2))
    first, second = series.occurrences(made.id)
    people = [make.user(f"学员{i}") for i in range(3)]
    assert [registrations.register(p, first.id).state for p in people] == [S.CONFIRMED, S.CONFIRMED, S.WAITLISTED]
    assert registrations.register(people[2], second.id).state == S.CONFIRMED


def _data(activity, **changes):
    data = ActivityData.from_activity(activity)
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def test_edit_one_date_leaves_the_others(weekly_class, organiser):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 3))
    first, second, third = series.occurrences(made.id)
    series.update_occurrences(organiser, second.id, _data(second, venue="二楼教室", capacity=5), EditScope.ONE)
    db.session.expire_all()
    assert [a.venue for a in series.occurrences(made.id)] == [first.venue, "二楼教室", third.venue]


def test_edit_all_future_dates_moves_them_and_changes_fields(weekly_class, organiser):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 4))
    items = series.occurrences(made.id)
    before = [a.starts_at for a in items]
    hour = timedelta(hours=1)
    second = items[1]
    series.update_occurrences(organiser, second.id, _data(
        second, venue="职工之家", capacity=8, starts_at=second.starts_at + hour, ends_at=second.ends_at + hour),
        EditScope.FUTURE)
    db.session.expire_all()
    after = series.occurrences(made.id)
    assert [a.starts_at for a in after] == [before[0]] + [t + hour for t in before[1:]]
    assert [a.venue for a in after][1:] == ["职工之家"] * 3 and after[0].venue != "职工之家"
    assert [a.capacity for a in after] == [2, 8, 8, 8]
    assert all(a.signup_closes_at < a.starts_at for a in after)


def test_a_future_edit_that_fails_for_one_date_changes_none(weekly_class, organiser, make):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 3))
    first, second, third = series.occurrences(made.id)
    for i in range(2):
        registrations.register(make.user(f"满员{i}"), third.id)
    with pytest.raises(ValidationFailed):  # capacity 1 is below the third date's 2 places taken
        series.update_occurrences(organiser, second.id, _data(second, capacity=1, venue="新址"), EditScope.FUTURE)
    db.session.expire_all()
    assert [a.venue for a in series.occurrences(made.id)] == [weekly_class.venue] * 3


# --------------------------------------------------------------------------- whole-series sign-up

def test_whole_series_signup_takes_a_place_in_every_open_date(weekly_class, organiser, make):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 3), whole_series_signup=True)
    worker = make.user("学员")
    registrations.register(worker, weekly_class.id)  # already in the first: signed up for the rest
    made_now = registrations.register_for_series(worker, made.id)
    assert len(made_now) == 2 and all(r.state == S.CONFIRMED for r in made_now)
    assert registrations.series_signup_left(worker, made.id) == []
    with pytest.raises(Conflict):
        registrations.register_for_series(worker, made.id)


def test_whole_series_signup_is_all_or_nothing(weekly_class, organiser, make):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 3), whole_series_signup=True)
    third = series.occurrences(made.id)[2]
    for i in range(2):
        registrations.register(make.user(f"先来{i}"), third.id)  # the third date is full
    worker = make.user("学员")
    with pytest.raises(ActivityFull) as error:
        registrations.register_for_series(worker, made.id)
    assert "is full" in str(error.value.message)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Registration.id)).where(Registration.user_id == worker.id)) == 0
    assert [a.taken for a in series.occurrences(made.id)] == [0, 0, 2]


def test_whole_series_signup_only_where_the_organiser_allows(weekly_class, organiser, make):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 2), whole_series_signup=False)
    with pytest.raises(Conflict):
        registrations.register_for_series(make.user("学员"), made.id)


# --------------------------------------------------------------------------- pages

def _edit_form(activity, **changes):
    def local(value):
        return utc_to_local(value).strftime("%Y-%m-%dT%H:%M") if value else ""

    data = {"title": activity.title, "kind": activity.kind.value, "node_id": str(activity.node_id),
            "description": activity.description, "venue": activity.venue, "starts_at": local(activity.starts_at),
            "ends_at": local(activity.ends_at), "signup_opens_at": local(activity.signup_opens_at),
            "signup_closes_at": local(activity.signup_closes_at), "cancel_cutoff_at": "",
            "capacity": str(activity.capacity), "waitlist_enabled": "y", "mode": activity.mode.value,
            "visibility": activity.visibility.value}
    data.update(changes)
    return data


def test_organiser_makes_a_weekly_series_from_the_page(client, login, weekly_class, organiser):
    login(organiser)
    page = client.get(f"/manage/activities/{weekly_class.id}/series")
    assert page.status_code == 200 and 'name="pattern"' in page.get_data(as_text=True)
    start = utc_to_local(weekly_class.starts_at)
    response = client.post(f"/manage/activities/{weekly_class.id}/series", data={
        "pattern": "weekly", "first_day": start.strftime("%Y-%m-%d"), "weekday": str(start.weekday()),
        "at": start.strftime("%H:%M"), "count": "8", "whole_series_signup": "y"})
    assert response.status_code == 303
    db.session.expire_all()
    activity = db.session.get(Activity, weekly_class.id)
    assert activity.series_id is not None and len(series.occurrences(activity.series_id)) == 8
    listing = client.get(f"/manage/activities/{weekly_class.id}/series").get_data(as_text=True)
    assert listing.count('href="/manage/activities/') >= 8


def test_series_form_errors_are_shown(client, login, weekly_class, organiser):
    login(organiser)
    response = client.post(f"/manage/activities/{weekly_class.id}/series",
                           data={"pattern": "dates", "dates": "2027-02-30 14:00"})
    assert response.status_code == 422 and "is not a date" in response.get_data(as_text=True)
    assert db.session.get(Activity, weekly_class.id).series_id is None


def test_edit_form_applies_to_every_later_date(client, login, weekly_class, organiser):
    made = series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 3))
    second = series.occurrences(made.id)[1]
    login(organiser)
    page = client.get(f"/manage/activities/{second.id}/edit").get_data(as_text=True)
    assert 'name="series_scope"' in page
    response = client.post(f"/manage/activities/{second.id}/edit",
                           data=_edit_form(second, venue="新教室", series_scope="future"))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert [a.venue for a in series.occurrences(made.id)] == [weekly_class.venue, "新教室", "新教室"]


def test_worker_signs_up_for_the_whole_series_from_the_activity_page(client, login, weekly_class, organiser, make):
    series.create_series(organiser, weekly_class.id, weekly_dates(weekly_class, 3), whole_series_signup=True)
    worker = make.user("学员")
    login(worker)
    page = client.get(f"/activities/{weekly_class.id}").get_data(as_text=True)
    assert "All dates of this series" in page and "Sign up for all 3 open dates" in page
    response = client.post(f"/activities/{weekly_class.id}/series/signup")
    assert response.status_code == 303 and response.headers["Location"].endswith("/me/registrations")
    assert db.session.scalar(select(func.count(Registration.id)).where(Registration.user_id == worker.id)) == 3


def test_series_pages_permissions(client, login, weekly_class, rival, make):
    login(rival)
    assert client.get(f"/manage/activities/{weekly_class.id}/series").status_code == 403
    login(make.user("职工"))
    assert client.get(f"/manage/activities/{weekly_class.id}/series").status_code == 403
    response = client.post(f"/activities/{weekly_class.id}/series/signup")  # not a series: back to the page
    assert response.status_code == 303


def test_every_date_of_a_published_lottery_series_commits_its_own_seed(make, organiser):
    """The draw anyone can check: each date shows its seed's hash from publication, not just the first."""
    from unionevents.activities.models import SignupMode

    lottery = make.activity("体检抽签", capacity=2, mode=SignupMode.LOTTERY, starts_in=timedelta(days=3),
                            signup_opens_at=now() - timedelta(days=30))
    assert lottery.status == ActivityStatus.PUBLISHED and lottery.lottery_seed_hash
    made = series.create_series(organiser, lottery.id, weekly_dates(lottery, 3), whole_series_signup=False)
    dates = series.occurrences(made.id)
    assert len(dates) == 3
    hashes = [date.lottery_seed_hash for date in dates]
    assert all(hashes) and len(set(hashes)) == 3
