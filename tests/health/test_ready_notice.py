"""An attendee is told by SMS when their assessment is ready, with no health data in the text."""
from __future__ import annotations

from sqlalchemy import select

from unionevents.core.outbox import OutboxMessage
from unionevents.extensions import db
from unionevents.health import services

from .conftest import GOOD


def _ready(user_id):
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.user_id == user_id, OutboxMessage.kind == "health.ready")))


def test_the_attendee_is_told_once_and_the_text_holds_no_health_data(medic, attendee):
    assessment = services.record_assessment(medic, attendee.id, GOOD)
    [notice] = _ready(attendee.user_id)
    assert notice.activity_id == attendee.activity_id and "/me/health" in notice.body
    assert len(notice.body) <= 70
    for value in GOOD.values():
        if isinstance(value, str) and value:
            assert value not in notice.body
    for word in ("血压", "颈椎", "128", "82", "72"):
        assert word not in notice.body
    services.record_assessment(medic, attendee.id, {**GOOD, "systolic": "130"},
                               expected_version=assessment.version)
    assert len(_ready(attendee.user_id)) == 1  # an edit does not tell them again
