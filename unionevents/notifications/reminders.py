"""Reminders before an activity, and the notice when its time or place changes.

**How reminders go out** (docs/notifications.md, "Reminders"): ``flask notifications remind`` (a
timer every minute, or ``--every 60``) looks at every confirmed place in a published activity that
starts within ``MAX_HOURS``, and queues one reminder for each whose reminder time (24 h and 2 h
before the start by default; the slot's start for slot bookings; per activity the organiser can
change or switch them off) has come and which has not had it **for that start**.  So:

* a sign-up less than 24 h before the start gets its reminder at the next run (at once);
  one less than 2 h before gets a single reminder, not two;
* a cancelled registration or activity holds no confirmed place, so nothing is sent: there is
  nothing to cancel;
* a moved activity has a new start, so its reminders are due again (``ReminderSent.starts_at``),
  and everyone holding a place is told of the change at once (``notify_activity_changed``).

Reading the registrations at send time, rather than queuing future messages at sign-up, keeps
the rush's commit as small as before and a reminder's text always current.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from typing import cast

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.engine import CursorResult

from ..accounts.models import User
from ..activities.models import Activity, ActivityStatus, TimeSlot
from ..core.audit import Ref, log_action
from ..core.db import write_transaction
from ..core.errors import ValidationFailed
from ..core.outbox import Priority, enqueue
from ..core.retention import retention_job
from ..core.timeutil import now
from ..extensions import db
from ..registrations.models import PLACE_STATES, Registration, RegistrationState
from . import texts
from .models import DEFAULT_REMINDER_HOURS, ReminderSent, ReminderSetting

log = logging.getLogger("unionevents.notifications")

#: The longest an organiser may ask for (hours before the start), and how many reminders at most.
MAX_HOURS = 72
MAX_REMINDERS = 3
BATCH = 200

MSG_HOURS = _l("Give whole hours between 1 and %(max)d, separated by commas (at most %(n)d), or leave "
               "it empty for no reminders.")


def ticket_path(registration_id: int) -> str:
    """The ticket's short link (``notifications.short_ticket``)."""
    return f"/t/{registration_id}"


def release_path(registration_id: int) -> str:
    """The "release my place" short link: the worker's cancel page, which asks to confirm."""
    return f"/t/{registration_id}/x"


# --------------------------------------------------------------------------- the organiser's setting

def parse_hours(text: str) -> tuple[int, ...]:
    """"24, 2" → (24, 2) (largest first, no repeats); "" → () (off).  ValidationFailed otherwise."""
    parts = [p.strip() for p in (text or "").replace("，", ",").split(",") if p.strip()]
    try:
        hours = sorted({int(p) for p in parts}, reverse=True)
    except ValueError:
        hours = None
    if hours is None or len(hours) > MAX_REMINDERS or any(not 1 <= h <= MAX_HOURS for h in hours):
        raise ValidationFailed({"hours": [str(MSG_HOURS) % {"max": MAX_HOURS, "n": MAX_REMINDERS}]})
    return tuple(hours)


def reminder_hours(activity_id: int) -> tuple[int, ...]:
    stored = db.session.scalar(select(ReminderSetting.hours).where(ReminderSetting.activity_id == activity_id))
    return DEFAULT_REMINDER_HOURS if stored is None else _stored_hours(stored)


def _stored_hours(stored: str | None) -> tuple[int, ...]:
    if stored is None:
        return DEFAULT_REMINDER_HOURS
    return tuple(int(h) for h in stored.split(",") if h)


def set_reminder_hours(actor: User, activity_id: int, text: str) -> tuple[int, ...]:
    """The organiser (the caller checked they organise the activity) changes or switches off its
    reminders; audited."""
    hours = parse_hours(text)
    with write_transaction():
        setting = db.session.get(ReminderSetting, activity_id)
        if setting is None:
            setting = ReminderSetting(activity_id=activity_id)
            db.session.add(setting)
        setting.hours = ",".join(str(h) for h in hours)
        log_action(actor.id, "activity.reminders", Ref("activity", activity_id), hours=list(hours))
    return hours


# --------------------------------------------------------------------------- the job

@dataclass(frozen=True)
class _Place:
    registration_id: int
    user_id: int
    activity_id: int
    starts_at: datetime
    title: str
    venue: str
    locale: str | None
    hours: tuple[int, ...]


def _due_places(at: datetime) -> list[_Place]:
    start = func.coalesce(TimeSlot.starts_at, Activity.starts_at)
    rows = db.session.execute(
        select(Registration.id, Registration.user_id, Registration.activity_id, start, Activity.title,
               Activity.venue, User.locale, ReminderSetting.hours)
        .join(Activity, Activity.id == Registration.activity_id)
        .join(User, User.id == Registration.user_id)
        .outerjoin(TimeSlot, TimeSlot.id == Registration.slot_id)
        .outerjoin(ReminderSetting, ReminderSetting.activity_id == Activity.id)
        .where(Activity.status == ActivityStatus.PUBLISHED, Activity.ends_at > at,
               Activity.starts_at <= at + timedelta(hours=MAX_HOURS),
               Registration.state == RegistrationState.CONFIRMED,
               Registration.offer_expires_at.is_(None))  # an open offer is its own notice
        .order_by(Registration.id)).all()
    places = []
    for row in rows:
        starts_at = row[3]
        hours = _stored_hours(row.hours)
        if not hours or not at < starts_at or starts_at - timedelta(hours=max(hours)) > at:
            continue
        places.append(_Place(row.id, row.user_id, row.activity_id, starts_at, row.title, row.venue or "",
                             row.locale, hours))
    return places


