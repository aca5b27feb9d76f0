"""Health assessments: recorded only for checked-in attendees with consent, read only by the worker
and that activity's medical staff, every read and write audited, purged after the retention period."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind
from unionevents.core.audit import AuditLog
from unionevents.core.errors import NotFound, ValidationFailed
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.health import services
from unionevents.health.models import HealthAssessment, HealthAssessmentRevision
from unionevents.registrations import services as engine
from unionevents.registrations.models import Registration

from .conftest import GOOD
from tests.factories import check_in_at_the_door


def audit(action, outcome=None):
    stmt = select(AuditLog).where(AuditLog.action == action)
    if outcome:
        stmt = stmt.where(AuditLog.outcome == outcome)
    return list(db.session.scalars(stmt.order_by(AuditLog.id)))


def assessment_count():
    return db.session.scalar(select(func.count(HealthAssessment.id)))


class TestRecording:
    def test_medical_staff_record_a_checked_in_attendee(self, medic, attendee):
        assessment = services.record_assessment(medic, attendee.id, GOOD)
        assert assessment.version == 1 and assessment.activity_id == attendee.activity_id
        assert assessment.user_id == attendee.user_id and assessment.recorded_by_id == medic.id
        assert assessment.height_mm == 1725 and assessment.weight_hg == 684
        assert str(assessment.bmi) == "23.0"
        assert [r.version for r in assessment.revisions] == [1]

    def test_not_checked_in_is_refused(self, medic, signed_up, health):
        booked = signed_up(health, check_in=False)
        with pytest.raises(services.NotCheckedIn):
            services.record_assessment(medic, booked.id, GOOD)
        assert assessment_count() == 0

    def test_without_health_consent_is_refused(self, medic, attendee):
        db.session.get(Registration, attendee.id).health_consent_at = None
        db.session.commit()
        with pytest.raises(services.NoHealthConsent):
            services.record_assessment(medic, attendee.id, GOOD)
        assert assessment_count() == 0

    def test_only_health_services_have_assessments(self, make, organiser):
        course = make.activity("花卉养护课", kind=ActivityKind.CLASS_)
        nurse = make.user("王护士", role=Role.MEDICAL, activity=course)
        worker = make.user("学员")
        registration = check_in_at_the_door(engine.register(worker, course.id).id, organiser)
        with pytest.raises(services.NotHealthService):
            services.record_assessment(nurse, registration.id, GOOD)

    def test_bad_values_are_refused_per_field(self, medic, attendee):
        with pytest.raises(ValidationFailed) as error:
            services.record_assessment(medic, attendee.id, {**GOOD, "systolic": "300", "weight_kg": "abc"})
        assert set(error.value.errors) == {"systolic", "weight_kg"}
        assert assessment_count() == 0

    def test_an_edit_keeps_who_and_when_but_no_values(self, medic, make, health, attendee, frozen_time):
        first = services.record_assessment(medic, attendee.id, GOOD)
        colleague = make.user("赵医生", role=Role.MEDICAL, activity=health)
        frozen_time(now() + timedelta(minutes=5))
        edited = services.record_assessment(colleague, attendee.id, {**GOOD, "systolic": "135",
                                                                      "follow_up": False}, expected_version=1)
        assert edited.id == first.id and edited.version == 2 and edited.systolic == 135
        assert edited.updated_by_id == colleague.id and edited.recorded_by_id == medic.id
        revisions = db.session.scalars(select(HealthAssessmentRevision).order_by(
            HealthAssessmentRevision.version)).all()
        assert [(r.version, r.changed_by_id) for r in revisions] == [(1, medic.id), (2, colleague.id)]
        assert revisions[1].fields == ["systolic", "follow_up"]
        assert "135" not in json.dumps(revisions[1].fields)

    def test_saving_unchanged_values_adds_no_revision(self, medic, attendee):
        services.record_assessment(medic, attendee.id, GOOD)
        again = services.record_assessment(medic, attendee.id, GOOD, expected_version=1)
        assert again.version == 1 and len(again.revisions) == 1

    def test_a_stale_form_does_not_overwrite_a_colleagues_edit(self, medic, attendee):
        services.record_assessment(medic, attendee.id, GOOD)
        services.record_assessment(medic, attendee.id, {**GOOD, "heart_rate": "80"}, expected_version=1)
        with pytest.raises(services.StaleAssessment):
            services.record_assessment(medic, attendee.id, {**GOOD, "heart_rate": "90"}, expected_version=1)
        assert db.session.scalar(select(HealthAssessment.heart_rate)) == 80


# --------------------------------------------------------------------------- who may read

READERS = ["self", "other_worker", "medic", "other_medic", "organiser", "officer", "admin"]
ALLOWED = {"self", "medic"}


@pytest.fixture
def people(make, medic, other_medic, organiser, officer, admin):
    return {"other_worker": make.user("路人"), "medic": medic, "other_medic": other_medic,
            "organiser": organiser, "officer": officer, "admin": admin}


def _read(who, person, assessment, registration):
    """Every way a person could ask for the record: as its worker and as medical staff."""
    outcomes = []
    try:
        services.get_own_assessment(person, assessment.id)
        outcomes.append(True)
    except NotFound:
        outcomes.append(False)
    try:
        services.registration_for_assessment(person, registration.activity_id, registration.id)
        outcomes.append(True)
    except NotFound:
        outcomes.append(False)
    return outcomes


@pytest.mark.parametrize("who", READERS)
def test_access_matrix(who, people, medic, attendee):
    assessment = services.record_assessment(medic, attendee.id, GOOD)
    person = attendee.user if who == "self" else people[who]
    own_path, medical_path = _read(who, person, assessment, attendee)
    assert own_path is (who == "self")
    assert medical_path is (who == "medic")
    mine = services.my_assessments(person)
    assert [a.id for a in mine] == ([assessment.id] if who == "self" else [])
    if who not in ALLOWED:
        denied = audit("health.read", "denied")
        assert len(denied) == 2 and {d.actor_id for d in denied} == {person.id}


@pytest.mark.parametrize("who", ["other_medic", "organiser", "officer", "admin"])
def test_only_the_activitys_medical_staff_write_and_list(who, people, attendee):
    with pytest.raises(NotFound):
        services.record_assessment(people[who], attendee.id, GOOD)
    with pytest.raises(NotFound):
        services.checked_in_attendees(people[who], attendee.activity_id)
    assert assessment_count() == 0
    assert len(audit("health.write", "denied")) == 1 and len(audit("health.list", "denied")) == 1


def test_medical_staff_cannot_reach_another_activitys_attendee_through_their_own(
        medic, other_medic, other_health, signed_up):
    elsewhere = signed_up(other_health, "外单位骑手")
    with pytest.raises(NotFound):
        services.registration_for_assessment(medic, medic.grants[0].activity_id, elsewhere.id)
    with pytest.raises(NotFound):
        services.record_assessment(medic, elsewhere.id, GOOD)


# --------------------------------------------------------------------------- audit

def test_every_read_and_write_is_audited_with_ids_only(medic, attendee):
    assessment = services.record_assessment(medic, attendee.id, GOOD)
    services.record_assessment(medic, attendee.id, {**GOOD, "heart_rate": "75"}, expected_version=1)
    services.checked_in_attendees(medic, attendee.activity_id)
    services.registration_for_assessment(medic, attendee.activity_id, attendee.id)
    services.my_assessments(attendee.user)
    services.get_own_assessment(attendee.user, assessment.id)
    writes, reads, lists = audit("health.write"), audit("health.read"), audit("health.list")
    assert [w.actor_id for w in writes] == [medic.id, medic.id]
    assert [(r.actor_id, r.object_id) for r in reads] == [(medic.id, assessment.id),
                                                          (attendee.user_id, assessment.id),
                                                          (attendee.user_id, assessment.id)]
    assert len(lists) == 1 and lists[0].object_type == "activity"
    dumped = json.dumps([row.data for row in writes + reads + lists], ensure_ascii=False)
    for canary in ("128", "82", "172", "68.4", "久坐", "拉伸", attendee.user.name, attendee.user.mobile):
        assert canary not in dumped


# --------------------------------------------------------------------------- attendee list

def test_attendee_list_shows_checked_in_people_with_search(medic, health, signed_up, attendee):
    signed_up(health, "陈快递", "13900001111")
    signed_up(health, "未到场", check_in=False)
    rows = services.checked_in_attendees(medic, health.id)
    assert sorted(r.name for r in rows) == ["王骑手", "陈快递"]
    assert all("****" in r.masked_mobile for r in rows)
    assert [r.name for r in services.checked_in_attendees(medic, health.id, "陈")] == ["陈快递"]
    assert [r.name for r in services.checked_in_attendees(medic, health.id, "5678")] == ["王骑手"]
    assert services.checked_in_attendees(medic, health.id, "nobody") == []
    services.record_assessment(medic, attendee.id, GOOD)
    marked = {r.name: r.assessment_id for r in services.checked_in_attendees(medic, health.id)}
    assert marked["王骑手"] is not None and marked["陈快递"] is None


# --------------------------------------------------------------------------- reports and retention

def test_counts_for_reports(medic, health, other_health, signed_up, attendee):
    services.record_assessment(medic, attendee.id, GOOD)
    services.record_assessment(medic, signed_up(health, "陈快递").id, {"advice": "多喝水"})
    assert services.counts_for_activities([health.id, other_health.id, 99999]) == {
        health.id: {"assessed": 2, "follow_up": 1}, other_health.id: {"assessed": 0, "follow_up": 0},
        99999: {"assessed": 0, "follow_up": 0}}
    assert services.counts_for_activities([]) == {}


def test_purge_deletes_what_is_past_retention(app, medic, health, signed_up, attendee, frozen_time):
    second = signed_up(health, "陈快递")
    start = now()
    frozen_time(start)
    old_id = services.record_assessment(medic, attendee.id, GOOD).id
    services.record_assessment(medic, attendee.id, {**GOOD, "heart_rate": "70"}, expected_version=1)
    frozen_time(start + timedelta(days=200))
    recent_id = services.record_assessment(medic, second.id, GOOD).id
    frozen_time(start + timedelta(days=365))
    assert services.purge_expired() == 0  # exactly a year old: kept
    frozen_time(start + timedelta(days=365, seconds=1))
    assert services.purge_expired() == 1
    assert db.session.scalars(select(HealthAssessment.id)).all() == [recent_id]
    assert db.session.scalar(select(func.count(HealthAssessmentRevision.id))
                             .where(HealthAssessmentRevision.assessment_id == old_id)) == 0
    purges = audit("health.purge")
    assert [p.data["deleted"] for p in purges] == [0, 1]
    app.config["HEALTH_RETENTION_DAYS"] = 100
    try:
        assert services.purge_expired() == 1
    finally:
        app.config["HEALTH_RETENTION_DAYS"] = 365
    with pytest.raises(ValidationFailed):
        services.purge_expired(0)


def test_cli_purge(app, medic, attendee, frozen_time):
    start = now()
    frozen_time(start)
    services.record_assessment(medic, attendee.id, GOOD)
    frozen_time(start + timedelta(days=400))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["health", "purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 1" in result.output
    assert assessment_count() == 0
    result = runner.invoke(args=["health", "purge", "--days", "0"])
    assert result.exit_code != 0


def test_purge_all_runs_the_health_purge(app, medic, attendee, frozen_time):
    """docs/deploy.md's daily timer runs `flask privacy purge-all`: it must reach health assessments."""
    start = now()
    frozen_time(start)
    services.record_assessment(medic, attendee.id, GOOD)
    frozen_time(start + timedelta(days=364))
    result = app.test_cli_runner().invoke(args=["privacy", "purge-all"])
    assert result.exit_code == 0, result.output
    assert "health: deleted 0" in result.output and assessment_count() == 1
    frozen_time(start + timedelta(days=366))
    result = app.test_cli_runner().invoke(args=["privacy", "purge-all"])
    assert "health: deleted 1" in result.output and assessment_count() == 0
    assert db.session.scalar(select(func.count(HealthAssessmentRevision.id))) == 0
    assert [row.data for row in audit("retention.purge") if row.data.get("job") == "health"] == [
        {"job": "health", "deleted": 0}, {"job": "health", "deleted": 1}]
