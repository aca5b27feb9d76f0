"""The organiser's roster: bulk actions, marking no-shows after the start, messages to registrants,
and the audit of full-mobile exports.  Every change calls the engine's state changers; none has rules
of its own about which transitions are allowed."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...accounts.models import User
from ...activities.models import Activity
from ...core.audit import AuditLog, Ref, log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, DomainError, NotFound, ValidationFailed
from ...core.outbox import Priority, enqueue
from ...core.timeutil import now
from ...extensions import db
from .. import rules
from ..models import Registration, RegistrationState as S
from .checkin import check_in, mark_no_show
from .decisions import approve, reject
from .errors import _StaleState
from .state import _change_state, _lock_activity_row, _reg_rows
from .transactions import _in_write_transaction
from .waitlist import promote

#: Most registrations one bulk action or one message may name.
BULK_LIMIT = 1000
#: Longest notice body (one long SMS) and subject.
NOTICE_BODY_MAX = 500
NOTICE_SUBJECT_MAX = 60
#: States a notice "to everyone" reaches: people still taking part or who took part.
NOTICE_ALL_STATES = (S.PENDING, S.CONFIRMED, S.WAITLISTED, S.ATTENDED, S.NO_SHOW)
#: The window of the per-activity limit on messages to many (``BULK_MESSAGES_PER_ACTIVITY_PER_DAY``).
NOTICE_WINDOW = timedelta(hours=24)


class BulkLimitReached(Conflict):
    """The activity's people have had the day's share of the organisers' messages (a rolling 24 hours)."""
    http_status = 429
    code = "bulk_limit"


class NotStartedYet(Conflict):
    code = "not_started"
    default_message = _l("This can only be done once the activity has started.")


@dataclass
class BulkResult:
    done: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (registration id, name, message)


def _require_started(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id) if isinstance(activity_id, int) else None
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    if now() < activity.starts_at:
        raise NotStartedYet(_l("No-shows can only be marked once the activity has started (%(when)s).",
                               when=rules.local_time(activity.starts_at)))
    return activity


def _no_show_after_start(registration_id: int, actor: User) -> Registration:
    activity_id = db.session.scalar(select(Registration.activity_id).where(Registration.id == registration_id))
    if activity_id is not None:
        _require_started(activity_id)
    return mark_no_show(registration_id, actor)


#: Bulk actions of the roster, each one of the engine's state changers.
BULK_ACTIONS: dict[str, Callable[[int, User], Registration]] = {
    "approve": approve,
    "reject": reject,
    "promote": promote,
    "attended": functools.partial(check_in, after_the_end=True),  # copying the paper sign-in sheet
    "no_show": _no_show_after_start,
}


def bulk_apply(activity_id: int, registration_ids, action: str, actor: User) -> BulkResult:
    """Apply one action to the chosen registrations of ``activity_id``, each on its own, so one that
    cannot change (e.g. already rejected) is reported and the rest go ahead."""
    change = BULK_ACTIONS.get(action)
    if change is None:
        raise ValidationFailed({"action": [str(_l("Please choose an action."))]})
    ids = clean_ids(registration_ids)
    if not ids:
        raise ValidationFailed({"ids": [str(_l("Please tick at least one registration."))]})
    names = dict(db.session.execute(
        select(Registration.id, User.name).join(User, User.id == Registration.user_id)
        .where(Registration.activity_id == activity_id, Registration.id.in_(ids))).all())
    result = BulkResult()
    for reg_id in ids:
        if reg_id not in names:
            result.refused.append((reg_id, "", str(_l("This registration does not exist."))))
            continue
        try:
            change(reg_id, actor)
        except DomainError as error:
            result.refused.append((reg_id, names[reg_id], str(error.message)))
        else:
            result.done += 1
    return result


def clean_ids(values) -> list[int]:
    ids: list[int] = []
    for value in values or ():
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if 0 < number < 2**31 and number not in ids:
            ids.append(number)
    if len(ids) > BULK_LIMIT:
        raise ValidationFailed({"ids": [str(_l("Please choose at most %(n)d registrations at a time.",
                                               n=BULK_LIMIT))]})
    return ids


def mark_rest_no_show(activity_id: int, actor: User) -> int:
    """After the start: everyone still confirmed (not checked in) becomes a no-show, in one transaction.
    Returns how many were marked."""
    _require_started(activity_id)
    actor_id = actor.id if actor is not None else None

    def tx() -> int:
        _lock_activity_row(activity_id=activity_id)
        rows = _reg_rows(Registration.activity_id == activity_id, Registration.state == S.CONFIRMED, lock=True)
        marked = 0
        for row in rows:
            try:
                _change_state(row, S.NO_SHOW, actor_id=actor_id, action="registration.no_show")
            except _StaleState:
                continue
            marked += 1
        log_action(actor_id, "activity.mark_no_shows", Ref("activity", activity_id), count=marked)
        return marked

    return _in_write_transaction(tx)