def send_due_reminders(at: datetime | None = None) -> int:
    """Queue every reminder that is due (see the module's doc); returns how many were queued.

    Each batch is one write transaction that reads what was sent, queues the reminders and records
    them: two runs at once cannot both send one (SQLite takes turns; on PostgreSQL the second's
    insert of the same ``reminder_sent`` key fails and its batch rolls back, to be retried)."""
    at = at or now()
    places = _due_places(at)
    queued = 0
    for first in range(0, len(places), BATCH):
        with write_transaction():
            queued += _remind(places[first:first + BATCH], at)
    return queued


def _remind(places: list[_Place], at: datetime) -> int:
    sent: dict[int, dict[int, datetime]] = {}
    for row in db.session.execute(select(ReminderSent.registration_id, ReminderSent.hours, ReminderSent.starts_at)
                                  .where(ReminderSent.registration_id.in_([p.registration_id for p in places]))):
        sent.setdefault(row.registration_id, {})[row.hours] = row.starts_at
    queued = 0
    for place in places:
        done = sent.get(place.registration_id, {})
        due = [h for h in place.hours if place.starts_at - timedelta(hours=h) <= at]
        if not any(done.get(h) != place.starts_at for h in due):
            continue
        subject, body = texts.compose("reminder", place.locale, title=place.title,
                                      when=texts.when(place.starts_at), venue=place.venue,
                                      ticket=ticket_path(place.registration_id),
                                      release=release_path(place.registration_id))
        enqueue(place.user_id, "reminder", body, subject=subject, priority=Priority.TIMELY,
                activity_id=place.activity_id)
        queued += 1
        for h in due:  # one message covers every reminder already due (a late sign-up gets one)
            if h in done:
                db.session.execute(ReminderSent.__table__.update()
                                   .where(ReminderSent.registration_id == place.registration_id,
                                          ReminderSent.hours == h)
                                   .values(starts_at=place.starts_at, sent_at=at))
            else:
                db.session.add(ReminderSent(registration_id=place.registration_id, hours=h,
                                            starts_at=place.starts_at, sent_at=at))
    return queued


@retention_job("reminders", "Delete the record of reminders sent for starts more than REMINDER_RETENTION_DAYS "
               "(default 30) ago.", setting="REMINDER_RETENTION_DAYS", tables=("reminder_sent",))
def purge_reminders_sent(at: datetime) -> int:
    """A ``reminder_sent`` row only stops a second reminder for the same start; once that start has
    passed nothing can be due for it again (a moved activity has a new start, due afresh), so rows
    whose start is the retention period behind go.  `flask privacy purge-all`'s share."""
    days = int(current_app.config.get("REMINDER_RETENTION_DAYS", 30))
    result = db.session.execute(delete(ReminderSent).where(ReminderSent.starts_at < at - timedelta(days=days)))
    return cast(CursorResult, result).rowcount or 0


# --------------------------------------------------------------------------- a moved activity

def notify_activity_changed(activity_id: int, old_starts_at: datetime, old_venue: str) -> int:
    """Tell everyone holding a place in the activity that its time or place changed (call inside the
    change's write transaction, after the change; nothing is sent when neither changed).  A slot
    booking keeps its slot's time, so its holders are told only of a new place.  Returns the count."""
    activity = db.session.get(Activity, activity_id)
    moved = activity.starts_at != old_starts_at
    if not moved and (activity.venue or "") == (old_venue or ""):
        return 0
    start = func.coalesce(TimeSlot.starts_at, Activity.starts_at)
    rows = db.session.execute(
        select(Registration.id, Registration.user_id, Registration.slot_id, start, User.locale)
        .join(Activity, Activity.id == Registration.activity_id)
        .join(User, User.id == Registration.user_id)
        .outerjoin(TimeSlot, TimeSlot.id == Registration.slot_id)
        .where(Registration.activity_id == activity_id, Registration.state.in_(PLACE_STATES))).all()
    told = 0
    for row in rows:
        if row.slot_id is not None and (activity.venue or "") == (old_venue or ""):
            continue
        subject, body = texts.compose("activity.changed", row.locale, title=activity.title,
                                      when=texts.when(row[3]), venue=activity.venue,
                                      ticket=ticket_path(row.id), release=release_path(row.id))
        enqueue(row.user_id, "activity.changed", body, subject=subject, priority=Priority.TIMELY,
                activity_id=activity_id)
        told += 1
    return told
