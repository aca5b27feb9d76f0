"""Retention (PIPL Art. 19): every retention rule has a job, and `flask privacy purge-all` runs them all."""
from __future__ import annotations

from unionevents.config import Config
from unionevents.core.retention import JOBS
from unionevents.extensions import db


def retention_settings() -> set[str]:
    """The retention rules: every ``*_RETENTION_DAYS`` setting (a new one needs a job, or this fails)."""
    return {name for name in dir(Config) if name.endswith("_RETENTION_DAYS")}


def test_every_retention_rule_has_a_job_in_purge_all(app):
    assert retention_settings() >= {"OUTBOX_RETENTION_DAYS", "HEALTH_RETENTION_DAYS"}
    covered = {job.setting for job in JOBS.values()}
    assert retention_settings() - covered == set(), "a retention setting no job of `purge-all` applies"
    assert covered - retention_settings() == set(), "a job whose retention setting does not exist"


def test_every_job_names_real_tables_holding_personal_data(app):
    """Each job deletes from tables of the schema; together they cover every table whose rows a
    retention rule limits (health assessments and their revisions, sent notifications)."""
    tables = db.metadata.tables
    for job in JOBS.values():
        assert job.tables and set(job.tables) <= set(tables), job.name
    purged = {table for job in JOBS.values() for table in job.tables}
    assert {"health_assessment", "health_assessment_revision", "outbox_message"} <= purged
    # A table that refers to an assessment is purged with it (revisions today; anything added later).
    for name, table in tables.items():
        if any(fk.column.table.name == "health_assessment" for fk in table.foreign_keys):
            assert name in purged, f"{name} refers to health assessments but no retention job deletes it"


def test_purge_all_command_lists_every_job(app):
    result = app.test_cli_runner().invoke(args=["privacy", "purge-all"])
    assert result.exit_code == 0, result.output
    assert sorted(line.split(":")[0] for line in result.output.splitlines()) == sorted(JOBS)



def test_reminders_sent_for_past_starts_are_purged_and_the_rest_kept(app, make, frozen_time):
    """``reminder_sent`` only stops a reminder going out twice for one start: once that start is
    REMINDER_RETENTION_DAYS (30) behind, nothing can be due for it again and its rows go."""
    from datetime import timedelta

    from sqlalchemy import select

    from unionevents.core.audit import AuditLog
    from unionevents.core.retention import run_all
    from unionevents.core.timeutil import now
    from unionevents.notifications.models import ReminderSent
    from unionevents.registrations.services import register

    assert app.config["REMINDER_RETENTION_DAYS"] == 30
    assert JOBS["reminders"].tables == ("reminder_sent",)
    at = now()
    activity = make.activity(capacity=5)
    registrations = [register(make.user(f"骑手{i}"), activity.id) for i in range(3)]
    starts = {registrations[0].id: at - timedelta(days=31),   # long over: purged
              registrations[1].id: at - timedelta(days=29),   # within the period: kept
              registrations[2].id: at + timedelta(days=1)}    # still to come: kept
    db.session.add_all([ReminderSent(registration_id=rid, hours=h, starts_at=start, sent_at=start - timedelta(hours=h))
                        for rid, start in starts.items() for h in (24, 2)])
    db.session.commit()
    frozen_time(at)
    assert run_all()["reminders"] == 2
    kept = sorted(db.session.scalars(select(ReminderSent.registration_id).distinct()))
    assert kept == sorted([registrations[1].id, registrations[2].id])
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "retention.purge")).all()
    assert {"job": "reminders", "deleted": 2} in [row.data for row in audit]
