"""Signing up for a whole series at once, where the organiser allows it: every open occurrence in one
transaction through the sign-up engine (``register_all``), so each occurrence's capacity is checked
exactly as a single sign-up checks it, and a refusal anywhere signs the worker up for none."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...accounts.models import User
from ...activities.models import Activity, ActivitySeries, ActivityStatus
from ...core.errors import Conflict, NotFound
from ...core.timeutil import now
from ...extensions import db
from ..models import TAKING_PART_STATES, Registration
from .signup import register_all


def open_occurrence_ids(series_id: int) -> list[int]:
    """Occurrences one could sign up for now: published, sign-up open, not started; by date."""
    current = now()
    return list(db.session.scalars(select(Activity.id).where(
        Activity.series_id == series_id, Activity.status == ActivityStatus.PUBLISHED,
        Activity.signup_opens_at <= current, Activity.signup_closes_at > current, Activity.starts_at > current)
        .order_by(Activity.starts_at, Activity.id)))


def series_signup_left(user: User | None, series_id: int) -> list[int]:
    """The open occurrences ``user`` is not yet taking part in (all open ones for a visitor)."""
    ids = open_occurrence_ids(series_id)
    if user is None or not getattr(user, "is_authenticated", False) or not ids:
        return ids
    taken = set(db.session.scalars(select(Registration.activity_id).where(
        Registration.user_id == user.id, Registration.activity_id.in_(ids),
        Registration.state.in_(TAKING_PART_STATES))))
    return [i for i in ids if i not in taken]


def register_for_series(user: User, series_id: int) -> list[Registration]:
    """Sign ``user`` up for every open occurrence they are not yet in; all or nothing."""
    series = db.session.get(ActivitySeries, series_id)
    if series is None:
        raise NotFound(_l("This series does not exist."))
    if not series.whole_series_signup:
        raise Conflict(_l("The organiser asks you to sign up for each date on its own."))
    todo = series_signup_left(user, series_id)
    if not todo:
        raise Conflict(_l("You are already signed up for every date still open."))
    return register_all(user, todo)
