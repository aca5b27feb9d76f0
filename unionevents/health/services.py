"""Health assessments: the only code that reads or writes them.

Who may read an assessment (PIPL: sensitive personal information, minimum necessary access):

* the worker it is about (``my_assessments``, ``get_own_assessment``);
* the medical staff of that one activity (``Role.MEDICAL`` granted on the activity).

Nobody else — not organisers, officers or admins (``has_role`` never lets an admin stand in for
medical staff).  Reports get counts only (``counts_for_activities``).  Every read and write, and
every refused attempt, leaves an audit row holding ids only (actions ``health.read``,
``health.list``, ``health.write``, ``health.purge``).  A refusal answers "not found", so nobody
learns whether a record exists.

Recording needs: a health-service activity, a checked-in registration (state ``attended``) and
the worker's separate health consent on that registration (taken at sign-up by the engine).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..accounts.models import Role, User
from ..activities.models import Activity, ActivityKind, TimeSlot
from ..core.audit import log_action
from ..core.db import write_transaction
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.masking import mask_mobile
from ..core.permissions import has_role
from ..core.retention import retention_job
from ..core.timeutil import now
from ..extensions import db
from ..notifications.results import notify_assessment_ready
from ..registrations.models import Registration, RegistrationState
from . import rules
from .models import HealthAssessment, HealthAssessmentRevision

READ = "health.read"
LIST = "health.list"
WRITE = "health.write"
PURGE = "health.purge"
DENIED = "denied"

#: Default retention of assessments in days (``HEALTH_RETENTION_DAYS`` overrides it).
DEFAULT_RETENTION_DAYS = 365
#: Longest search text on the attendee list.
SEARCH_MAX = 40

MSG_NOT_FOUND = _l("This health record does not exist.")


class NotCheckedIn(Conflict):
    code = "not_checked_in"
    default_message = _l("Only a checked-in attendee can be assessed. Please check the worker in first.")


class NoHealthConsent(Conflict):
    code = "no_health_consent"
    default_message = _l("This worker has not agreed to the processing of health information, "
                         "so no assessment can be recorded.")


class NotHealthService(Conflict):
    code = "not_health_service"
    default_message = _l("Health assessments are only recorded for health-service activities.")


class StaleAssessment(Conflict):
    code = "stale_assessment"
    default_message = _l("Someone else changed this assessment meanwhile. Please check it and save again.")


_REF_TYPES: dict[str, type] = {}


def _Ref(ident: int | None, table: str = "health_assessment"):  # noqa: N802 - reads like a class
    """An audit object standing for a row we did not (or may not) load: ids only."""
    cls = _REF_TYPES.setdefault(table, type(f"Ref_{table}", (), {"__tablename__": table}))
    obj = cls()
    obj.id = ident
    return obj


def _deny(actor: User | None, action: str, obj_type: str, obj_id: Any, **ids) -> None:
    """Record a refused attempt (committed on its own, so it survives the error) and answer 404."""
    db.session.rollback()
    ident = obj_id if isinstance(obj_id, int) and not isinstance(obj_id, bool) else None
    with write_transaction():
        log_action(getattr(actor, "id", None), action, _Ref(ident, obj_type), outcome=DENIED, **ids)
    raise NotFound(MSG_NOT_FOUND)


def _as_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_medical_for(user: User | None, activity_id: int) -> bool:
    return has_role(user, Role.MEDICAL, activity_id=activity_id)


# --------------------------------------------------------------------------- medical staff

def medical_activities(user: User) -> list[Activity]:
    """Activities ``user`` serves as medical staff, soonest first."""
    ids = [g.activity_id for g in user.grants if g.role == Role.MEDICAL and g.activity_id is not None]
    if not ids:
        return []
    return list(db.session.scalars(select(Activity).where(Activity.id.in_(ids)).order_by(Activity.starts_at)))


@dataclass
class AttendeeRow:
    registration_id: int
    name: str
    masked_mobile: str
    slot_starts_at: datetime | None
    slot_ends_at: datetime | None
    checked_in_at: datetime | None
    has_consent: bool
    assessment_id: int | None
    follow_up: bool


def checked_in_attendees(actor: User, activity_id: int, query: str = "") -> list[AttendeeRow]:
    """The activity's checked-in attendees (name, slot), optionally searched by name or the last
    four digits of the mobile number, with whether each has been assessed."""
    if not is_medical_for(actor, activity_id):
        _deny(actor, LIST, "activity", activity_id)
    query = (query or "").strip()[:SEARCH_MAX]
    where = [Registration.activity_id == activity_id, Registration.state == RegistrationState.ATTENDED]
    if query:
        pattern = f"%{query}%"
        clauses = [User.name.ilike(pattern)]
        if query.isdigit() and len(query) == 4:
            clauses.append(User.mobile.endswith(query))
        where.append(or_(*clauses))
    stmt = (select(Registration.id, User.name, User.mobile, TimeSlot.starts_at, TimeSlot.ends_at,
                   Registration.checked_in_at, Registration.health_consent_at, HealthAssessment.id,
                   HealthAssessment.follow_up)
            .join(User, User.id == Registration.user_id)
            .outerjoin(TimeSlot, TimeSlot.id == Registration.slot_id)
            .outerjoin(HealthAssessment, HealthAssessment.registration_id == Registration.id)
            .where(*where)
            .order_by(TimeSlot.starts_at, User.name, Registration.id))
    rows = [AttendeeRow(reg_id, name, mask_mobile(mobile), start, end, checked, consent is not None,
                        assessment_id, bool(follow_up))
            for reg_id, name, mobile, start, end, checked, consent, assessment_id, follow_up
            in db.session.execute(stmt)]
    actor_id = actor.id
    with write_transaction():
        log_action(actor_id, LIST, _Ref(activity_id, "activity"), shown=len(rows))
    return rows


def registration_for_assessment(actor: User, activity_id: int, registration_id: int
                                ) -> tuple[Registration, HealthAssessment | None]:
    """The attendee and their assessment (if any) for the medical staff of ``activity_id``.

    Reading an existing assessment is audited as ``health.read``.
    """
    registration = db.session.get(Registration, registration_id, options=[
        joinedload(Registration.user), joinedload(Registration.slot)]) if _as_id(registration_id) else None
    if registration is None or registration.activity_id != activity_id \
            or not is_medical_for(actor, registration.activity_id):
        _deny(actor, READ, "registration", registration_id, activity_id=_as_id(activity_id))
    assessment = _assessment_of(registration.id)
    if assessment is not None:
        actor_id, ref = actor.id, _Ref(assessment.id)
        ids = {"registration_id": registration.id, "activity_id": registration.activity_id}
        with write_transaction():
            log_action(actor_id, READ, ref, **ids)
    return registration, assessment


def _assessment_of(registration_id: int, lock: bool = False) -> HealthAssessment | None:
    stmt = select(HealthAssessment).where(HealthAssessment.registration_id == registration_id) \
        .options(joinedload(HealthAssessment.revisions).joinedload(HealthAssessmentRevision.changed_by))
    if lock:
        stmt = stmt.with_for_update(of=HealthAssessment)
    return db.session.execute(stmt).unique().scalar_one_or_none()


def record_assessment(actor: User, registration_id: int, raw: Mapping[str, Any],
                      expected_version: int | None = None) -> HealthAssessment:
    """Create or edit the assessment of one checked-in attendee.

    ``raw`` holds the field values as entered (strings or numbers); ``rules.clean_assessment``
    checks them.  When editing, ``expected_version`` (the version the form showed) guards
    against overwriting a colleague's change.  Raises ValidationFailed (per field), NotFound,
    NotCheckedIn, NoHealthConsent, NotHealthService or StaleAssessment.
    """
    registration = db.session.get(Registration, registration_id) if _as_id(registration_id) else None
    if registration is None or not is_medical_for(actor, registration.activity_id):
        _deny(actor, WRITE, "registration", registration_id)
    values, errors = rules.clean_assessment(raw)
    if errors:
        raise ValidationFailed({name: [str(m) for m in messages] for name, messages in errors.items()})
    actor_id = actor.id
    try:
        with write_transaction():
            registration = db.session.get(Registration, registration_id, populate_existing=True)
            activity = db.session.get(Activity, registration.activity_id)
            if activity.kind != ActivityKind.HEALTH:
                raise NotHealthService()
            if registration.state != RegistrationState.ATTENDED:
                raise NotCheckedIn()
            if registration.health_consent_at is None:
                raise NoHealthConsent()
            assessment = _assessment_of(registration.id, lock=True)
            at = now()
            if assessment is None:
                assessment = HealthAssessment(registration_id=registration.id, activity_id=activity.id,
                                              user_id=registration.user_id, version=1, recorded_at=at,
                                              recorded_by_id=actor_id, updated_at=at, updated_by_id=actor_id)
                assessment.apply(values)
                db.session.add(assessment)
                db.session.flush()
                changed = [name for name in rules.FIELD_NAMES
                           if getattr(values, name) not in (None, "", False)]
                notify_assessment_ready(registration.user_id, activity.id)
            else:
                if expected_version is not None and expected_version != assessment.version:
                    raise StaleAssessment()
                changed = rules.changed_fields(assessment.values(), values)
                if not changed:
                    log_action(actor_id, WRITE, assessment, registration_id=registration.id,
                               activity_id=activity.id, version=assessment.version, unchanged=True)
                    return assessment
                assessment.apply(values)
                assessment.version += 1
                assessment.updated_at, assessment.updated_by_id = at, actor_id
            db.session.add(HealthAssessmentRevision(assessment_id=assessment.id, version=assessment.version,
                                                    changed_at=at, changed_by_id=actor_id, fields=changed))
            log_action(actor_id, WRITE, assessment, registration_id=registration.id, activity_id=activity.id,
                       version=assessment.version)
    except IntegrityError:
        # Two medics saved a first assessment at the same moment: the unique registration wins once.
        raise StaleAssessment() from None
    return assessment


# --------------------------------------------------------------------------- the worker

def my_assessments(user: User) -> list[HealthAssessment]:
    """The worker's own assessments, newest first; each one shown is audited as read."""
    items = list(db.session.scalars(
        select(HealthAssessment).where(HealthAssessment.user_id == user.id)
        .options(joinedload(HealthAssessment.activity), joinedload(HealthAssessment.registration)
                 .joinedload(Registration.slot))
        .order_by(HealthAssessment.recorded_at.desc(), HealthAssessment.id.desc())))
    if items:
        user_id = user.id
        reads = [(_Ref(assessment.id), assessment.activity_id) for assessment in items]
        with write_transaction():
            for ref, activity_id in reads:
                log_action(user_id, READ, ref, activity_id=activity_id, via="mine")
    return items


