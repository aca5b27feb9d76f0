"""Health pages: the worker's own records (/me/health) and the medical staff's desk (/medical).

Nobody else has a page here: organisers, officers and admins see counts in reports only.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..access import apply_errors, current_actor, load_activity
from ..accounts.models import Role
from ..core.errors import Conflict, ValidationFailed
from ..core.permissions import login_required, role_required
from . import services
from .forms import AssessmentForm, SearchForm

bp = Blueprint("health", __name__)


# -- the worker ------------------------------------------------------------------------------------------

@bp.route("/me/health")
@login_required
def mine():
    return render_template("health/mine.html", assessments=services.my_assessments(current_actor()))


@bp.route("/me/health/<int:assessment_id>")
@login_required
def my_assessment(assessment_id: int):
    assessment = services.get_own_assessment(current_actor(), assessment_id)
    return render_template("health/my_assessment.html", assessment=assessment)


# -- medical staff ---------------------------------------------------------------------------------------

@bp.route("/medical")
@role_required(Role.MEDICAL)
def medical_home():
    return render_template("health/medical_home.html", activities=services.medical_activities(current_actor()))


@bp.route("/medical/activities/<int:activity_id>")
@role_required(Role.MEDICAL)
def attendees(activity_id: int):
    activity = load_activity(activity_id, Role.MEDICAL)
    search = SearchForm(request.args)
    rows = services.checked_in_attendees(current_actor(), activity.id, search.q.data or "")
    return render_template("health/attendees.html", activity=activity, rows=rows, search=search)


@bp.route("/medical/activities/<int:activity_id>/registrations/<int:registration_id>",
          methods=["GET", "POST"])
@role_required(Role.MEDICAL)
def assess(activity_id: int, registration_id: int):
    activity = load_activity(activity_id, Role.MEDICAL)
    registration, assessment = services.registration_for_assessment(current_actor(), activity.id, registration_id)
    if request.method == "GET" and assessment is not None:
        form = AssessmentForm.for_assessment(assessment)
    else:
        form = AssessmentForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.record_assessment(current_actor(), registration.id, form.raw(), form.expected_version())
        except ValidationFailed as error:
            apply_errors(form, error)
            status = 422
        except Conflict as error:
            form.form_errors.append(str(error.message))
            status = error.http_status
        else:
            flash(_("Assessment saved for %(name)s.", name=registration.user.name), "success")
            return redirect(url_for(".attendees", activity_id=activity.id), 303)
    elif form.is_submitted():
        form.form_errors.append(_("The form has expired. Please try again."))
        status = 400
    return render_template("health/assess.html", activity=activity, registration=registration,
                           assessment=assessment, form=form), status
