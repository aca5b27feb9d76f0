"""Cancelling a whole series: every date not yet begun, in one action, each through the activity
cancellation (registrations cancelled by the engine, holders told), audited; a confirmation page first."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from unionevents.activities import series_rules
from unionevents.activities.models import Activity, ActivityStatus
from unionevents.activities.services import series
from unionevents.core.audit import AuditLog
from unionevents.core.db import write_transaction
from unionevents.core.errors import Conflict, NotAllowed
from unionevents.core.outbox import OutboxMessage
from unionevents.core.timeutil import now, utc_to_local
from unionevents.extensions import db
from unionevents.registrations import services as registrations
from unionevents.registrations.models import Registration, RegistrationState as S
from unionevents.reports import services as report_services

from .conftest import organiser, rival, tree  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def weekly(make, organiser):
    first = make.activity("花卉养护课", capacity=5, starts_in=timedelta(days=3),
                          signup_opens_at=now() - timedelta(days=30))
    start = utc_to_local(first.starts_at)
    made = series.create_series(organiser, first.id, series_rules.weekly(start.date(), start.weekday(),
                                                                         start.time(), 4))
    return series.occurrences(made.id)


def _state(activity_id):
    return db.session.get(Activity, activity_id, populate_existing=True).status


def test_cancel_series_cancels_every_future_date_and_tells_each_holder(weekly, organiser, make):
    worker = make.user("学员")
    for item in weekly:
        registrations.register(worker, item.id)
    other = make.user("学员二")
    registrations.register(other, weekly[2].id)
    past = weekly[0]
    with write_transaction():  # the first date has been held already
        past.starts_at, past.ends_at = now() - timedelta(hours=3), now() - timedelta(hours=1)
        report_services.sync_activity(past)

    result = series.cancel_series(organiser, weekly[1].id, "场地维修")

    assert [a.id for a in result.activities] == [a.id for a in weekly[1:]]
    assert result.registrations == 4
    assert _state(past.id) == ActivityStatus.PUBLISHED
    assert all(_state(a.id) == ActivityStatus.CANCELLED for a in weekly[1:])
    states = dict(db.session.execute(select(Registration.activity_id, Registration.state)
                                     .where(Registration.user_id == worker.id)).all())
    assert states[past.id] == S.CONFIRMED and {states[a.id] for a in weekly[1:]} == {S.CANCELLED}
    assert all(db.session.get(Activity, a.id).taken == 0 for a in weekly[1:])
    messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "activity_cancelled")).all()
    assert len(messages) == 4 and all("场地维修" in m.body for m in messages)
    actions = [row.action for row in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions.count("activity.cancel") == 3 and actions.count("series.cancel") == 1
    assert report_services.check() == []


def test_cancel_series_refusals(weekly, organiser, rival):
    with pytest.raises(NotAllowed):
        series.cancel_series(rival, weekly[0].id, "")
    series.cancel_series(organiser, weekly[0].id, "")
    with pytest.raises(Conflict):
        series.cancel_series(organiser, weekly[0].id, "")
    assert series.future_occurrences(weekly[0].id) == []


def test_confirmation_page_then_cancel(client, login, weekly, organiser):
    login(organiser)
    page = client.get(f"/manage/activities/{weekly[0].id}/series/cancel")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Cancel every later date" in text and text.count('<li class="series-date">') == 4
    # the shared confirm form (activities/manage/_cancel_form.html): reason, and the way back to the series
    assert 'name="reason"' in text and "No, keep them" in text
    assert f'href="/manage/activities/{weekly[0].id}/series"' in text
    assert _state(weekly[0].id) == ActivityStatus.PUBLISHED  # looking changes nothing
    response = client.post(f"/manage/activities/{weekly[0].id}/series/cancel", data={"reason": "暂停"})
    assert response.status_code == 303
    assert all(_state(a.id) == ActivityStatus.CANCELLED for a in weekly)
    listing = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "4 dates were cancelled" in listing


def test_series_cancel_page_is_for_the_organiser(client, login, weekly, rival, make):
    login(rival)
    assert client.get(f"/manage/activities/{weekly[0].id}/series/cancel").status_code == 403
    assert client.post(f"/manage/activities/{weekly[0].id}/series/cancel").status_code == 403
    login(make.user("职工"))
    assert client.get(f"/manage/activities/{weekly[0].id}/series/cancel").status_code == 403
    assert _state(weekly[0].id) == ActivityStatus.PUBLISHED
