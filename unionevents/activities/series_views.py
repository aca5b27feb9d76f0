"""Series pages: the organiser repeats an activity as a series; a worker signs up for a whole series.

The views parse, call one service (``activities.services.series`` / ``registrations.services``) and
show its answer."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from wtforms import BooleanField, DateField, IntegerField, RadioField, SelectField, SubmitField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from ..access import apply_errors, current_actor, flash_error, load_activity, load_visible_activity
from ..accounts.models import Role
from ..core.errors import DomainError
from ..core.forms import BaseForm
from ..core.permissions import login_required, role_required
from ..core.timeutil import utc_to_local
from . import series_rules
from .services import series
from .services.cancellation import CANCEL_REASON_MAX

bp = Blueprint("series", __name__)

WEEKDAYS = [SelectChoice(str(n), label) for n, label in enumerate(
    (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"), _l("Sunday")))]


class SeriesForm(BaseForm):
    pattern = RadioField(_l("Repeat"), choices=[SelectChoice("weekly", _l("Every week")),
                                                SelectChoice("monthly", _l("Every month")),
                                                SelectChoice("dates", _l("On the dates I list"))], default="weekly")
    first_day = DateField(_l("From"), validators=[Optional()])
    weekday = SelectField(_l("Day of the week"), choices=WEEKDAYS, coerce=int, validators=[Optional()])
    day_of_month = IntegerField(_l("Day of the month"), validators=[Optional(), NumberRange(1, 31)],
                                description=_l("A day past a month's end falls on its last day (31 → 30 April)."))
    at = TimeField(_l("Time"), validators=[Optional()])
    count = IntegerField(_l("Number of dates, this one included"),
                         validators=[Optional(), NumberRange(1, series_rules.MAX_OCCURRENCES)])
    dates = TextAreaField(_l("Dates"), validators=[Optional(), Length(max=2000)],
                          description=_l("One a line, like 2027-01-05 14:00 (without a time: the time above)."))
    whole_series_signup = BooleanField(_l("Workers may sign up for every date at once"))
    submit = SubmitField(_l("Create the series"))


def _defaults(form: SeriesForm, activity) -> None:
    start = utc_to_local(activity.starts_at)
    form.first_day.data = form.first_day.data or start.date()
    if form.weekday.data is None:
        form.weekday.data = start.weekday()
    form.day_of_month.data = form.day_of_month.data or start.day
    form.at.data = form.at.data or start.time()
    form.count.data = form.count.data or 8


def _dates_from(form: SeriesForm, activity):
    """The Beijing-time dates the form asks for; SeriesError when a rule refuses them."""
    start = utc_to_local(activity.starts_at)
    at = form.at.data or start.time()
    first = form.first_day.data or start.date()
    if form.pattern.data == "dates":
        return series_rules.explicit((form.dates.data or "").splitlines(), at)
    count = form.count.data or 0
    if form.pattern.data == "monthly":
        return series_rules.monthly(first, form.day_of_month.data or start.day, at, count)
    weekday = form.weekday.data if form.weekday.data is not None else start.weekday()
    return series_rules.weekly(first, weekday, at, count)


@bp.route("/manage/activities/<int:activity_id>/series", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def manage_series(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    form = SeriesForm()
    status = 200
    if activity.series_id is None and form.validate_on_submit():
        try:
            try:
                dates = _dates_from(form, activity)
            except series_rules.SeriesError as error:
                raise series.series_error(error) from None
            made = series.create_series(current_actor(), activity.id, dates, bool(form.whole_series_signup.data))
        except DomainError as error:
            apply_errors(form, error)
        else:
            flash(_("Series created: %(n)d dates.", n=len(series.occurrences(made.id))), "success")
            return redirect(url_for(".manage_series", activity_id=activity.id), 303)
    if request.method == "POST":
        status = 422
    _defaults(form, activity)
    occurrences = series.occurrences(activity.series_id) if activity.series_id else []
    return render_template("activities/manage/series.html", activity=activity, form=form,
                           occurrences=occurrences,
                           the_series=series.get_series(activity.series_id) if activity.series_id else None), status


class CancelSeriesForm(BaseForm):
    reason = TextAreaField(_l("Reason (sent to everyone who signed up)"),
                           validators=[Optional(), Length(max=CANCEL_REASON_MAX)], render_kw={"rows": 3})
    submit = SubmitField(_l("Yes, cancel every later date"))


@bp.route("/manage/activities/<int:activity_id>/series/cancel", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def cancel_series(activity_id: int):
    """A confirmation page listing the dates that would be cancelled; the POST cancels them all."""
    activity = load_activity(activity_id, Role.ORGANISER)
    form = CancelSeriesForm()
    status = 200
    if form.validate_on_submit():
        try:
            done = series.cancel_series(current_actor(), activity.id, (form.reason.data or "").strip())
        except DomainError as error:
            apply_errors(form, error)
        else:
            flash(_("%(n)d dates were cancelled; %(r)d registrations were cancelled and their holders will be "
                    "told.", n=len(done.activities), r=done.registrations), "success")
            return redirect(url_for(".manage_series", activity_id=activity.id), 303)
    if request.method == "POST":
        status = 422
    dates = series.future_occurrences(activity.id)
    return render_template("activities/manage/series_cancel.html", activity=activity, form=form, dates=dates,
                           live=sum(item.taken for item in dates)), status


@bp.route("/activities/<int:activity_id>/series/signup", methods=["POST"])
@login_required
def signup_series(activity_id: int):
    from ..registrations import services as registrations
    from ..registrations.manage_forms import EmptyForm

    activity = load_visible_activity(activity_id)
    if EmptyForm().validate_on_submit() and activity.series_id is not None:
        try:
            made = registrations.register_for_series(current_actor(), activity.series_id)
        except DomainError as error:
            flash_error(error)
        else:
            flash(_("You are signed up for %(n)d dates.", n=len(made)), "success")
            return redirect(url_for("registrations.my_registrations"), 303)
    return redirect(url_for("activities.detail", activity_id=activity.id), 303)
