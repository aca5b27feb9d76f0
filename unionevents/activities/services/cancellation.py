"""Cancelling a whole activity: every live registration is cancelled and each registrant is told."""
from __future__ import annotations

from flask import current_app
from flask_babel import force_locale, format_datetime, gettext
from flask_babel import lazy_gettext as _l

from ...accounts.models import User
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, ValidationFailed
from ...core.outbox import enqueue
from ...core.timeutil import now
from ...core.quoting import quotable
from ...extensions import db
from ...registrations.models import Registration
from ...reports.services import sync_activity
from ..models import Activity, ActivityStatus
from .lifecycle import _lock_activity


CANCEL_REASON_MAX = 200


def cancel_activity(actor: User, activity_id: int, reason: str = "") -> int:
    """Cancel the activity and every live registration; each registrant gets a message.

    Returns how many registrations were cancelled.
    """
    reason = clean_reason(reason)
    with write_transaction():
        cancelled = cancel_locked(actor, _lock_activity(activity_id), reason)
    return cancelled


def clean_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if len(reason) > CANCEL_REASON_MAX:
        raise ValidationFailed({"reason": [str(_l("The reason may have at most %(n)d characters.",
                                                  n=CANCEL_REASON_MAX))]})
    return reason


def cancel_locked(actor: User, activity: Activity, reason: str, **audit) -> int:
    """Inside the caller's write transaction, with ``activity`` locked: cancel it and every live
    registration (through the engine), tell each holder, audit.  The one cancellation both a single
    date and a whole series (``series.cancel_series``) go through."""
    if activity.status == ActivityStatus.CANCELLED:
        raise Conflict(_l("This activity is already cancelled."))
    if activity.ends_at <= now():
        raise Conflict(_l("This activity has already ended, so it cannot be cancelled."))
    cancelled = cancel_live_registrations(actor, activity)
    activity.status = ActivityStatus.CANCELLED
    sync_activity(activity)
    log_action(actor.id, "activity.cancel", activity, registrations=len(cancelled), **audit)
    for registration in cancelled:
        _notify_activity_cancelled(registration, activity, reason)
    return len(cancelled)


def cancel_live_registrations(actor: User, activity: Activity) -> list:
    """Cancel every live registration of ``activity`` through the registration engine, inside the
    caller's transaction: the same audit row, place counters and report counts as any cancellation."""
    from ...registrations.services import cancel_for_activity

    return cancel_for_activity(activity.id, actor.id)


def _notify_activity_cancelled(registration: Registration, activity: Activity, reason: str) -> None:
    user = db.session.get(User, registration.user_id)
    locale = (user.locale if user else None) or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        subject = gettext("Cancelled: %(title)s", title=activity.title)
        body = gettext("The activity “%(title)s” on %(when)s has been cancelled by %(organiser)s. "
                       "Your registration is cancelled; you do not need to do anything.",
                       title=quotable(activity.title), when=format_datetime(activity.starts_at, "short"),
                       organiser=activity.node.name)
        if reason:
            body += " " + gettext("Reason: %(reason)s", reason=reason)
    enqueue(registration.user_id, "activity_cancelled", body, subject=subject, activity_id=activity.id)
