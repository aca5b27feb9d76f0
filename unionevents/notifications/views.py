"""Organiser: what was sent about an activity, to whom (masked) and whether it arrived; a failed
message can be sent again.  Admin: the outbox's backlog and failures."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..access import apply_errors, check_action_form, current_actor, flash_error, load_activity
from ..accounts.forms import EmptyForm
from ..accounts.models import Role
from ..core.errors import Conflict, ValidationFailed
from ..core.input import bounded_int
from ..core.outbox import OutboxState
from ..core.permissions import login_required, role_required
from ..registrations import services as offers
from ..registrations.services import get_own_registration
from . import inbox as inbox_service, reminders as reminder_service, services
from .forms import ReminderForm

bp = Blueprint("notifications", __name__)

ORGANISER = Role.ORGANISER


@bp.route("/manage/activities/<int:activity_id>/messages")
@role_required(ORGANISER)
def activity_messages(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    page = request.args.get("page", 1, type=bounded_int) or 1
    state_value = request.args.get("state") or ""
    state = OutboxState(state_value) if state_value in {s.value for s in OutboxState} else None
    result = services.activity_messages(activity.id, page, state)
    return render_template("notifications/activity_messages.html", activity=activity, result=result,
                           state=state, states=list(OutboxState), action_form=EmptyForm())


@bp.route("/manage/activities/<int:activity_id>/messages/<int:message_id>/retry", methods=["POST"])
@role_required(ORGANISER)
def retry(activity_id: int, message_id: int):
    activity = load_activity(activity_id, ORGANISER)
    check_action_form()
    try:
        services.retry_message(current_actor(), activity.id, message_id)
    except Conflict as error:  # not waiting for a retry (sent, or queued again already)
        flash_error(error)
    else:
        flash(_("The message will be sent again."), "success")
    return redirect(url_for(".activity_messages", activity_id=activity.id))


@bp.route("/admin/outbox")
@role_required(Role.ADMIN)
def outbox():
    return render_template("notifications/outbox.html", overview=services.overview(), states=list(OutboxState))


# -- the worker's inbox ----------------------------------------------------------------------------------

@bp.route("/me/messages")
@login_required
def inbox():
    """我的消息: newest first; what this page shows is marked read (the unread stay highlighted once)."""
    user = current_actor()
    page = request.args.get("page", 1, type=bounded_int) or 1
    result = inbox_service.inbox(user.id, page)
    if result.messages and result.messages[0].unread:
        inbox_service.mark_read(user.id, result.messages[0].id)
    return render_template("notifications/inbox.html", result=result)


# -- the organiser's reminder setting -------------------------------------------------------------------

@bp.route("/manage/activities/<int:activity_id>/reminders", methods=["GET", "POST"])
@role_required(ORGANISER)
def reminders(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    hours = reminder_service.reminder_hours(activity.id)
    form = ReminderForm(data={"hours": ", ".join(str(h) for h in hours), "offer_hours": activity.offer_hours}
                        if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            hours = reminder_service.set_reminder_hours(current_actor(), activity.id, form.hours.data or "")
            if form.offer_hours.data != activity.offer_hours:
                offers.set_offer_hours(current_actor(), activity.id, form.offer_hours.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(_("Reminders saved.") if hours else _("Reminders switched off."), "success")
            return redirect(url_for(".reminders", activity_id=activity.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("notifications/reminders.html", activity=activity, form=form, hours=hours), status


# -- the short links in SMS ------------------------------------------------------------------------------
# An SMS has room for ~70 characters: "/t/123" stands for the ticket, "/t/123/x" for "release my
# place" (the cancel page, which still asks to confirm).  Someone else's id answers 404, as the pages do.

@bp.route("/t/<int:registration_id>")
@login_required
def short_ticket(registration_id: int):
    registration = get_own_registration(current_actor(), registration_id)
    return redirect(url_for("registrations.detail", registration_id=registration.id))


@bp.route("/t/<int:registration_id>/x")
@login_required
def short_release(registration_id: int):
    registration = get_own_registration(current_actor(), registration_id)
    return redirect(url_for("registrations.cancel", registration_id=registration.id))


@bp.route("/t/<int:registration_id>/ok", methods=["GET", "POST"])
@login_required
def accept_offer(registration_id: int):
    """The link in a waiting-list offer: one button takes the place (a GET changes nothing, so a
    phone previewing the link cannot accept for the worker)."""
    user = current_actor()
    registration = get_own_registration(user, registration_id)
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form has expired. Please try again."), "error")
            return redirect(url_for(".accept_offer", registration_id=registration.id))
        try:
            offers.accept_offer(registration.id, user)
        except Conflict as error:
            flash_error(error)
        else:
            flash(_("The place is yours. See you there!"), "success")
        return redirect(url_for("registrations.detail", registration_id=registration.id))
    deadline = offers.open_offer(registration)
    if deadline is None:
        flash(str(offers.MSG_NO_OFFER), "info")
        return redirect(url_for("registrations.detail", registration_id=registration.id))
    return render_template("notifications/offer.html", registration=registration,
                           activity=registration.activity, deadline=deadline, form=form)
