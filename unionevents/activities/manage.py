"""Organiser pages (/manage): the activities of the unions in the organiser's scope.

Every view is ``@role_required(Role.ORGANISER)`` (admins pass too) and loads
its activity through ``access.load_activity(id, Role.ORGANISER)``: 404 when it does not exist,
403 unless the organiser's scope covers the activity's union. Views parse the
input, call one service and render; the services hold the rules and commit.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ..access import apply_errors, check_action_form, current_actor, flash_error, load_activity
from ..accounts.forms import EmptyForm
from ..accounts.models import Occupation, Role
from ..core.errors import Conflict, DomainError, NotFound, ValidationFailed
from ..core.forms import select_choices
from ..core.input import bounded_int
from ..core.permissions import role_required
from ..core.timeutil import local_to_utc, now, utc_to_local
from ..extensions import db
from ..unions.models import UnionNode
from ..unions.services import tree_choices
from . import services
from .services.series import EditScope
from .forms import (
    ActivityFilterForm, ActivityForm, CancelActivityForm, CopyActivityForm, QuestionForm, QuotaForm,
    SlotForm, SlotGenerateForm,
)
from .models import Activity, ActivityKind, ActivityStatus, QuestionKind, SignupMode, Visibility

bp = Blueprint("manage", __name__, url_prefix="/manage")


# -- helpers -------------------------------------------------------------------------------------------

def _status(form) -> int:
    return 422 if form.is_submitted() and (form.errors or form.form_errors) else 200


def _scope_choices() -> list[SelectChoice]:
    """The organiser's unions as options, indented under the topmost; values are ids as strings."""
    nodes = services.nodes_in_scope(current_actor())
    top = min((n.depth for n in nodes), default=0)
    return [SelectChoice(str(n.id), "\u3000" * (n.depth - top) + n.name) for n in nodes]


def _local(value: datetime | None) -> datetime | None:
    return utc_to_local(value) if value else None


def _utc(value: datetime | None) -> datetime | None:
    return local_to_utc(value) if value else None


def _activity_form(activity: Activity | None = None) -> ActivityForm:
    if activity is not None and request.method == "GET":
        data = services.ActivityData.from_activity(activity)
        form = ActivityForm(data={
            "title": data.title, "kind": data.kind.value, "node_id": data.node_id,
            "description": data.description, "venue": data.venue,
            "starts_at": _local(data.starts_at), "ends_at": _local(data.ends_at),
            "signup_opens_at": _local(data.signup_opens_at), "signup_closes_at": _local(data.signup_closes_at),
            "cancel_cutoff_at": _local(data.cancel_cutoff_at), "capacity": data.capacity,
            "waitlist_enabled": data.waitlist_enabled, "mode": data.mode.value,
            "visibility": data.visibility.value, "members_only": data.members_only,
            "occupations": [o.value for o in data.occupations], "eligible_node_ids": data.eligible_node_ids,
        })
    else:
        form = ActivityForm()
    form.node_id.choices = _scope_choices()
    if activity is not None and str(activity.node_id) not in {c.value for c in form.node_id.choices}:
        form.node_id.choices.insert(0, SelectChoice(str(activity.node_id), activity.node.name))
    form.eligible_node_ids.choices = select_choices(tree_choices())
    return form


def _data_from(form: ActivityForm) -> services.ActivityData:
    return services.ActivityData(
        title=form.title.data or "", kind=ActivityKind(form.kind.data), node_id=form.node_id.data,
        description=form.description.data or "", venue=form.venue.data or "",
        starts_at=_utc(form.starts_at.data), ends_at=_utc(form.ends_at.data),
        signup_opens_at=_utc(form.signup_opens_at.data), signup_closes_at=_utc(form.signup_closes_at.data),
        cancel_cutoff_at=_utc(form.cancel_cutoff_at.data), capacity=form.capacity.data,
        waitlist_enabled=form.waitlist_enabled.data, mode=SignupMode(form.mode.data),
        visibility=Visibility(form.visibility.data), members_only=form.members_only.data,
        occupations=[Occupation(v) for v in form.occupations.data or []],
        eligible_node_ids=list(form.eligible_node_ids.data or []),
    )


# -- the list ------------------------------------------------------------------------------------------

@bp.route("/activities")
@role_required(Role.ORGANISER)
def activities():
    scope = _scope_choices()
    form = ActivityFilterForm(request.args)
    form.node.choices = [SelectChoice("", _("All"))] + scope
    status = _enum_or_none(ActivityStatus, form.status.data)
    kind = _enum_or_none(ActivityKind, form.kind.data)
    node = None
    if form.node.data and str(form.node.data) in {c.value for c in scope}:
        node = db.session.get(UnionNode, form.node.data)
    page = services.managed_activities(current_actor(), status=status, kind=kind, node=node,
                                       page=request.args.get("page", 1, type=bounded_int) or 1)
    filters = {"status": status.value if status else "", "kind": kind.value if kind else "",
               "node": node.id if node else ""}
    return render_template("activities/manage/list.html", page=page, form=form, filters=filters,
                           filtered=any(filters.values()))


