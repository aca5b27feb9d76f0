"""Organiser pages for registrations: the roster, the door check-in page, walk-ins, messages, exports.

Made for two volunteers with phones at a 200-person event: every page works at 360 px without
JavaScript (the camera scan is an extra).  Views parse input, load-and-authorise the activity with
``access.load_activity``, call one service and show its answer.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from flask import (Blueprint, Response, abort, flash, jsonify, redirect, render_template, request,
                   stream_with_context, url_for)
from flask_babel import gettext as _, ngettext

from ..access import current_actor, flash_error, load_activity
from ..accounts.models import Occupation, Role
from ..activities.models import Activity, ActivityKind, QuestionKind
from ..core.db import MAX_ID
from ..core.errors import DomainError, ValidationFailed
from ..core.permissions import role_required
from ..core.timeutil import now
from ..extensions import db
from . import door_limits, door_queries, exports, queries, rules, services, ticket_codes
from .manage_forms import (EmptyForm, ExportForm, MessageForm, TicketForm, WalkInForm, slot_choices,
                           state_choices)
from .models import RegistrationState as S
from .services import seating

bp = Blueprint("roster", __name__, url_prefix="/manage")

ORGANISER = Role.ORGANISER


# --------------------------------------------------------------------------- roster

@bp.route("/activities/<int:activity_id>/roster")
@role_required(ORGANISER)
def roster(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    filters = queries.parse_filters(request.args)
    page = queries.roster_page(activity.id, filters)
    figures = queries.roster_figures(activity.id)
    export_form = ExportForm()
    return render_template(
        "registrations/manage/roster.html", activity=activity, filters=filters, page=page,
        figures=figures, unions=queries.roster_unions(activity.id), questions=activity.questions,
        slots=activity.slots, states=state_choices(), occupations=Occupation.choices(),
        sorts=_sort_choices(), answer_text=queries.answer_text, export_form=export_form,
        action_form=EmptyForm(), started=now() >= activity.starts_at, S=S, search_max=queries.SEARCH_MAX,
        seats=seating.seat_labels(activity.id) if activity.kind == ActivityKind.MEETING else {},
    )


def _sort_choices():
    return [("registered", _("Registration time")), ("name", _("Name")), ("state", _("State")),
            ("slot", _("Time slot")), ("union", _("Union")), ("checked_in", _("Check-in time"))]


@bp.route("/activities/<int:activity_id>/roster/bulk", methods=["POST"])
@role_required(ORGANISER)
def bulk(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    action = request.form.get("action", "")
    ids = request.form.getlist("ids")
    if action == "message":
        form = MessageForm(formdata=None, audience="selected")
        chosen = services.clean_ids(ids) if len(ids) <= services.BULK_LIMIT else []
        return render_template("registrations/manage/message.html", activity=activity, form=form, ids=chosen)
    try:
        result = services.bulk_apply(activity.id, ids, action, current_actor())
    except ValidationFailed as error:
        flash_error(error)
        return redirect(request.form.get("back") if _is_roster_url(request.form.get("back"), activity.id)
                        else url_for(".roster", activity_id=activity.id))
    if result.done:
        flash(ngettext("%(num)d registration changed.", "%(num)d registrations changed.", result.done),
              "success")
    for _reg_id, name, message in result.refused:
        flash(_("%(name)s: %(message)s", name=name or _("unknown"), message=message), "error")
    back = request.form.get("back")
    return redirect(back if _is_roster_url(back, activity.id) else url_for(".roster", activity_id=activity.id))


def _is_roster_url(url: str | None, activity_id: int) -> bool:
    base = url_for(".roster", activity_id=activity_id)
    return bool(url) and (url == base or url.startswith(base + "?")) and "\\" not in url


@bp.route("/activities/<int:activity_id>/roster/no-shows", methods=["POST"])
@role_required(ORGANISER)
def mark_no_shows(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    if EmptyForm().validate_on_submit():
        try:
            marked = services.mark_rest_no_show(activity.id, current_actor())
        except DomainError as error:
            flash_error(error)
        else:
            flash(ngettext("%(num)d registration marked as no-show.",
                           "%(num)d registrations marked as no-show.", marked), "success")
    return redirect(url_for(".roster", activity_id=activity.id))


@bp.route("/activities/<int:activity_id>/draw", methods=["POST"])
@role_required(ORGANISER)
def draw(activity_id: int):
    """Run the lottery from the activity page (the same service as ``flask activities draw``)."""
    activity = load_activity(activity_id, ORGANISER)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        result = services.draw_lottery(activity.id, current_actor())
    except DomainError as error:
        flash_error(error)
    else:
        flash(_("The draw is done: %(confirmed)d confirmed, %(waitlisted)d on the waiting list, "
                "%(not_drawn)d not drawn. The seed and order are now on the activity page.",
                confirmed=result.confirmed, waitlisted=result.waitlisted, not_drawn=result.not_drawn), "success")
    return redirect(url_for("manage.activity", activity_id=activity.id), 303)


# --------------------------------------------------------------------------- messages

@bp.route("/activities/<int:activity_id>/roster/message", methods=["GET", "POST"])
@role_required(ORGANISER)
def message(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    form = MessageForm()
    ids = services.clean_ids(request.form.getlist("ids")[:services.BULK_LIMIT]) if request.method == "POST" else []
    status = 200
    if form.validate_on_submit():
        selected = ids if form.audience.data == "selected" else None
        state = S(form.state.data) if form.audience.data == "state" else None
        try:
            queued = services.send_notice(activity.id, current_actor(), subject=form.subject.data,
                                          body=form.body.data, registration_ids=selected, state=state)
        except ValidationFailed as error:
            for key, messages in error.errors.items():
                target = form[key] if key in form._fields else form.audience
                target.errors = list(target.errors) + [str(m) for m in messages]
        except services.BulkLimitReached as error:  # the day's share sent: the text stays for later
            flash_error(error)
            status = error.http_status
        else:
            flash(ngettext("%(num)d message queued.", "%(num)d messages queued.", queued), "success")
            return redirect(url_for(".roster", activity_id=activity.id))
    if request.method == "POST" and status == 200:
        status = 422
    return render_template("registrations/manage/message.html", activity=activity, form=form, ids=ids), status


# --------------------------------------------------------------------------- exports and sign-in sheet

@bp.route("/activities/<int:activity_id>/roster/export", methods=["POST"])
@role_required(ORGANISER)
def export(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    form = ExportForm()
    if not form.validate_on_submit():
        for messages in form.errors.values():
            flash(" ".join(str(m) for m in messages), "error")
        return redirect(url_for(".roster", activity_id=activity.id))
    filters = queries.parse_filters(request.form)
    full = bool(form.full_mobile.data)
    fmt = form.format.data
    if full:
        services.record_full_mobile_export(activity.id, current_actor(), fmt)
    stamp = now().strftime("%Y%m%d")
    filename = f"roster-{activity.id}-{stamp}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    rows = queries.export_rows(activity.id, filters)
    seats = seating.seat_labels(activity.id) if activity.kind == ActivityKind.MEETING else None
    if fmt == "csv":
        # Everything the body needs of the activity is read now: the view's session is gone by the time
        # the body is iterated (``rows`` is a generator: its query runs in the streaming context).
        body = stream_with_context(exports.csv_stream(exports.RosterLayout.of(activity, seats), rows, full))
        return Response(body, mimetype="text/csv", content_type="text/csv; charset=utf-8", headers=headers)
    spool = exports.xlsx_file(activity, rows, full, seats)
    return Response(exports.file_chunks(spool), headers=headers,
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/activities/<int:activity_id>/sign-in-sheet")
@role_required(ORGANISER)
def sign_in_sheet(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    return render_template("registrations/manage/sign_in_sheet.html", activity=activity,
                           rows=queries.sign_in_sheet(activity.id))


# --------------------------------------------------------------------------- the door

def _checkin_url(activity_id: int, q: str | None = None) -> str:
    q = (q or "").strip()[:queries.SEARCH_MAX]
    return url_for(".checkin", activity_id=activity_id, q=q or None)


@bp.route("/activities/<int:activity_id>/checkin")
@role_required(ORGANISER)
def checkin(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    q = (request.args.get("q") or "").strip()[:queries.SEARCH_MAX]
    # Outside the check-in window the page says so, and each check-in offers the override with a reason.
    window_closed = None if activity.slots else rules.checkin_refusal(
        services.checkin_window(activity.starts_at, activity.ends_at, False), now())
    return render_template("registrations/manage/checkin.html", activity=activity, q=q,
                           results=queries.door_search(activity.id, q), figures=queries.roster_figures(activity.id),
                           ticket_form=TicketForm(), action_form=EmptyForm(), S=S,
                           window_closed=window_closed[1] if window_closed else None,
                           offer_override=bool(activity.slots) or window_closed is not None,
                           checkin_refusal=services.checkin_refusal,
                           override_max=rules.OVERRIDE_REASON_MAX, search_max=queries.SEARCH_MAX,
                           recent=door_queries.recent_check_ins(activity.id, services.undo_minutes()),
                           undo_minutes=services.undo_minutes(), refresh=door_queries.REFRESH_SECONDS)


@bp.route("/activities/<int:activity_id>/checkin/scan", methods=["POST"])
@door_limits.code_guesses
@role_required(ORGANISER)
def checkin_scan(activity_id: int):
    """The door page's continuous scanner (JSON, CSRF token in the X-CSRFToken header).

    Body ``{"ticket": "<QR token or typed code>", "client_id": "<uuid>"}``.  Answers 200 with the
    verdict — ``admitted`` (green), ``already`` (amber) or ``refused`` (red) with the reason — the name,
    the undo URL and the door's count, so the scanner shows it and keeps the camera on."""
    activity = load_activity(activity_id, ORGANISER)
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    text = body.get("ticket")
    if not isinstance(text, str) or not text.strip() or len(text) > 200:
        return _json_error("ticket", _("Scan a ticket or type its code."), 422)
    client_id = None
    if body.get("client_id") is not None:
        try:
            client_id = str(uuid.UUID(str(body["client_id"])))
        except ValueError:
            return _json_error("client_id", _("The request id is missing or not valid."), 422)
    try:
        verdict = services.door_scan(activity.id, text, current_actor(), client_id=client_id)
    except services.UnknownTicketCode as error:
        door_limits.note_miss()
        verdict = services.DoorVerdict(services.REFUSED, str(error.message), code=error.code, http_status=404)
    except DomainError as error:
        return _json_error(error.code, str(error.message), error.http_status)
    figures = queries.roster_figures(activity.id)
    done = figures.count(S.ATTENDED)
    return jsonify({
        "outcome": verdict.outcome, "message": verdict.message, "name": verdict.name, "code": verdict.code,
        "registration_id": verdict.registration_id,
        "undo_url": url_for(".undo_check_in", activity_id=activity.id, registration_id=verdict.registration_id)
        if verdict.outcome == services.ADMITTED else None,
        "checked_in": done, "expected": done + figures.count(S.CONFIRMED),
    })