def get_own_assessment(user: User, assessment_id: int) -> HealthAssessment:
    """One of the worker's own assessments; anyone else's is "not found" (and the attempt audited)."""
    assessment = db.session.get(HealthAssessment, assessment_id) if _as_id(assessment_id) else None
    if assessment is None or user is None or assessment.user_id != getattr(user, "id", None):
        _deny(user, READ, "health_assessment", assessment_id)
    user_id, ref, activity_id = user.id, _Ref(assessment.id), assessment.activity_id
    with write_transaction():
        log_action(user_id, READ, ref, activity_id=activity_id, via="mine")
    return assessment


# --------------------------------------------------------------------------- reports and retention

def counts_for_activities(activity_ids) -> dict[int, dict[str, int]]:
    """Counts only, for officers' reports: ``{activity_id: {"assessed": n, "follow_up": m}}``.

    Every id asked for is in the answer (zeros when nothing was recorded).  No personal data.
    """
    ids = [i for i in dict.fromkeys(activity_ids or []) if _as_id(i) is not None]
    result = {i: {"assessed": 0, "follow_up": 0} for i in ids}
    if not ids:
        return result
    follow = func.sum(case((HealthAssessment.follow_up.is_(True), 1), else_=0))
    stmt = (select(HealthAssessment.activity_id, func.count(HealthAssessment.id), follow)
            .where(HealthAssessment.activity_id.in_(ids)).group_by(HealthAssessment.activity_id))
    for activity_id, assessed, follow_up in db.session.execute(stmt):
        result[activity_id] = {"assessed": int(assessed), "follow_up": int(follow_up or 0)}
    return result


