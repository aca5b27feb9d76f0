"""Organiser: what was sent about an activity, to whom (masked) and whether it arrived; a failed
message can be sent again.  Admin: the outbox's backlog and failures."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..access import check_action_form, current_actor, flash_error, load_activity
from ..accounts.forms import EmptyForm
from ..accounts.models import Role
from ..core.errors import Conflict
from ..core.input import bounded_int
from ..core.outbox import OutboxState
from ..core.permissions import login_required, role_required
from . import inbox as inbox_service, services

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
