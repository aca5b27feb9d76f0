"""Organiser pages for enrolling a union's own members into an activity of a union above it.

/manage/enrol lists what the organiser's unions can enrol into; /manage/enrol/<activity>/<unit>
shows a searchable, paginated checklist of the unit's members and a sheet upload; both post to
the enrolment service and show its per-person report.  Works without JavaScript.
"""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SelectField, SubmitField

from ..access import current_actor, load_enrol_option
from ..accounts.models import Role
from ..core.errors import ValidationFailed
from ..core.forms import BaseForm
from ..core.permissions import role_required
from . import enrolment
from .manage_forms import slot_choices

bp = Blueprint("enrol", __name__, url_prefix="/manage/enrol")


class EnrolForm(BaseForm):
    slot_id = SelectField(_l("Time slot"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Enrol the ticked members"))


class EnrolUploadForm(BaseForm):
    slot_id = SelectField(_l("Time slot"), choices=[], validate_choice=False)
    file = FileField(_l("Spreadsheet (CSV or XLSX)"), validators=[
        FileRequired(_l("Please choose a file.")),
        FileAllowed(["csv", "xlsx"], _l("Only CSV and XLSX files can be imported."))],
        description=_l("Columns 手机号 (mobile number) and 姓名 (name). People without an account get one in "
                       "your union and an activation code by SMS."))
    submit = SubmitField(_l("Enrol from the sheet"))


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def _render_enrol(option, form, upload_form, status=200, ids_error=None):
    q = (request.args.get("q") or "").strip()[:enrolment.SEARCH_MAX]
    members = enrolment.members_page(option, q, _page_number())
    return render_template("registrations/enrol/enrol.html", option=option, activity=option.activity,
                           members=members, q=q, form=form, upload_form=upload_form,
                           ids_error=ids_error, search_max=enrolment.SEARCH_MAX), status


@bp.route("/")
@role_required(Role.ORGANISER)
def index():
    return render_template("registrations/enrol/index.html",
                           options=enrolment.enrollable_activities(current_actor()))


@bp.route("/<int:activity_id>/<int:unit_id>", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def enrol(activity_id: int, unit_id: int):
    option = load_enrol_option(activity_id, unit_id)
    form = EnrolForm()
    upload_form = EnrolUploadForm(formdata=None)
    form.slot_id.choices = upload_form.slot_id.choices = slot_choices(option.activity.slots)
    if request.method == "GET" or not form.validate_on_submit():
        return _render_enrol(option, form, upload_form, 200 if request.method == "GET" else 422)
    try:
        result = enrolment.enrol_members(current_actor(), option.activity.id, option.unit.id,
                                         request.form.getlist("ids"), slot_id=form.slot_id.data or None)
    except ValidationFailed as error:
        ids_error = " ".join(str(m) for m in error.errors.get("ids", []))
        if "slot_id" in error.errors:
            form.slot_id.errors = list(form.slot_id.errors) + [str(m) for m in error.errors["slot_id"]]
        return _render_enrol(option, form, upload_form, 422, ids_error=ids_error or None)
    return render_template("registrations/enrol/result.html", option=option, activity=option.activity,
                           result=result, statuses=enrolment.STATUS_TITLES)


@bp.route("/<int:activity_id>/<int:unit_id>/upload", methods=["POST"])
@role_required(Role.ORGANISER)
def upload(activity_id: int, unit_id: int):
    option = load_enrol_option(activity_id, unit_id)
    form = EnrolForm(formdata=None)
    upload_form = EnrolUploadForm()
    form.slot_id.choices = upload_form.slot_id.choices = slot_choices(option.activity.slots)
    if not upload_form.validate_on_submit():
        return _render_enrol(option, form, upload_form, 422)
    data = upload_form.file.data
    try:
        result = enrolment.enrol_spreadsheet(current_actor(), option.activity.id, option.unit.id, data.read(),
                                             data.filename or "", slot_id=upload_form.slot_id.data or None)
    except ValidationFailed as error:
        for key, messages in error.errors.items():
            target = upload_form.slot_id if key == "slot_id" else upload_form.file
            target.errors = list(target.errors) + [str(m) for m in messages]
        return _render_enrol(option, form, upload_form, 422)
    return render_template("registrations/enrol/result.html", option=option, activity=option.activity,
                           result=result, statuses=enrolment.STATUS_TITLES)