def retention_days() -> int:
    days = current_app.config.get("HEALTH_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    return int(days)


def purge_expired(days: int | None = None, actor: User | None = None) -> int:
    """Delete assessments recorded more than ``days`` (default ``HEALTH_RETENTION_DAYS``) ago.

    Revisions go with them.  One audit row records the cut-off and how many were deleted.
    """
    days = retention_days() if days is None else int(days)
    if days < 1:
        raise ValidationFailed({"days": [str(_l("The retention period must be at least one day."))]})
    cutoff = rules.retention_cutoff(now(), days)
    with write_transaction():
        deleted = _delete_recorded_before(cutoff)
        log_action(getattr(actor, "id", None), PURGE, None, deleted=deleted, retention_days=days,
                   cutoff=cutoff.isoformat(timespec="seconds"))
    return deleted


@retention_job("health", "Delete health assessments older than HEALTH_RETENTION_DAYS (default 365).",
               setting="HEALTH_RETENTION_DAYS", tables=("health_assessment", "health_assessment_revision"))
def _purge_job(at: datetime) -> int:
    """`flask privacy purge-all`'s share (run in its transaction, audited as ``retention.purge``)."""
    return _delete_recorded_before(rules.retention_cutoff(at, retention_days()))


def _delete_recorded_before(cutoff: datetime) -> int:
    """Assessments recorded before ``cutoff`` and their revisions (in the caller's transaction)."""
    expired = select(HealthAssessment.id).where(HealthAssessment.recorded_at < cutoff)
    db.session.execute(delete(HealthAssessmentRevision)
                       .where(HealthAssessmentRevision.assessment_id.in_(expired))
                       .execution_options(synchronize_session=False))
    return db.session.execute(delete(HealthAssessment).where(HealthAssessment.recorded_at < cutoff)
                              .execution_options(synchronize_session=False)).rowcount or 0


# --------------------------------------------------------------------------- erasure

def erase_health_records(user_id: int) -> None:
    """A worker who deletes their account takes their health records with them (PIPL Art. 47)."""
    ids = select(HealthAssessment.id).where(HealthAssessment.user_id == user_id)
    db.session.execute(delete(HealthAssessmentRevision).where(HealthAssessmentRevision.assessment_id.in_(ids)))
    db.session.execute(delete(HealthAssessment).where(HealthAssessment.user_id == user_id))