def send_notice(activity_id: int, actor: User, *, subject: str, body: str,
                registration_ids=None, state: S | None = None) -> int:
    """Queue a message from the organiser to the chosen registrants through the outbox.

    Recipients: the registrations named in ``registration_ids`` (when given), else everyone in
    ``state``, else everyone still taking part or who took part (``NOTICE_ALL_STATES``).
    One message per person.  Returns how many were queued.

    At most ``BULK_MESSAGES_PER_ACTIVITY_PER_DAY`` sends per activity in any 24 hours (0 = no limit):
    the next is refused with ``BulkLimitReached`` (429), nothing queued, the refusal audited.  A send that
    would reach no one is refused with ``ValidationFailed`` (key ``audience``) and not counted.  The
    outbox also spaces them per person (``OUTBOX_BULK_PER_RECIPIENT_PER_HOUR``).
    """
    subject = (subject or "").strip()
    body = (body or "").strip()
    errors: dict[str, list[str]] = {}
    if not body:
        errors["body"] = [str(_l("Please write the message."))]
    elif len(body) > NOTICE_BODY_MAX:
        errors["body"] = [str(_l("The message may have at most %(n)d characters.", n=NOTICE_BODY_MAX))]
    if len(subject) > NOTICE_SUBJECT_MAX:
        errors["subject"] = [str(_l("The subject may have at most %(n)d characters.", n=NOTICE_SUBJECT_MAX))]
    where = [Registration.activity_id == activity_id]
    if registration_ids is not None:
        ids = clean_ids(registration_ids)
        if not ids:
            errors["ids"] = [str(_l("Please tick at least one registration."))]
        where.append(Registration.id.in_(ids))
    elif state is not None:
        where.append(Registration.state == state)
    else:
        where.append(Registration.state.in_(NOTICE_ALL_STATES))
    if errors:
        raise ValidationFailed(errors)
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    subject = subject or activity.title
    actor_id = actor.id if actor is not None else None

    limit = int(current_app.config.get("BULK_MESSAGES_PER_ACTIVITY_PER_DAY", 3))

    def tx() -> int | datetime:
        _lock_activity_row(activity_id=activity_id)  # two organisers sending at once are counted in turn
        user_ids = db.session.scalars(select(Registration.user_id).where(*where).distinct()).all()
        if not user_ids:  # nothing would go out: explained, and the day's share is not used up
            raise ValidationFailed({"audience": [str(_l(
                "No one is in the group you chose, so nothing was sent and the day's message count is "
                "unchanged. Please choose another group."))]})
        if limit > 0:
            recent = _recent_notices(activity_id, now() - NOTICE_WINDOW)
            if len(recent) >= limit:
                log_action(actor_id, "activity.notice", Ref("activity", activity_id), outcome="refused",
                           limit=limit, state=state.value if state is not None else None,
                           selected=registration_ids is not None)
                return recent[-limit] + NOTICE_WINDOW  # when the oldest counted send leaves the window
        for user_id in user_ids:
            enqueue(user_id, "activity.notice", body, subject=subject, priority=Priority.BULK,
                    activity_id=activity_id)
        log_action(actor_id, "activity.notice", Ref("activity", activity_id), recipients=len(user_ids),
                   state=state.value if state is not None else None,
                   selected=registration_ids is not None)
        return len(user_ids)

    result = _in_write_transaction(tx)
    if isinstance(result, datetime):  # the refusal's audit row is committed; nothing was queued
        raise BulkLimitReached(_l("This activity's people have had %(n)d messages in the last 24 hours, the most "
                                  "allowed. The next one can be sent after %(when)s.",
                                  n=limit, when=rules.local_time(result)))
    return result


def _recent_notices(activity_id: int, since: datetime) -> list[datetime]:
    """When the organisers' messages to the activity's people went out since ``since``, oldest first
    (the audit trail is the record: one ``activity.notice`` row per send)."""
    return list(db.session.scalars(
        select(AuditLog.at).where(AuditLog.action == "activity.notice", AuditLog.object_type == "activity",
                                  AuditLog.object_id == activity_id, AuditLog.outcome == "ok",
                                  AuditLog.at > since)
        .order_by(AuditLog.at)))


def record_full_mobile_export(activity_id: int, actor: User, export_format: str) -> None:
    """Audit an export that shows full mobile numbers (ids only, no personal data)."""
    with write_transaction():
        log_action(actor.id if actor is not None else None, "roster.export_full_mobile",
                   Ref("activity", activity_id), format=export_format)
