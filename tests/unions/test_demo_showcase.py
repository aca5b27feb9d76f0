"""`flask seed-demo` also loads the organiser showcase: a small published contest where not everyone
wins, a verified commit–reveal draw, a weekly series and a seated delegates' meeting."""
from __future__ import annotations

from sqlalchemy import func, select

from unionevents.activities.models import Activity, ActivityStatus
from unionevents.contests.models import Award, Contest, Entry
from unionevents.demo_showcase import CONTEST_TITLE, DRAW_TITLE, SEATED_TITLE, SERIES_TITLE
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState as S
from unionevents.registrations.services import seating, verify_draw


def _activity(title):
    return db.session.scalar(select(Activity).where(Activity.title == title).order_by(Activity.id))


def test_seed_demo_loads_the_showcase(app, client):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "showcase:" in result.output and "verify-draw" in result.output

    contest = db.session.scalar(select(Contest).where(Contest.activity_id == _activity(CONTEST_TITLE).id))
    entries = db.session.scalar(select(func.count(Entry.id)).where(Entry.contest_id == contest.id))
    awards = db.session.scalars(select(Award).where(Award.contest_id == contest.id)).all()
    assert contest.results_published_at is not None
    assert entries == 5 and len(awards) == 3  # tiers are maxima: two entries win nothing
    assert sorted(a.tier.name for a in awards) == sorted(["一等奖", "二等奖", "三等奖"])
    page = client.get(f"/contests/{contest.activity_id}/results").get_data(as_text=True)
    assert "咱们工人有力量" in page and "一等奖" in page

    draw = _activity(DRAW_TITLE)
    check = verify_draw(draw.id)
    assert check.matches and len(check.order) == 6
    states = db.session.scalars(select(Registration.state).where(Registration.activity_id == draw.id)).all()
    assert sorted(s.value for s in states) == ["confirmed"] * 3 + ["waitlisted"] * 3
    verified = app.test_cli_runner().invoke(args=["activities", "verify-draw", str(draw.id)])
    assert verified.exit_code == 0 and "draw verified" in verified.output
    assert check.seed in client.get(f"/activities/{draw.id}").get_data(as_text=True)

    series_dates = db.session.scalars(select(Activity).where(
        Activity.series_id == _activity(SERIES_TITLE).series_id).order_by(Activity.starts_at)).all()
    assert len(series_dates) == 6 and all(a.status == ActivityStatus.PUBLISHED for a in series_dates)
    assert {(b.starts_at - a.starts_at).days for a, b in zip(series_dates, series_dates[1:])} == {7}

    meeting = _activity(SEATED_TITLE)
    chart = seating.seating_chart(meeting.id)
    assert (chart.rows, chart.seats_per_row, chart.without_seat) == (4, 6, 0)
    assert len(seating.seat_labels(meeting.id)) == 4
    assert db.session.scalar(select(func.count(Registration.id)).where(
        Registration.activity_id == meeting.id, Registration.state == S.CONFIRMED)) == 4

    again = app.test_cli_runner().invoke(args=["seed-demo"])
    assert "nothing changed" in again.output