def _enum_or_none(enum_cls, value):
    try:
        return enum_cls(value) if value else None
    except ValueError:
        return None


# -- create, view, edit --------------------------------------------------------------------------------

@bp.route("/activities/new", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def new_activity():
    form = _activity_form()
    if request.method == "GET":
        scope = form.node_id.choices
        if len(scope) == 1:
            form.node_id.data = form.node_id.coerce(scope[0].value)
        form.signup_opens_at.data = utc_to_local(now()).replace(minute=0, second=0, microsecond=0)
    if form.validate_on_submit():
        try:
            activity = services.create_managed_activity(current_actor(), _data_from(form))
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(_("Draft saved. Add time slots or questions if needed, then publish it."), "success")
            return redirect(url_for("manage.activity", activity_id=activity.id), 303)
    return render_template("activities/manage/form.html", form=form, activity=None), _status(form)


@bp.route("/activities/<int:activity_id>")
@role_required(Role.ORGANISER)
def activity(activity_id: int):
    from ..registrations.services import published_draw

    activity = load_activity(activity_id, Role.ORGANISER)
    draw = published_draw(activity)
    can_draw = (draw is not None and not draw.drawn and activity.status == ActivityStatus.PUBLISHED
                and now() >= activity.signup_closes_at)
    return render_template("activities/manage/activity.html", activity=activity,
                           counts=services.registration_counts(activity.id),
                           problems=services.publish_problems(activity), action_form=EmptyForm(), draw=draw,
                           draw_action=url_for("roster.draw", activity_id=activity.id) if can_draw else None)


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def edit_activity(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    if activity.status == ActivityStatus.CANCELLED:
        flash(_("This activity has been cancelled and can no longer be changed. Copy it to run it again."),
              "error")
        return redirect(url_for("manage.activity", activity_id=activity.id), 303)
    form = _activity_form(activity)
    scope = EditScope.FUTURE if request.form.get("series_scope") == EditScope.FUTURE.value else EditScope.ONE
    if form.validate_on_submit():
        try:
            if activity.series_id is not None:
                changed = services.series.update_occurrences(current_actor(), activity.id, _data_from(form), scope)
            else:
                changed = [services.update_activity(current_actor(), activity.id, _data_from(form))]
        except (ValidationFailed, Conflict) as error:
            apply_errors(form, error)
        else:
            flash(_("Changes saved.") if len(changed) == 1 else
                  _("Changes saved for %(n)d dates of the series.", n=len(changed)), "success")
            return redirect(url_for("manage.activity", activity_id=activity.id), 303)
    return render_template("activities/manage/form.html", form=form, activity=activity,
                           series_scopes=list(EditScope), series_scope=scope.value), _status(form)


# -- status changes ------------------------------------------------------------------------------------

@bp.route("/activities/<int:activity_id>/publish", methods=["POST"])
@role_required(Role.ORGANISER)
def publish(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    check_action_form()
    try:
        services.publish(current_actor(), activity.id)
    except DomainError as error:
        flash_error(error)
    else:
        flash(_("Published: workers can now see the activity."), "success")
    return redirect(url_for("manage.activity", activity_id=activity.id), 303)


@bp.route("/activities/<int:activity_id>/unpublish", methods=["POST"])
@role_required(Role.ORGANISER)
def unpublish(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    check_action_form()
    try:
        services.unpublish(current_actor(), activity.id)
    except DomainError as error:
        flash_error(error)
    else:
        flash(_("The activity is a draft again and hidden from workers."), "success")
    return redirect(url_for("manage.activity", activity_id=activity.id), 303)


@bp.route("/activities/<int:activity_id>/cancel", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def cancel_activity(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    form = CancelActivityForm()
    if form.validate_on_submit():
        try:
            cancelled = services.cancel_activity(current_actor(), activity.id, form.reason.data or "")
        except (ValidationFailed, Conflict) as error:
            apply_errors(form, error)
        else:
            flash(_("The activity is cancelled. %(n)d registrations were cancelled and their holders "
                    "will be told.", n=cancelled), "success")
            return redirect(url_for("manage.activity", activity_id=activity.id), 303)
    counts = services.registration_counts(activity.id)
    live = sum(n for state, n in counts.items() if state.value in ("pending", "confirmed", "waitlisted"))
    return render_template("activities/manage/cancel.html", activity=activity, form=form, live=live), \
        _status(form)


@bp.route("/activities/<int:activity_id>/copy", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def copy_activity(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    form = CopyActivityForm()
    if request.method == "GET":
        form.starts_at.data = _local(activity.starts_at + timedelta(days=7))
    if form.validate_on_submit():
        try:
            copy = services.copy_activity(current_actor(), activity.id, _utc(form.starts_at.data))
        except (ValidationFailed, Conflict) as error:
            apply_errors(form, error)
        else:
            flash(_("Copy saved as a draft. Check it, then publish it."), "success")
            return redirect(url_for("manage.activity", activity_id=copy.id), 303)
    return render_template("activities/manage/copy.html", activity=activity, form=form), _status(form)


# -- time slots ----------------------------------------------------------------------------------------

SLOT_FIELDS = {"starts_at": "starts_at", "ends_at": "ends_at", "capacity": "capacity"}
GENERATE_FIELDS = {"first_start": "first_start", "last_end": "last_end", "minutes": "minutes",
                   "capacity_each": "capacity_each"}


def _slot_page(activity: Activity, one: SlotForm, bulk: SlotGenerateForm, submitted: str | None = None):
    """The slot list and both forms; the form not submitted is pre-filled from the activity's times."""
    start, end = _local(activity.starts_at), _local(activity.ends_at)
    if submitted != "one":
        one.date.data = start.date()  # most activities with slots last one day
    if submitted != "bulk":
        bulk.date.data = start.date()
        bulk.first_start.data = start.time()
        bulk.last_end.data = end.time() if end.date() == start.date() else None
    return render_template("activities/manage/slots.html", activity=activity, one=one, bulk=bulk,
                           booked=services.slot_booking_counts(activity.id), action_form=EmptyForm()), \
        (422 if submitted else 200)


def _at(day, time) -> datetime:
    return local_to_utc(datetime.combine(day, time))


@bp.route("/activities/<int:activity_id>/slots")
@role_required(Role.ORGANISER)
def slots(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    return _slot_page(activity, SlotForm(prefix="one"), SlotGenerateForm(prefix="bulk"))


@bp.route("/activities/<int:activity_id>/slots", methods=["POST"])
@role_required(Role.ORGANISER)
def add_slot(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    one, bulk = SlotForm(prefix="one"), SlotGenerateForm(prefix="bulk", formdata=None)
    if one.validate_on_submit():
        try:
            services.add_slot(current_actor(), activity.id, _at(one.date.data, one.starts_at.data),
                              _at(one.date.data, one.ends_at.data), one.capacity.data)
        except (ValidationFailed, Conflict) as error:
            apply_errors(one, error, SLOT_FIELDS)
        else:
            flash(_("Slot added."), "success")
            return redirect(url_for("manage.slots", activity_id=activity.id), 303)
    return _slot_page(activity, one, bulk, "one")


@bp.route("/activities/<int:activity_id>/slots/generate", methods=["POST"])
@role_required(Role.ORGANISER)
def generate_slots(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    one, bulk = SlotForm(prefix="one", formdata=None), SlotGenerateForm(prefix="bulk")
    if bulk.validate_on_submit():
        try:
            made = services.generate_slots(current_actor(), activity.id, _at(bulk.date.data, bulk.first_start.data),
                                           _at(bulk.date.data, bulk.last_end.data), bulk.minutes.data,
                                           bulk.capacity_each.data)
        except (ValidationFailed, Conflict) as error:
            apply_errors(bulk, error, GENERATE_FIELDS)
        else:
            flash(_("%(n)d slots added.", n=len(made)), "success")
            return redirect(url_for("manage.slots", activity_id=activity.id), 303)
    return _slot_page(activity, one, bulk, "bulk")


@bp.route("/activities/<int:activity_id>/slots/<int:slot_id>/delete", methods=["POST"])
@role_required(Role.ORGANISER)
def delete_slot(activity_id: int, slot_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    check_action_form()
    try:
        services.delete_slot(current_actor(), activity.id, slot_id)
    except NotFound:
        abort(404)
    except DomainError as error:
        flash_error(error)
    else:
        flash(_("Slot deleted."), "success")
    return redirect(url_for("manage.slots", activity_id=activity.id), 303)


# -- questions -----------------------------------------------------------------------------------------

def _question_page(activity: Activity, form: QuestionForm, status: int = 200):
    return render_template("activities/manage/questions.html", activity=activity, form=form,
                           answered=services.answered_question_ids(activity.id),
                           action_form=EmptyForm()), status


def _question_of(activity: Activity, question_id: int):
    question = next((q for q in activity.questions if q.id == question_id), None)
    if question is None:
        abort(404)
    return question


@bp.route("/activities/<int:activity_id>/questions")
@role_required(Role.ORGANISER)
def questions(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    return _question_page(activity, QuestionForm())


@bp.route("/activities/<int:activity_id>/questions", methods=["POST"])
@role_required(Role.ORGANISER)
def add_question(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    form = QuestionForm()
    if form.validate_on_submit():
        try:
            services.create_question(current_actor(), activity.id, form.label.data, QuestionKind(form.kind.data),
                                     form.required.data, form.choices.data)
        except (ValidationFailed, Conflict) as error:
            apply_errors(form, error)
        else:
            flash(_("Question added."), "success")
            return redirect(url_for("manage.questions", activity_id=activity.id), 303)
    return _question_page(activity, form, 422)


@bp.route("/activities/<int:activity_id>/questions/<int:question_id>/edit", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def edit_question(activity_id: int, question_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    question = _question_of(activity, question_id)
    if request.method == "GET":
        form = QuestionForm(data={"label": question.label, "kind": question.kind.value,
                                  "required": question.required, "choices": "\n".join(question.choice_list())})
    else:
        form = QuestionForm()
    if form.validate_on_submit():
        try:
            services.update_question(current_actor(), activity.id, question.id, form.label.data,
                                     QuestionKind(form.kind.data), form.required.data, form.choices.data)
        except (ValidationFailed, Conflict) as error:
            apply_errors(form, error)
        else:
            flash(_("Question saved."), "success")
            return redirect(url_for("manage.questions", activity_id=activity.id), 303)
    answered = question.id in services.answered_question_ids(activity.id)
    return render_template("activities/manage/question_form.html", activity=activity, question=question,
                           form=form, answered=answered), _status(form)


@bp.route("/activities/<int:activity_id>/questions/<int:question_id>/move", methods=["POST"])
@role_required(Role.ORGANISER)
def move_question(activity_id: int, question_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    question = _question_of(activity, question_id)
    check_action_form()
    try:
        services.move_question(current_actor(), activity.id, question.id, request.form.get("direction", ""))
    except DomainError as error:
        flash_error(error)
    return redirect(url_for("manage.questions", activity_id=activity.id) + f"#question-{question.id}", 303)


@bp.route("/activities/<int:activity_id>/questions/<int:question_id>/delete", methods=["POST"])
@role_required(Role.ORGANISER)
def delete_question(activity_id: int, question_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    question = _question_of(activity, question_id)
    check_action_form()
    try:
        services.delete_question(current_actor(), activity.id, question.id)
    except DomainError as error:
        flash_error(error)
    else:
        flash(_("Question deleted."), "success")
    return redirect(url_for("manage.questions", activity_id=activity.id), 303)


# -- unit quotas ---------------------------------------------------------------------------------------

def _quota_page(activity: Activity, form: QuotaForm, status: int = 200):
    form.node_id.choices = [SelectChoice("", _("Choose a union"))] + select_choices(tree_choices())
    used = sum(q.quota for q in activity.unit_quotas)
    return render_template("activities/manage/quotas.html", activity=activity, form=form, quota_total=used,
                           action_form=EmptyForm()), status


@bp.route("/activities/<int:activity_id>/quotas")
@role_required(Role.ORGANISER)
def quotas(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    return _quota_page(activity, QuotaForm())


@bp.route("/activities/<int:activity_id>/quotas", methods=["POST"])
@role_required(Role.ORGANISER)
def save_quota(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    form = QuotaForm()
    form.node_id.choices = [SelectChoice("", _("Choose a union"))] + select_choices(tree_choices())
    if form.validate_on_submit():
        try:
            services.save_unit_quota(current_actor(), activity.id, form.node_id.data, form.quota.data)
        except (ValidationFailed, Conflict) as error:
            apply_errors(form, error)
        else:
            flash(_("Quota saved."), "success")
            return redirect(url_for("manage.quotas", activity_id=activity.id), 303)
    return _quota_page(activity, form, 422)


@bp.route("/activities/<int:activity_id>/quotas/<int:quota_id>/delete", methods=["POST"])
@role_required(Role.ORGANISER)
def delete_quota(activity_id: int, quota_id: int):
    activity = load_activity(activity_id, Role.ORGANISER)
    check_action_form()
    try:
        services.remove_unit_quota(current_actor(), activity.id, quota_id)
    except NotFound:
        abort(404)
    except DomainError as error:
        flash_error(error)
    else:
        flash(_("Quota removed."), "success")
    return redirect(url_for("manage.quotas", activity_id=activity.id), 303)
