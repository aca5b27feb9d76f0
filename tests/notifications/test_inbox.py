"""我的消息: a worker reads every message sent to them (never anyone else's), newest first, with the
unread count in the header; the API pages them and moves the read mark."""
from __future__ import annotations

import pytest

from unionevents.core.db import write_transaction
from unionevents.core.outbox import Priority, enqueue
from unionevents.notifications import inbox
from unionevents.registrations.services import register

from tests.api_support import bearer
from tests.registrations.organiser_fixtures import act_as, organiser, tree  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("english")


def _send(user, body, subject="Notice", **kw):
    with write_transaction():
        return enqueue(user.id, "test.notice", body, subject=subject, **kw)


def test_the_inbox_lists_my_messages_newest_first_and_marks_them_read(make, act_as, tree):
    rider, other = make.user("王骑手"), make.user("李快递")
    activity = make.activity("花卉养护课", capacity=5)
    register(rider, activity.id)  # a confirmation through the real engine
    _send(rider, "second message body")
    _send(other, "not for the rider")
    _send(rider, "your code is 123456", priority=Priority.CODE)  # codes stay out of the inbox
    client = act_as(rider)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/me/messages"' in home and "My messages" in home and "2<span" in home  # 2 unread
    page = client.get("/me/messages").get_data(as_text=True)
    assert page.index("second message body") < page.index("花卉养护课")
    assert "not for the rider" not in page and "123456" not in page
    assert "2 unread messages" in page and page.count("unread-tag") == 2
    again = client.get("/me/messages").get_data(as_text=True)
    assert "unread-tag" not in again and "unread messages" not in again
    assert 'class="nav-count"' not in again
    assert inbox.unread_count(rider.id) == 0 and inbox.unread_count(other.id) == 1


def test_an_empty_inbox_and_anonymous_visitors(make, act_as, tree):
    client = act_as(make.user("新人"))
    assert "No messages yet." in client.get("/me/messages").get_data(as_text=True)
    anonymous = act_as(None)
    response = anonymous.get("/me/messages")
    assert response.status_code == 302 and "/login" in response.location


def test_the_inbox_pages_and_a_page_past_the_end_is_the_last(make, act_as, tree):
    rider = make.user("王骑手")
    for i in range(inbox.PER_PAGE + 3):
        _send(rider, f"message number {i:02d}")
    client = act_as(rider)
    first = client.get("/me/messages").get_data(as_text=True)
    assert "message number 22" in first and "message number 02" not in first and 'rel="next"' in first
    last = client.get("/me/messages?page=99").get_data(as_text=True)
    assert "message number 02" in last and "message number 03" not in last and "Page 2 of 2" in last
    assert client.get("/me/messages?page=-1").status_code == 200


def test_api_lists_only_the_token_owners_messages_and_marks_them_read(make, client, tree):
    rider, other = make.user("王骑手"), make.user("李快递")
    ids = [_send(rider, f"body {i}") for i in range(3)]
    _send(other, "someone else's")
    response = client.get("/api/v1/me/messages?per_page=2", headers=bearer(rider))
    assert response.status_code == 200
    data = response.get_json()
    assert [m["body"] for m in data["items"]] == ["body 2", "body 1"]
    assert data["unread"] == 3 and data["pagination"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    assert data["items"][0]["unread"] is True and data["items"][0]["delivery"] == "queued"
    others = client.get("/api/v1/me/messages", headers=bearer(other)).get_json()
    assert [m["body"] for m in others["items"]] == ["someone else's"]
    marked = client.post("/api/v1/me/messages/read", json={"up_to": ids[1]}, headers=bearer(rider))
    assert marked.get_json() == {"read_up_to": ids[1], "unread": 1}
    # The mark never moves back, and cannot be set past the owner's newest message.
    client.post("/api/v1/me/messages/read", json={"up_to": 0}, headers=bearer(rider))
    assert client.post("/api/v1/me/messages/read", json={}, headers=bearer(rider)).get_json() == {
        "read_up_to": ids[2], "unread": 0}
    assert inbox.unread_count(other.id) == 1


def test_api_refuses_without_a_token_and_bad_paging(make, client, tree):
    rider = make.user("王骑手")
    assert client.get("/api/v1/me/messages").status_code == 401
    assert client.post("/api/v1/me/messages/read", json={}).status_code == 401
    assert client.get("/api/v1/me/messages?per_page=1000", headers=bearer(rider)).status_code == 422
    assert client.post("/api/v1/me/messages/read", json={"up_to": "x"}, headers=bearer(rider)).status_code == 422
