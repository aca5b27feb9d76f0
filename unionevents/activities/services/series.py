"""Series: one activity repeated on several dates (a weekly class, a monthly health day).

Each occurrence is an activity of its own (its capacity, roster, check-in), linked by ``series_id``.
The dates come from ``series_rules``; the activity the organiser starts from is the first occurrence
(or one of them) and every other is cloned from it, every time moved by the same amount.  An edit
applies to one occurrence (the ordinary edit) or to it and every later one (``update_occurrences``,
all in one transaction: the later ones get the same fields and the same move in time).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...accounts.models import Role, User
from ...core.audit import Ref, log_action
from ...core.db import write_transaction
from ...core.enums import LabelledEnum
from ...core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from ...core.permissions import has_role
from ...core.timeutil import local_to_utc, now, utc_to_local
from ...extensions import db
from .. import series_rules as rules
from ..models import Activity, ActivitySeries, ActivityStatus
from .cancellation import cancel_locked, clean_reason
from .lifecycle import ActivityData, _ensure_changeable, _lock_activity, apply_update, check_data, clone_activity


class EditScope(LabelledEnum):
    ONE = "one"
    FUTURE = "future"

    __titles__ = {
        "one": _l("Only this date"),
        "future": _l("This date and every later date of the series"),
    }


SERIES_MESSAGES = {
    "bad_date": _l("“%(detail)s” is not a date. Write one date a line, like 2027-01-05 14:00."),
    "repeated_date": _l("%(detail)s is listed twice."),
    "no_dates": _l("Give at least one date other than this activity's own."),
    "too_many": _l("A series has at most %(detail)s dates."),
    "date_in_past": _l("%(detail)s has already passed."),
    "bad_weekday": _l("Please choose a day of the week."),
    "bad_day_of_month": _l("The day of the month must be between 1 and 31."),
}


def series_error(error: rules.SeriesError) -> ValidationFailed:
    """A rule's refusal as the form's error on ``dates``."""
    return ValidationFailed({"dates": [str(SERIES_MESSAGES[error.code] % {"detail": error.detail})]})


def create_series(actor: User, activity_id: int, local_starts: list[datetime],
                  whole_series_signup: bool = False) -> ActivitySeries:
    """Make ``activity_id`` the first of a series with an occurrence at each of ``local_starts`` (Beijing
    time; its own start is left out).  Each occurrence is published if the source is."""
    with write_transaction():
        source = _lock_activity(activity_id)
        _ensure_changeable(source)
        if not has_role(actor, Role.ORGANISER, node=source.node):
            raise NotAllowed(_l("You can only organise activities for unions in your scope."))
        if source.series_id is not None:
            raise Conflict(_l("This activity is already part of a series."))
        try:
            new = rules.occurrences(utc_to_local(source.starts_at), local_starts, utc_to_local(now()))
        except rules.SeriesError as error:
            raise series_error(error) from None
        series = ActivitySeries(node_id=source.node_id, title=source.title,
                                whole_series_signup=whole_series_signup, created_by_id=actor.id)
        db.session.add(series)
        db.session.flush()
        source.series_id = series.id
        status = ActivityStatus.PUBLISHED if source.status == ActivityStatus.PUBLISHED else ActivityStatus.DRAFT
        made = [clone_activity(actor, source, local_to_utc(start) - source.starts_at, title=source.title,
                               status=status, series_id=series.id) for start in new]
        log_action(actor.id, "series.create", series, source_id=source.id,
                   activity_ids=[a.id for a in made], whole_series_signup=whole_series_signup)
    return series


def occurrences(series_id: int) -> list[Activity]:
    """Every occurrence of the series, by date (cancelled ones too: they say so)."""
    return list(db.session.scalars(select(Activity).where(Activity.series_id == series_id)
                                   .order_by(Activity.starts_at, Activity.id)))


def published_dates(series_id: int) -> list[Activity]:
    """The dates a worker sees listed on any date's page: the published ones, by date."""
    return list(db.session.scalars(select(Activity).where(
        Activity.series_id == series_id, Activity.status == ActivityStatus.PUBLISHED)
        .order_by(Activity.starts_at, Activity.id)))


def get_series(series_id: int) -> ActivitySeries | None:
    return db.session.get(ActivitySeries, series_id)


