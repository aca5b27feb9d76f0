"""Organiser API for a scanner app: check-in by ticket (idempotent, offline-replay safe) and the
scanner's roster cache (creating an activity is in ``activities.api``).  Bearer tokens only (CSRF-exempt
in ``core.api``)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, validates_schema

from ..access import load_activity, require_any_role
from ..accounts.models import Role
from ..core import api_fields as fields, api_validate as validate
from ..core.api import ApiSchema, UtcDateTime, api_errors, require_api_user, token_required
from ..core.db import MAX_ID
from . import door_limits, queries, rules, services

blp = Blueprint("api_checkin", __name__, url_prefix="/api/v1", description="Check-in and organiser tools")


def _organiser():
    """The token's user, if an organiser somewhere (403 otherwise); the route's scope is then checked by
    the ``access`` loader or the service."""
    return require_any_role(Role.ORGANISER, user=require_api_user())


# --------------------------------------------------------------------------- check-in

class CheckInRequest(ApiSchema):
    token = fields.String(validate=validate.Length(min=1, max=200),
                          metadata={"description": "The code in the ticket's QR code. Send it or `code`."})
    code = fields.String(validate=validate.Length(min=1, max=20), metadata={
        "description": "The short ticket code printed under the QR code (8 characters; spaces, dashes and "
                       "lower case are accepted), typed when the QR code cannot be scanned. Needs "
                       "`activity_id`. Unknown codes are counted per token: past CHECKIN_CODE_GUESS_LIMIT "
                       "(20 per 5 minutes) code requests answer 429 until the window ends; QR tokens are "
                       "never limited."})
    client_id = fields.UUID(load_default=None, metadata={
        "description": "A UUID the device makes per check-in; sending it again changes nothing."})
    activity_id = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "The activity checked in at this door; a ticket of another one is refused (409)."})
    override_reason = fields.String(load_default=None, validate=validate.Length(max=rules.OVERRIDE_REASON_MAX),
                                    metadata={
        "description": "Check in outside the check-in window (before it opens or after the end) for this "
                       "reason, recorded on the registration. Blank is refused (422); inside the window it "
                       "is ignored."})
    recorded_at = UtcDateTime(load_default=None, metadata={
        "description": "When an offline scanner recorded the check-in: the check-in window is judged at "
                       "this time and it becomes checked_in_at. Not in the future (5 min clock skew), at "
                       "most CHECKIN_RECORDED_MAX_AGE_HOURS (24) old; else 422."})


    @validates_schema
    def _token_or_code(self, data, **_kwargs):
        if (data.get("token") is None) == (data.get("code") is None):
            raise ValidationError(_("Send either the QR code's token or the ticket code."), field_name="token")
        if data.get("code") is not None and data.get("activity_id") is None:
            raise ValidationError(_("A ticket code needs the activity it is checked in at."),
                                  field_name="activity_id")


class CheckInResponse(Schema):
    registration_id = fields.Integer(attribute="registration.id")
    activity_id = fields.Integer(attribute="registration.activity_id")
    state = fields.Function(lambda r: r.registration.state.value)
    name = fields.Function(lambda r: r.registration.user.name)
    mobile_last4 = fields.Function(lambda r: r.registration.user.mobile[-4:])
    slot_id = fields.Integer(attribute="registration.slot_id", allow_none=True)
    checked_in_at = UtcDateTime(attribute="registration.checked_in_at", allow_none=True)
    already_checked_in = fields.Boolean(attribute="already")
    replay = fields.Boolean()


@blp.route("/checkins")
class CheckIns(MethodView):
    decorators = [token_required]

    @blp.arguments(CheckInRequest())
    @blp.response(200, CheckInResponse)
    @api_errors(blp, 401, 403, 404, 409, 422, 429, c403="Not an organiser of the ticket's activity",
                c404="Unknown ticket or ticket code (or, with a code, no such activity)",
                c429="Too many unknown ticket codes from this token; QR tokens still work",
                c409="Cannot be checked in (cancelled, waiting list ...), outside the check-in window "
                     "(code checkin_not_open or checkin_closed), another activity's ticket, or the client "
                     "id was used for another ticket")
    @door_limits.code_guesses
    def post(self, body):
        """Check in by ticket (the QR code's token) or by the short code under it (with activity_id). Idempotent: the same ticket or the same client_id twice is one check-in.

        A replayed client_id is authorised like a new request. Check-in opens 2 h before the start (a
        time-slot ticket: 30 min before its slot) and closes at the end; outside that an organiser may
        send ``override_reason``."""
        user = _organiser()
        client_id = str(body["client_id"]) if body.get("client_id") else None
        how = dict(client_id=client_id, override_reason=body.get("override_reason"),
                   recorded_at=body.get("recorded_at"))
        if body.get("code") is not None:
            try:
                return services.check_in_code(body["activity_id"], body["code"], user, **how)
            except services.UnknownTicketCode:
                door_limits.note_miss()
                raise
        return services.check_in_ticket(body["token"], user, activity_id=body.get("activity_id"), **how)


class UndoResponse(Schema):
    registration_id = fields.Integer(attribute="id")
    activity_id = fields.Integer()
    state = fields.Function(lambda r: r.state.value)


@blp.route("/activities/<int:activity_id>/checkins/<int:registration_id>")
class CheckInUndo(MethodView):
    decorators = [token_required]

    @blp.response(200, UndoResponse)
    @api_errors(blp, 401, 403, 404, 409, c403="Not an organiser of this activity",
                c404="No such activity, or no such registration in it",
                c409="Checked in longer ago than CHECKIN_UNDO_MINUTES (10; code undo_too_late), or changed by "
                     "someone else meanwhile")
    def delete(self, activity_id: int, registration_id: int):
        """Undo a check-in made at the door a moment ago (within CHECKIN_UNDO_MINUTES, 10 minutes).

        The registration goes back to confirmed; the audit records who undid it and when. Undoing one that
        is not checked in changes nothing."""
        activity = load_activity(activity_id, Role.ORGANISER, user=_organiser())
        return services.undo_door_check_in(activity.id, registration_id, require_api_user())


# --------------------------------------------------------------------------- scanner roster

class ScannerRow(Schema):
    registration_id = fields.Integer(attribute="id")
    token_digest = fields.Function(lambda r: services.ticket_digest(r.ticket_secret),
                                   metadata={"description": "SHA-256 (hex) of the ticket code."})
    name = fields.String()
    mobile_last4 = fields.Function(lambda r: r.mobile[-4:])
    state = fields.Function(lambda r: r.state.value)
    slot_id = fields.Integer(allow_none=True)
    checked_in_at = UtcDateTime(allow_none=True)


@blp.route("/activities/<int:activity_id>/registrations")
class ScannerRoster(MethodView):
    decorators = [token_required]

    @blp.response(200, ScannerRow(many=True))
    @api_errors(blp, 401, 403, 404, c403="Not an organiser of this activity", c404="No such activity")
    def get(self, activity_id: int):
        """Every registration of the activity, for a scanner to cache: token digests, names, the last four
        mobile digits and states only."""
        activity = load_activity(activity_id, Role.ORGANISER, user=_organiser())
        return queries.scanner_rows(activity.id)
