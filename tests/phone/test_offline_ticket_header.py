"""Which ticket pages a phone may keep for the venue without signal (static/sw.js reads the header):
a place in an activity not over yet, until its end; nothing else."""
from __future__ import annotations

from datetime import timedelta

from unionevents.registrations import services
from tests.factories import check_in_at_the_door


def test_a_place_is_kept_until_the_activity_ends(make, client, login, frozen_time):
    make.tree()
    rider = make.user("骑手")
    activity = make.activity("花卉养护课", capacity=1)
    mine = services.register(rider, activity.id)
    waiting_rider = make.user("候补骑手")
    waiting = services.register(waiting_rider, activity.id)
    login(rider)
    response = client.get(f"/me/registrations/{mine.id}")
    assert response.headers["X-Ticket-Offline-Until"] == activity.ends_at.isoformat() + "Z"
    assert "js/ticket-offline.js" in response.get_data(as_text=True)
    check_in_at_the_door(mine.id, None)
    frozen_time(activity.ends_at + timedelta(minutes=1))
    over = client.get(f"/me/registrations/{mine.id}")
    assert "X-Ticket-Offline-Until" not in over.headers  # over: the phone drops its copy
    login(waiting_rider)
    frozen_time(activity.starts_at - timedelta(days=1))
    assert "X-Ticket-Offline-Until" not in client.get(f"/me/registrations/{waiting.id}").headers


def test_logged_out_pages_remove_kept_tickets(client):
    body = client.get("/").get_data(as_text=True)
    assert 'data-ticket-offline="forget"' in body and "js/ticket-offline.js" in body
