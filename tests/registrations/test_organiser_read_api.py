"""Read-only organiser API: a meeting's seating chart, the door dashboard's figures, a series with its
dates.  Same access as the HTML pages (``access.load_activity`` / ``load_visible_activity``)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from unionevents.accounts.services import issue_token
from unionevents.activities import series_rules
from unionevents.activities.models import ActivityKind, SignupMode
from unionevents.activities.services import series, set_unit_quota
from unionevents.core.timeutil import now, utc_to_local
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.services import seating

from .organiser_fixtures import (  # noqa: F401 - fixtures
    COURIERS, MALL, organiser, other_organiser, tree,
)

pytestmark = pytest.mark.usefixtures("english")


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, 'test')}"}


@pytest.fixture
def meeting(make, tree, organiser):
    activity = make.activity("劳模事迹报告会", kind=ActivityKind.MEETING, mode=SignupMode.QUOTA, capacity=8,
                             node="丰台区玉泉营街道总工会")
    set_unit_quota(activity, tree[MALL], 3)
    set_unit_quota(activity, tree[COURIERS], 2)
    db.session.commit()
    people = [make.user(f"商场职工{i}", union=MALL) for i in range(2)] + [make.user("快递员", union=COURIERS)]
    regs = [services.register(p, activity.id) for p in people]
    seating.save_layout(organiser, activity.id, 2, 4)
    seating.assign_seats(organiser, activity.id)
    services.cancel(regs[1].id, organiser)  # a cancelled delegate's seat is free at once
    return activity


def test_seating_chart_as_json(client, meeting, organiser):
    response = client.get(f"/api/v1/activities/{meeting.id}/seating", headers=bearer(organiser))
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["activity_id"], body["rows"], body["seats_per_row"], body["without_seat"]) == (meeting.id, 2, 4, 0)
    assert [(u["name"], u["quota"], u["seated"]) for u in body["units"]][:2] == [(MALL, 3, 1), (COURIERS, 2, 1)]
    assert body["units"][0]["first"] == {"row": 1, "seat": 1} and body["units"][1]["first"] == {"row": 1, "seat": 4}
    taken = {(s["row"], s["seat"]): s["name"] for s in body["seats"] if s["name"]}
    assert taken == {(1, 1): "商场职工0", (1, 4): "快递员"}
    assert len(body["seats"]) == 8 and body["assigned_at"].endswith("+00:00")


def test_seating_chart_access(client, make, meeting, other_organiser, organiser):
    assert client.get(f"/api/v1/activities/{meeting.id}/seating").status_code == 401
    assert client.get(f"/api/v1/activities/{meeting.id}/seating", headers=bearer(other_organiser)).status_code == 403
    worker = make.user("职工", union=MALL)
    assert client.get(f"/api/v1/activities/{meeting.id}/seating", headers=bearer(worker)).status_code == 403
    not_meeting = make.activity("插花课", node="丰台区玉泉营街道总工会")
    assert client.get(f"/api/v1/activities/{not_meeting.id}/seating", headers=bearer(organiser)).status_code == 404
    assert client.get("/api/v1/activities/999999/seating", headers=bearer(organiser)).status_code == 404
    no_plan = make.activity("没排座的会", kind=ActivityKind.MEETING, node="丰台区玉泉营街道总工会")
    body = client.get(f"/api/v1/activities/{no_plan.id}/seating", headers=bearer(organiser)).json
    assert body["rows"] is None and body["seats"] == [] and body["units"] == []


def test_door_dashboard_figures_as_json(client, make, organiser, other_organiser):
    activity = make.activity("送健康", node="丰台区玉泉营街道总工会", capacity=5,
                             starts_in=timedelta(minutes=30), signup_closes_at=now() + timedelta(minutes=20))
    regs = [services.register(make.user(f"职工{i}", union=MALL), activity.id) for i in range(3)]
    services.check_in(regs[0].id, organiser)
    response = client.get(f"/api/v1/activities/{activity.id}/door-dashboard", headers=bearer(organiser))
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["checked_in"], body["expected"], body["percent"], body["recent"]) == (1, 3, 33, 1)
    assert [(d["label"], d["checked_in"]) for d in body["doors"]] == [(organiser.name, 1)]
    assert body["slots"] == [] and body["at"].endswith("+00:00")
    assert client.get(f"/api/v1/activities/{activity.id}/door-dashboard",
                      headers=bearer(other_organiser)).status_code == 403
    assert client.get(f"/api/v1/activities/{activity.id}/door-dashboard").status_code == 401


def test_series_with_its_dates(client, make, organiser):
    first = make.activity("花卉养护课", node="丰台区玉泉营街道总工会", capacity=4, starts_in=timedelta(days=3),
                          signup_opens_at=now() - timedelta(days=30))
    start = utc_to_local(first.starts_at)
    made = series.create_series(organiser, first.id, series_rules.weekly(start.date(), start.weekday(),
                                                                         start.time(), 3), whole_series_signup=True)
    dates = series.occurrences(made.id)
    from unionevents.activities.services import cancel_activity
    cancel_activity(organiser, dates[2].id, "")

    as_organiser = client.get(f"/api/v1/activities/{dates[1].id}/series", headers=bearer(organiser)).json
    assert as_organiser["series"]["id"] == made.id and as_organiser["series"]["whole_series_signup"] is True
    assert [o["id"] for o in as_organiser["occurrences"]] == [a.id for a in dates]
    assert [o["status"] for o in as_organiser["occurrences"]] == ["published", "published", "cancelled"]
    assert as_organiser["occurrences"][0]["capacity"] == 4

    anonymous = client.get(f"/api/v1/activities/{dates[1].id}/series").json  # as on the activity page
    assert [o["id"] for o in anonymous["occurrences"]] == [a.id for a in dates[:2]]

    single = make.activity("单次活动", node="丰台区玉泉营街道总工会")
    alone = client.get(f"/api/v1/activities/{single.id}/series").json
    assert alone == {"activity_id": single.id, "series": None, "occurrences": []}
    draft = make.activity("草稿", node="丰台区玉泉营街道总工会", publish=False)
    assert client.get(f"/api/v1/activities/{draft.id}/series").status_code == 404
