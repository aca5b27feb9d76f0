"""Organisers see what was sent about their activity (masked) and send a failed message again; admins
see the outbox's backlog and failures.  The services tag each message with its activity."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from unionevents.accounts.models import Role
from unionevents.activities.services import cancel_activity
from unionevents.core.audit import AuditLog
from unionevents.core.db import write_transaction
from unionevents.core.outbox import OutboxMessage, OutboxState as S, PermanentDeliveryError, Priority
from unionevents.core.outbox_delivery import deliver_due
from unionevents.extensions import db
from unionevents.registrations.services import register, send_notice

from tests.registrations.organiser_fixtures import (  # noqa: F401 - fixtures
    act_as, organiser, other_organiser, tree)

pytestmark = pytest.mark.usefixtures("english")


class Refuse:
    """A relay refusing one number for good, taking the rest."""

    def __init__(self, number):
        self.number = number

    def send(self, message, recipient):
        if recipient == self.number:
            raise PermanentDeliveryError("relay refused: HTTP 400")


def _messages(**where):
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)))


def test_the_services_tag_messages_with_their_activity(make, organiser, tree):
    activity = make.activity(capacity=5)
    rider = make.user("骑手", mobile="13911112222")
    register(rider, activity.id)
    send_notice(activity.id, organiser, subject="集合", body="明天九点集合")
    cancel_activity(organiser, activity.id, reason="场地维修")
    kinds = [(m.kind, m.activity_id, m.priority) for m in _messages(user_id=rider.id)]
    assert kinds == [("registration.confirmed", activity.id, Priority.NOTICE),
                     ("activity.notice", activity.id, Priority.BULK),  # the organiser's message to many
                     ("activity_cancelled", activity.id, Priority.NOTICE)]


def test_organiser_sees_what_was_sent_to_whom_and_sends_a_dead_one_again(make, organiser, act_as, tree):
    activity = make.activity(capacity=5)
    good, refused = make.user("王骑手", mobile="13911112222"), make.user("李快递", mobile="13933334444")
    register(good, activity.id)
    register(refused, activity.id)
    deliver_due(sender=Refuse("13933334444"))
    client = act_as(organiser)
    page = client.get(f"/manage/activities/{activity.id}/messages").get_data(as_text=True)
    assert "139****2222" in page and "139****4444" in page
    assert "13911112222" not in page and "13933334444" not in page
    assert "Not delivered" in page and "relay refused: HTTP 400" in page and "Sent" in page
    assert page.count("Send again") == 1
    dead = _messages(user_id=refused.id)[0]
    response = client.post(f"/manage/activities/{activity.id}/messages/{dead.id}/retry")
    assert response.status_code == 302
    assert (_messages(user_id=refused.id)[0].state, _messages(user_id=refused.id)[0].attempts) == (S.QUEUED, 0)
    assert "The message will be sent again." in client.get(response.location).get_data(as_text=True)
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "outbox.retry")).one()
    assert (audit.actor_id, audit.object_id, audit.data) == (organiser.id, dead.id, {"activity_id": activity.id})
    only_dead = client.get(f"/manage/activities/{activity.id}/messages?state=dead").get_data(as_text=True)
    assert "139****2222" not in only_dead and "No messages yet." in only_dead


def test_retry_refuses_a_sent_message_another_activitys_and_another_organiser(
        make, organiser, other_organiser, act_as, tree):
    activity, other = make.activity(capacity=5), make.activity("另一个活动", capacity=5)
    rider = make.user("骑手", mobile="13911112222")
    register(rider, activity.id)
    register(rider, other.id)
    deliver_due(sender=Refuse("nobody"))
    sent, elsewhere = _messages(activity_id=activity.id)[0], _messages(activity_id=other.id)[0]
    with write_transaction():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == elsewhere.id).values(state=S.DEAD))
    client = act_as(organiser)
    response = client.post(f"/manage/activities/{activity.id}/messages/{sent.id}/retry", follow_redirects=True)
    assert "Only a message that failed can be sent again." in response.get_data(as_text=True)
    assert client.post(f"/manage/activities/{activity.id}/messages/{elsewhere.id}/retry").status_code == 404
    assert client.post(f"/manage/activities/{activity.id}/messages/99999999999/retry").status_code == 404
    outsider = act_as(other_organiser)
    assert outsider.get(f"/manage/activities/{other.id}/messages").status_code == 403
    assert outsider.post(f"/manage/activities/{other.id}/messages/{elsewhere.id}/retry").status_code == 403
    assert _messages(activity_id=other.id)[0].state is S.DEAD
    worker = act_as(make.user("职工"))
    assert worker.get(f"/manage/activities/{activity.id}/messages").status_code == 403


def test_admin_sees_backlog_and_failures_without_personal_data(make, act_as, tree):
    admin = make.user("管理员", role=Role.ADMIN, scope="北京市总工会")
    activity = make.activity(capacity=5)
    for mobile in ("13911112222", "13933334444", "13955556666"):
        register(make.user("职工", mobile=mobile), activity.id)
    deliver_due(limit=2, sender=Refuse("13933334444"))
    page = act_as(admin).get("/admin/outbox").get_data(as_text=True)
    assert "relay refused: HTTP 400" in page
    assert "3333" not in page and "职工" not in page
    for label, count in (("Waiting to be sent", 1), ("Not delivered", 1), ("Sent", 1)):
        assert label in page
    assert act_as(make.user("职工2")).get("/admin/outbox").status_code == 403


@pytest.mark.parametrize("path", ["/manage/activities/{id}/messages?page=99999999999999",
                                  "/manage/activities/{id}/messages?state=bogus&page=-3"])
def test_bad_query_arguments_are_ignored(make, organiser, act_as, path):
    activity = make.activity()
    assert act_as(organiser).get(path.format(id=activity.id)).status_code == 200