@bp.route("/activities/<int:activity_id>/checkin/<int:registration_id>", methods=["POST"])
@role_required(ORGANISER)
def check_in(activity_id: int, registration_id: int):
    activity = load_activity(activity_id, ORGANISER)
    q = request.form.get("q")
    if EmptyForm().validate_on_submit():
        try:
            # Only the "check in anyway" form sends a reason (blank there is refused: an override says why).
            result = services.check_in_registration(activity.id, registration_id, current_actor(),
                                                    override_reason=request.form.get("override_reason"))
        except DomainError as error:
            flash_error(error)
        else:
            _flash_checked_in(result)
    return redirect(_checkin_url(activity.id, q))


def _flash_checked_in(result: services.CheckInResult) -> None:
    registration = result.registration
    if result.already:
        flash(_("%(name)s was already checked in at %(time)s.", name=registration.user.name,
                time=_format_time(registration.checked_in_at)), "info")
    else:
        flash(_("Checked in: %(name)s.", name=registration.user.name), "success")


def _format_time(value) -> str:
    from flask_babel import format_time

    return format_time(value, "short") if value else ""


@bp.route("/activities/<int:activity_id>/checkin/<int:registration_id>/undo", methods=["POST"])
@role_required(ORGANISER)
def undo_check_in(activity_id: int, registration_id: int):
    activity = load_activity(activity_id, ORGANISER)
    q = request.form.get("q")
    if EmptyForm().validate_on_submit():
        try:
            if request.form.get("from") == "search":  # the name-search list: the organiser's undo, no time limit
                registration = services.undo_check_in_registration(activity.id, registration_id, current_actor())
            else:  # the last check-ins and the scanner: only within undo_minutes()
                registration = services.undo_door_check_in(activity.id, registration_id, current_actor())
        except DomainError as error:
            flash_error(error)
        else:
            flash(_("Check-in undone: %(name)s.", name=registration.user.name), "success")
    return redirect(_checkin_url(activity.id, q))


