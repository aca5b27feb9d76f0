"""Organiser pages for meetings and large events: delegation seating (layout, chart, badges) and the
live door dashboard.  Same access as the door page: an organiser whose scope covers the activity."""
from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_time, gettext as _, lazy_gettext as _l
from wtforms import IntegerField, SubmitField
from wtforms.validators import InputRequired, NumberRange

from ..access import apply_errors, current_actor, flash_error, load_activity
from ..accounts.models import Role
from ..activities.models import ActivityKind
from ..core.errors import DomainError
from ..core.forms import REQUIRED_MESSAGE, BaseForm
from ..core.permissions import role_required
from . import badges, door_queries, seating_rules
from .manage_forms import EmptyForm
from .services import seating

bp = Blueprint("seating", __name__, url_prefix="/manage")

ORGANISER = Role.ORGANISER
MEETING = ActivityKind.MEETING


class LayoutForm(BaseForm):
    rows = IntegerField(_l("Number of rows"), validators=[
        InputRequired(REQUIRED_MESSAGE), NumberRange(1, seating_rules.MAX_ROWS)])
    seats_per_row = IntegerField(_l("Seats per row"), validators=[
        InputRequired(REQUIRED_MESSAGE), NumberRange(1, seating_rules.MAX_SEATS_PER_ROW)])
    submit = SubmitField(_l("Save the hall layout"))


# --------------------------------------------------------------------------- seating

@bp.route("/activities/<int:activity_id>/seating", methods=["GET", "POST"])
@role_required(ORGANISER)
def seating_page(activity_id: int):
    activity = load_activity(activity_id, ORGANISER, kind=MEETING)
    plan = seating.seating_plan(activity.id)
    form = LayoutForm(obj=plan)
    status = 200
    if form.validate_on_submit():
        try:
            seating.save_layout(current_actor(), activity.id, form.rows.data, form.seats_per_row.data)
        except DomainError as error:
            apply_errors(form, error)
        else:
            flash(_("Hall layout saved. Assign seats to place the delegates."), "success")
            return redirect(url_for(".seating_page", activity_id=activity.id))
    if request.method == "POST":
        status = 422
    chart = seating.seating_chart(activity.id)
    return render_template("registrations/manage/seating.html", activity=activity, form=form, chart=chart,
                           action_form=EmptyForm(), quotas=activity.unit_quotas), status


@bp.route("/activities/<int:activity_id>/seating/assign", methods=["POST"])
@role_required(ORGANISER)
def assign(activity_id: int):
    activity = load_activity(activity_id, ORGANISER, kind=MEETING)
    if EmptyForm().validate_on_submit():
        try:
            result = seating.assign_seats(current_actor(), activity.id)
        except DomainError as error:
            flash_error(error)
        else:
            flash(_("%(n)d delegates have a seat.", n=result.seated), "success")
            if result.unseated:
                flash(_("%(n)d delegates found no free seat: add rows or seats.", n=result.unseated), "error")
    return redirect(url_for(".seating_page", activity_id=activity.id))


@bp.route("/activities/<int:activity_id>/seating/chart")
@role_required(ORGANISER)
def chart(activity_id: int):
    activity = load_activity(activity_id, ORGANISER, kind=MEETING)
    return render_template("registrations/manage/seating_chart.html", activity=activity,
                           chart=seating.seating_chart(activity.id))


@bp.route("/activities/<int:activity_id>/seating/badges.pdf")
@role_required(ORGANISER)
def badges_pdf(activity_id: int):
    activity = load_activity(activity_id, ORGANISER, kind=MEETING)
    body = badges.badges_pdf(activity.title, activity.node.name, seating.badge_rows(activity.id))
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="badges-{activity.id}.pdf"', "Cache-Control": "no-store"})


# --------------------------------------------------------------------------- live door dashboard

def _board(activity):
    board = door_queries.door_board(activity.id)
    no_door = _("Roster or walk-in")
    return board, {
        "activity_id": activity.id,
        "at": board.at.isoformat() + "Z",
        "time": format_time(board.at, "medium"),
        "checked_in": board.checked_in, "expected": board.expected, "percent": board.percent,
        "recent": board.recent, "recent_minutes": door_queries.RECENT_MINUTES,
        "doors": [{"key": d.key, "label": d.label or no_door, "checked_in": d.checked_in,
                   "last": format_time(d.at, "short") if d.at else ""} for d in board.doors],
        "slots": [{"key": s.key, "label": format_time(s.at, "short") if s.at else "", "checked_in": s.checked_in,
                   "expected": s.expected, "percent": s.percent} for s in board.slots],
    }


@bp.route("/activities/<int:activity_id>/door-dashboard")
@role_required(ORGANISER)
def dashboard(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    board, data = _board(activity)
    response = Response(render_template(
        "registrations/manage/door_dashboard.html", activity=activity, board=board, data=data,
        refresh=door_queries.REFRESH_SECONDS, recent_minutes=door_queries.RECENT_MINUTES))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/activities/<int:activity_id>/door-dashboard.json")
@role_required(ORGANISER)
def dashboard_json(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    _board_obj, data = _board(activity)
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response
