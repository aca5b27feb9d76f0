"""Sign-ups by outcome and check-ins reach the Prometheus counters (core/metrics.py)."""
from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from unionevents.registrations import services
from unionevents.registrations.services import ActivityFull

from tests.factories import check_in_at_the_door


def signups(outcome: str) -> float:
    return REGISTRY.get_sample_value("unionevents_signups_total", {"outcome": outcome}) or 0.0


def checkins(recorded="online", override="false") -> float:
    return REGISTRY.get_sample_value("unionevents_checkins_total",
                                     {"recorded": recorded, "override": override}) or 0.0


def test_signups_are_counted_by_outcome(make, workers):
    activity = make.activity(capacity=1, waitlist_enabled=False)
    first, second = workers(2)
    before = {o: signups(o) for o in ("confirmed", "activity_full", "already_registered")}
    services.register(first, activity.id)
    with pytest.raises(ActivityFull):
        services.register(second, activity.id)
    with pytest.raises(services.AlreadyRegistered):
        services.register(first, activity.id)
    assert signups("confirmed") - before["confirmed"] == 1
    assert signups("activity_full") - before["activity_full"] == 1
    assert signups("already_registered") - before["already_registered"] == 1


def test_a_check_in_is_counted_once(make, workers):
    activity = make.activity()
    (worker,) = workers(1)
    registration = services.register(worker, activity.id)
    before = checkins()
    check_in_at_the_door(registration.id, None)
    check_in_at_the_door(registration.id, None)  # the same ticket again: no second check-in
    assert checkins() - before == 1
