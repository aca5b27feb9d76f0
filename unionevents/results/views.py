"""Feedback pages for workers (/me/feedback) and organisers' result pages of an activity
(/manage/activities/<id>/feedback, /manage/activities/<id>/attendance)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ..access import apply_errors, current_actor, load_activity
from ..accounts.models import Role
from ..core.errors import Conflict, ValidationFailed
from ..core.permissions import login_required, role_required
from . import services
from .forms import FeedbackForm

bp = Blueprint("results", __name__)


@bp.route("/me/feedback")
@login_required
def my_feedback():
    return render_template("results/mine.html", items=services.my_feedback(current_actor()))


@bp.route("/me/feedback/<int:registration_id>", methods=["GET", "POST"])
@login_required
def give_feedback(registration_id: int):
    registration, feedback = services.registration_for_feedback(current_actor(), registration_id)
    refusal = services.feedback_refusal(registration)
    form = FeedbackForm()
    status = 200
    if refusal is None and form.validate_on_submit():
        try:
            services.leave_feedback(current_actor(), registration.id, form.rating.data, form.comment.data)
        except ValidationFailed as error:
            apply_errors(form, error)
            status = 422
        except Conflict as error:
            flash(str(error.message), "info")
            return redirect(url_for(".my_feedback"), 303)
        else:
            flash(_("Thank you for your feedback!"), "success")
            return redirect(url_for(".my_feedback"), 303)
    elif form.is_submitted():
        status = refusal.http_status if refusal is not None else 400
        if refusal is None:
            form.form_errors.append(_("The form has expired. Please try again."))
    return render_template("results/give.html", registration=registration, activity=registration.activity,
                           feedback=feedback, refusal=refusal, form=form), status


@bp.route("/manage/activities/<int:activity_id>/feedback")
@role_required(Role.ORGANISER)
def feedback(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    return render_template("results/feedback.html", activity=activity,
                           summary=services.feedback_summary(activity.id))


@bp.route("/manage/activities/<int:activity_id>/attendance")
@role_required(Role.ORGANISER)
def attendance(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    return render_template("results/attendance.html", activity=activity,
                           report=services.attendance_by_unit(activity.id))