def update_occurrences(actor: User, activity_id: int, data: ActivityData, scope: EditScope) -> list[Activity]:
    """Edit one occurrence, or it and every later, not cancelled one of its series (all or nothing).

    The later ones take ``data``'s fields and move in time as this one moves (its new start minus its
    old one), so "from 14:00 to 15:00" moves every later class by an hour."""
    node, eligible = check_data(actor, data)
    with write_transaction():
        activity = _lock_activity(activity_id)
        later = []
        if scope == EditScope.FUTURE and activity.series_id is not None:
            later = list(db.session.scalars(select(Activity).where(
                Activity.series_id == activity.series_id, Activity.starts_at > activity.starts_at,
                Activity.status != ActivityStatus.CANCELLED).order_by(Activity.starts_at, Activity.id)))
        plans = [(other.id, _moved(data, activity, other)) for other in later]
        changed = [apply_update(actor, activity.id, data, node, eligible)]
        for other_id, other_data in plans:
            try:
                changed.append(apply_update(actor, other_id, other_data, node, eligible))
            except ValidationFailed as error:
                when = utc_to_local(other_data.starts_at).strftime("%Y-%m-%d %H:%M")
                raise ValidationFailed({key: [str(_l("%(when)s: %(message)s", when=when, message=m))
                                              for m in messages] for key, messages in error.errors.items()}) \
                    from None
        if later:
            log_action(actor.id, "series.update", activity, series_id=activity.series_id,
                       activity_ids=[a.id for a in changed])
    return changed


def _moved(data: ActivityData, edited: Activity, other: Activity) -> ActivityData:
    """``data`` for a later occurrence: the same fields; each of its times moves as the edited
    occurrence's same time moved (the start by the start's move, the sign-up close by the close's ...)."""
    from dataclasses import replace

    def moved(new: datetime, old: datetime, value: datetime) -> datetime:
        return rules.Shift(new - old).apply(value)

    cutoff = None
    if data.cancel_cutoff_at is not None:
        cutoff = (moved(data.cancel_cutoff_at, edited.cancel_cutoff_at, other.cancel_cutoff_at)
                  if edited.cancel_cutoff_at and other.cancel_cutoff_at
                  else moved(data.starts_at, edited.starts_at, other.starts_at) - (data.starts_at - data.cancel_cutoff_at))
    return replace(
        data, starts_at=moved(data.starts_at, edited.starts_at, other.starts_at),
        ends_at=moved(data.ends_at, edited.ends_at, other.ends_at),
        signup_opens_at=moved(data.signup_opens_at, edited.signup_opens_at, other.signup_opens_at),
        signup_closes_at=moved(data.signup_closes_at, edited.signup_closes_at, other.signup_closes_at),
        cancel_cutoff_at=cutoff, capacity=data.capacity if not other.slots else None)


@dataclass(frozen=True)
class SeriesCancellation:
    activities: list[Activity]
    registrations: int


def future_occurrences(activity_id: int) -> list[Activity]:
    """The dates of ``activity_id``'s series that cancelling the series would cancel: not begun yet,
    not cancelled (drafts too), by date.  Empty when the activity is not part of a series."""
    activity = db.session.get(Activity, activity_id)
    if activity is None or activity.series_id is None:
        return []
    return list(db.session.scalars(select(Activity).where(
        Activity.series_id == activity.series_id, Activity.starts_at > now(),
        Activity.status != ActivityStatus.CANCELLED).order_by(Activity.starts_at, Activity.id)))


def cancel_series(actor: User, activity_id: int, reason: str = "") -> SeriesCancellation:
    """Cancel every date of ``activity_id``'s series that has not begun, in one transaction: each
    through the single cancellation (``cancel_locked``: registrations cancelled by the engine, each
    holder told, audited), then one ``series.cancel`` audit row.  Dates already held stay as they are.

    Raises NotAllowed (not the organiser's), Conflict (not a series, or nothing left to cancel),
    ValidationFailed (``reason`` too long)."""
    reason = clean_reason(reason)
    with write_transaction():
        activity = db.session.get(Activity, activity_id)  # locked below, with the others, by date
        if activity is None:
            raise NotFound(_l("This activity does not exist."))
        if not has_role(actor, Role.ORGANISER, node=activity.node):
            raise NotAllowed(_l("You can only organise activities for unions in your scope."))
        if activity.series_id is None:
            raise Conflict(_l("This activity is not part of a series."))
        dates = future_occurrences(activity_id)
        if not dates:
            raise Conflict(_l("No date of this series is left to cancel."))
        cancelled = 0
        for item in dates:  # by date: the same lock order as any other multi-date change
            cancelled += cancel_locked(actor, _lock_activity(item.id), reason, series_id=activity.series_id)
        log_action(actor.id, "series.cancel", Ref("activity_series", activity.series_id),
                   activity_ids=[a.id for a in dates], registrations=cancelled)
    return SeriesCancellation(dates, cancelled)
