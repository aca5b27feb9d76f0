"""Worker-facing registration pages: sign-up, my activities, tickets, calendar files, cancellation.

Each view parses its input, calls one registration service and renders; the rules live in
``registrations.services``.
"""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..access import current_actor, load_visible_activity
from ..accounts.forms import EmptyForm
from ..activities.models import SignupMode
from ..core.errors import Conflict, NotAllowed, ValidationFailed
from ..core.permissions import login_required
from ..core.timeutil import now
from . import services
from .followups import followup
from .services import seating
from .forms import build_signup_form, health_consent_version
from .models import RegistrationState
from .presenting import answer_rows, calendar_bytes, event_times, qr_svg

bp = Blueprint("registrations", __name__)


def confirmation_message(registration, position: int | None) -> str:
    """What a worker is told right after signing up, by the state the service gave them."""
    state = registration.state
    if state == RegistrationState.CONFIRMED:
        return _("You are signed up: your place is confirmed.")
    if state == RegistrationState.WAITLISTED:
        if position:
            return _("All places are taken: you are number %(position)d on the waiting list. "
                     "You move up automatically when someone cancels.", position=position)
        return _("All places are taken: you are on the waiting list.")
    if state == RegistrationState.PENDING:
        if registration.activity.mode == SignupMode.LOTTERY:
            return _("You have entered the draw. You will learn the result after sign-up closes.")
        return _("Your sign-up is received and waits for the organiser's approval.")
    return _("Your sign-up is recorded: %(state)s.", state=state.title)


@bp.route("/activities/<int:activity_id>/signup", methods=["GET", "POST"])
@login_required
def signup(activity_id: int):
    user = current_actor()
    activity = load_visible_activity(activity_id, user=user)
    state = services.signup_state(user, activity)
    if state.existing is not None:
        flash(_("You have already signed up for this activity."), "info")
        return redirect(url_for(".detail", registration_id=state.existing.id))

    form = build_signup_form(activity)
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            registration = services.register(
                user, activity.id, slot_id=form.selected_slot_id(), answers=form.answers(),
                health_consent=form.consent_given(),
            )
        except services.AlreadyRegistered as error:
            flash(str(error.message), "info")
            return redirect(url_for(".detail", registration_id=error.registration_id))
        except ValidationFailed as error:
            problems = form.apply_errors(error.errors) or ([] if error.errors else [str(error.message)])
            status = 422
        except (NotAllowed, Conflict) as error:  # not eligible, sign-up closed, full ...
            problems = [str(error.message)]
            status = error.http_status
        else:
            flash(confirmation_message(registration, services.waitlist_position(registration)), "success")
            after = followup(registration)  # a contest: straight on to the entry form
            if after is not None and after.action is not None:
                endpoint, values, _label = after.action
                return redirect(url_for(endpoint, **values))
            return redirect(url_for(".detail", registration_id=registration.id))
    elif form.is_submitted():
        status = 422
    if status != 200:
        state = services.signup_state(user, activity)
    return render_template("registrations/signup.html", activity=activity, form=form, state=state,
                           problems=problems, consent_version=health_consent_version()), status


@bp.route("/me/registrations")
@login_required
def my_registrations():
    registrations = services.my_registrations(current_actor())  # upcoming soonest first, then past
    current = now()
    upcoming = [r for r in registrations if services.is_upcoming(r, current)]
    past = [r for r in registrations if not services.is_upcoming(r, current)]
    positions = services.waitlist_positions([r.id for r in upcoming if r.state == RegistrationState.WAITLISTED])
    next_ticket = next((r for r in upcoming if r.holds_place), None)  # one tap from the list to the QR code
    from ..results.rules import FEEDBACK_KINDS  # results builds on registrations: asked, not imported

    return render_template("registrations/mine.html", upcoming=upcoming, past=past, positions=positions,
                           next_ticket=next_ticket, feedback_kinds=FEEDBACK_KINDS)