@bp.route("/activities/<int:activity_id>/checkin/ticket", methods=["POST"])
@door_limits.code_guesses
@role_required(ORGANISER)
def check_in_ticket(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    form = TicketForm()
    if not form.validate_on_submit():
        for messages in form.errors.values():
            flash(" ".join(str(m) for m in messages), "error")
        return redirect(_checkin_url(activity.id))
    override_reason = (request.form.get("override_reason") or "").strip() or None
    try:
        if ticket_codes.looks_like_code(form.token.data):  # the short code under the QR code, typed
            result = services.check_in_code(activity.id, form.token.data, current_actor(),
                                            override_reason=override_reason)
        else:  # the QR code's token, scanned
            result = services.check_in_ticket(form.token.data, current_actor(), activity_id=activity.id,
                                              override_reason=override_reason)
    except services.UnknownTicketCode as error:
        door_limits.note_miss()
        flash_error(error)
    except DomainError as error:
        flash_error(error)
    else:
        _flash_checked_in(result)
    return redirect(_checkin_url(activity.id))


# --------------------------------------------------------------------------- walk-ins

def _walk_in_form(activity: Activity) -> WalkInForm:
    form = WalkInForm()
    form.slot_id.choices = slot_choices(activity.slots)
    return form


def _answers_from(form_data, activity: Activity) -> dict:
    answers = {}
    for question in activity.questions:
        key = f"q{question.id}"
        if question.kind == QuestionKind.MULTIPLE_CHOICE:
            answers[key] = form_data.getlist(key)
        else:
            answers[key] = form_data.get(key, "")
    return answers


@bp.route("/activities/<int:activity_id>/walk-in", methods=["GET", "POST"])
@role_required(ORGANISER)
def walk_in(activity_id: int):
    activity = load_activity(activity_id, ORGANISER)
    form = _walk_in_form(activity)
    if request.method == "GET" and request.args.get("return_to") == "roster":
        form.return_to.data = "roster"
    question_errors: dict[str, list[str]] = {}
    answers = _answers_from(request.form, activity) if request.method == "POST" else {}
    if form.validate_on_submit():
        try:
            result = services.walk_in(activity.id, mobile=form.mobile.data, name=form.name.data, actor=current_actor(),
                                      slot_id=form.slot_id.data or None, answers=answers,
                                      check_in_now=bool(form.check_in_now.data),
                                      full_override_reason=form.full_override_reason.data)
        except ValidationFailed as error:
            for key, messages in error.errors.items():
                if key in form._fields:
                    form[key].errors = list(form[key].errors) + [str(m) for m in messages]
                else:
                    question_errors[key] = [str(m) for m in messages]
        except services.ActivityFull as error:  # full, no waiting list, no override: say how to admit anyway
            form.full_override_reason.errors = list(form.full_override_reason.errors) + [str(error.message)]
        except DomainError as error:
            form.mobile.errors = list(form.mobile.errors) + [str(error.message)]
        else:
            _flash_walk_in(result)
            if form.return_to.data == "roster":
                return redirect(url_for(".roster", activity_id=activity.id))
            return redirect(_checkin_url(activity.id))
    status = 422 if request.method == "POST" else 200
    return render_template("registrations/manage/walk_in.html", activity=activity, form=form,
                           activity_full=activity.places_left <= 0, answers=answers, question_errors=question_errors, QuestionKind=QuestionKind), status


def _flash_walk_in(result: services.WalkInResult) -> None:
    registration = result.registration
    name = registration.user.name
    if result.existing_registration:
        flash(_("%(name)s was already registered (%(state)s).", name=name, state=registration.state.title), "info")
    elif result.created_account:
        flash(_("Registered %(name)s (%(state)s). A new account was made; the worker logs in "
                "with a code sent by SMS to their mobile number.", name=name, state=registration.state.title), "success")
    else:
        flash(_("Registered %(name)s (%(state)s).", name=name, state=registration.state.title), "success")
    if result.over_capacity:
        flash(_("Admitted over capacity: %(name)s. One place was added; the reason is recorded.", name=name),
              "success")
    if result.checked_in:
        flash(_("Checked in: %(name)s.", name=name), "success")
    elif result.check_in_refused:
        flash(result.check_in_refused, "error")


# --------------------------------------------------------------------------- offline door (JSON for the page's script)

@bp.route("/activities/<int:activity_id>/checkin/roster.json")
@role_required(ORGANISER)
def checkin_roster(activity_id: int):
    """The door page's offline copy of the roster (session + organiser scope; the same minimal fields as
    ``GET /api/v1/activities/<id>/registrations``): ticket digests, names, last four digits, states, and
    ``keep_until``, when the phone must drop the copy (static/js/logout-guard.js)."""
    activity = load_activity(activity_id, ORGANISER)
    rows = [{
        "registration_id": row.id,
        "token_digest": services.ticket_digest(row.ticket_secret),
        "name": row.name,
        "mobile_last4": row.mobile[-4:],
        "state": row.state.value,
        "state_title": row.state.title,
        "checked_in_at": row.checked_in_at.isoformat() + "Z" if row.checked_in_at else None,
    } for row in queries.scanner_rows(activity.id)]
    keep_until = queries.door_copy_keep_until(activity.ends_at)
    response = jsonify({"activity_id": activity.id, "fetched_at": now().isoformat() + "Z",
                        "keep_until": keep_until.isoformat() + "Z", "rows": rows})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/activities/<int:activity_id>/checkin/sync", methods=["POST"])
@role_required(ORGANISER)
def checkin_sync(activity_id: int):
    """One check-in recorded offline by the door page (JSON, CSRF token in the X-CSRFToken header).

    Body: ``{"client_id": "<uuid>", "registration_id": 12}`` (or ``"token"`` for a typed ticket code),
    optionally ``"recorded_at"`` (when the phone recorded it: the check-in window is judged then) and
    ``"override_reason"`` (the door page's "check in anyway" outside the window).
    Sending it again answers the same and changes nothing."""
    activity = load_activity(activity_id, ORGANISER)
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    try:
        client_id = str(uuid.UUID(str(body.get("client_id", ""))))
    except ValueError:
        return _json_error("client_id", _("The request id is missing or not valid."), 422)
    registration_id = body.get("registration_id")
    if isinstance(registration_id, int) and not -MAX_ID <= registration_id <= MAX_ID:
        registration_id = 0  # beyond the id range: no such registration (the driver would overflow)
    token = body.get("token")
    if not (isinstance(registration_id, int) and not isinstance(registration_id, bool)) \
            and not (isinstance(token, str) and token.strip()):
        return _json_error("registration", _("Say who is checked in: a registration or a ticket code."), 422)
    recorded_at = body.get("recorded_at")
    if recorded_at is not None:
        recorded_at = _parse_recorded_at(recorded_at)
        if recorded_at is None:
            return _json_error("recorded_at", _("The recorded time is not a valid date and time."), 422)
    try:
        override_reason = body.get("override_reason")
        result = services.check_in_offline(activity.id, current_actor(), client_id=client_id,
                                           registration_id=registration_id if isinstance(registration_id, int)
                                           else None, token=token, recorded_at=recorded_at,
                                           override_reason=override_reason if isinstance(override_reason, str)
                                           else None)
    except ValidationFailed as error:
        message = " ".join(str(m) for messages in error.errors.values() for m in messages) or str(error.message)
        return _json_error(error.code, message, error.http_status)
    except DomainError as error:
        return _json_error(error.code, str(error.message), error.http_status)
    registration = result.registration
    return jsonify({"status": "ok", "registration_id": registration.id, "name": registration.user.name,
                    "state": registration.state.value, "state_title": registration.state.title,
                    "already_checked_in": result.already,
                    "replay": result.replay})


def _parse_recorded_at(value):
    """The phone's ISO 8601 time (``new Date().toISOString()``) as naive UTC; None if not one."""
    from datetime import timezone

    from ..core.timeutil import local_to_utc

    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            return local_to_utc(parsed)  # as the API: a time without an offset is Beijing time
        return parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None


def _json_error(code: str, message: str, status: int):
    return jsonify({"status": "conflict" if status == 409 else "error", "code": code, "message": message}), status