@bp.route("/me/registrations/<int:registration_id>")
@login_required
def detail(registration_id: int):
    registration = services.get_own_registration(current_actor(), registration_id)
    ticket = seat = None
    if registration.holds_place:
        ticket = qr_svg(services.ticket_token(registration), _("Ticket QR code"))
        seat = seating.seat_of(registration.id)
    position = (services.waitlist_position(registration)
                if registration.state == RegistrationState.WAITLISTED else None)
    from ..results.services import feedback_refusal  # results builds on registrations: asked, not imported

    # A place in an activity not over yet may be kept on the phone for the venue without signal
    # (static/sw.js), until the activity's (or its slot's) end.
    offline_until = event_times(registration)[1] if ticket is not None and services.is_upcoming(
        registration, now()) else None
    response = make_response(render_template(
        "registrations/detail.html", registration=registration, activity=registration.activity, ticket=ticket,
        seat=seat, position=position, answers=answer_rows(registration), form=EmptyForm(),
        feedback_refusal=feedback_refusal(registration), offline_until=offline_until,
        followup=followup(registration)))
    if offline_until is not None:
        response.headers["X-Ticket-Offline-Until"] = offline_until.isoformat() + "Z"
    return response


@bp.route("/me/registrations/<int:registration_id>/calendar.ics")
@login_required
def calendar(registration_id: int):
    registration = services.get_own_registration(current_actor(), registration_id)
    if not (registration.is_live or registration.holds_place):
        raise Conflict(_l("This registration is no longer active, so there is no calendar entry."))
    url = url_for(".detail", registration_id=registration.id, _external=True)
    body = calendar_bytes(registration, url, request.host.split(":")[0] or "unionevents")
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="activity-{registration.activity_id}.ics"'
    return response


@bp.route("/me/registrations/<int:registration_id>/ticket.png")
@login_required
def ticket_picture(registration_id: int):
    """保存为图片: the ticket as a PNG (registrations.ticket_image), for a browser that cannot save the page."""
    from flask import current_app
    from flask_babel import format_datetime

    from .ticket_image import find_font, ticket_png

    registration = services.get_own_registration(current_actor(), registration_id)
    if not registration.holds_place:
        raise Conflict(_l("This registration holds no place, so there is no ticket."))
    activity = registration.activity
    starts, ends = event_times(registration)
    body = ticket_png(
        font_path=find_font(current_app.config.get("TICKET_FONT_PATH")), token=services.ticket_token(registration),
        code=registration.ticket_code, title=activity.title,
        when=f"{format_datetime(starts, 'short')} – {format_datetime(ends, 'short')}",
        where=activity.venue or activity.node.name, heading=_("Your ticket"), code_label=_("Ticket code"),
        note=_("Show the QR code at the entrance, or read out the ticket code if it cannot be scanned. "
               "Do not share either."))
    response = make_response(body)
    response.headers["Content-Type"] = "image/png"
    response.headers["Content-Disposition"] = f'inline; filename="ticket-{registration.activity_id}.png"'
    response.headers["Cache-Control"] = "private, no-store"  # a ticket: not for shared caches
    return response


@bp.route("/me/registrations/<int:registration_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(registration_id: int):
    user = current_actor()
    registration = services.get_own_registration(user, registration_id)
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form has expired. Please try again."), "error")
            return redirect(url_for(".cancel", registration_id=registration.id))
        try:
            services.cancel(registration.id, user)
        except (Conflict, NotAllowed) as error:  # past the cut-off, already cancelled ...
            flash(str(error.message), "error")
        else:
            flash(_("Your registration is cancelled."), "success")
        return redirect(url_for(".detail", registration_id=registration.id))
    if not registration.is_live:
        flash(_("This registration cannot be cancelled: %(state)s.", state=registration.state.title), "info")
        return redirect(url_for(".detail", registration_id=registration.id))
    return render_template("registrations/cancel.html", registration=registration,
                           activity=registration.activity, form=form)
