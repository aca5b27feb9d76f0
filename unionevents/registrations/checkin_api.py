"""Organiser API for a scanner app: check-in by ticket (idempotent, offline-replay safe), the scanner's
roster cache, and creating an activity.  Bearer tokens only (CSRF-exempt in ``core.api``)."""
from __future__ import annotations

from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, validates_schema

from ..accounts.models import Role
from ..activities.models import Activity, ActivityKind, SignupMode, Visibility
from ..activities import services as activity_services
from ..core import api_fields as fields, api_validate as validate
from ..core.api import ApiSchema, UtcDateTime, api_errors, require_api_user, token_required
from ..core.db import MAX_ID, write_transaction
from ..core.errors import NotAllowed, NotFound, ValidationFailed
from ..core.permissions import has_role
from ..extensions import db
from ..unions.models import UnionNode
from . import queries, services

blp = Blueprint("api_checkin", __name__, url_prefix="/api/v1", description="Check-in and organiser tools")

MSG_NOT_ORGANISER = _l("Only organisers can do this.")
MSG_OUT_OF_SCOPE = _l("You do not organise this activity.")


def _organiser():
    user = require_api_user()
    if not has_role(user, Role.ORGANISER):
        raise NotAllowed(MSG_NOT_ORGANISER)
    return user


# --------------------------------------------------------------------------- check-in

class CheckInRequest(ApiSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "The code in the ticket's QR code."})
    client_id = fields.UUID(load_default=None, metadata={
        "description": "A UUID the device makes per check-in; sending it again changes nothing."})
    activity_id = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "The activity checked in at this door; a ticket of another one is refused (409)."})
    override_reason = fields.String(load_default=None, validate=validate.Length(max=200), metadata={
        "description": "Check in outside the check-in window (before it opens or after the end) for this "
                       "reason, recorded on the registration. Blank is refused (422); inside the window it "
                       "is ignored."})
    recorded_at = UtcDateTime(load_default=None, metadata={
        "description": "When an offline scanner recorded the check-in: the check-in window is judged at "
                       "this time and it becomes checked_in_at. Not in the future (5 min clock skew), at "
                       "most CHECKIN_RECORDED_MAX_AGE_HOURS (24) old; else 422."})


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
    @api_errors(blp, 401, 403, 404, 409, 422, c403="Not an organiser of the ticket's activity",
                c404="Unknown ticket",
                c409="Cannot be checked in (cancelled, waiting list ...), outside the check-in window "
                     "(code checkin_not_open or checkin_closed), another activity's ticket, or the client "
                     "id was used for another ticket")
    def post(self, body):
        """Check in by ticket. Idempotent: the same ticket or the same client_id twice is one check-in.

        A replayed client_id is authorised like a new request. Check-in opens 2 h before the start (a
        time-slot ticket: 30 min before its slot) and closes at the end; outside that an organiser may
        send ``override_reason``."""
        user = _organiser()
        client_id = str(body["client_id"]) if body.get("client_id") else None
        return services.check_in_ticket(body["token"], user, activity_id=body.get("activity_id"),
                                        client_id=client_id, override_reason=body.get("override_reason"),
                                        recorded_at=body.get("recorded_at"))


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
        user = _organiser()
        activity = db.session.get(Activity, activity_id)
        if activity is None:
            raise NotFound(_l("This activity does not exist."))
        if not has_role(user, Role.ORGANISER, node=activity.node):
            raise NotAllowed(MSG_OUT_OF_SCOPE)
        return queries.scanner_rows(activity.id)


# --------------------------------------------------------------------------- create an activity

def _enum_field(enum_cls, **kwargs):
    return fields.Enum(enum_cls, by_value=True, **kwargs)


class ActivityCreate(ApiSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = _enum_field(ActivityKind, required=True)
    node_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    venue = fields.String(load_default="", validate=validate.Length(max=200))
    starts_at = UtcDateTime(required=True)
    ends_at = UtcDateTime(required=True)
    signup_opens_at = UtcDateTime(required=True)
    signup_closes_at = UtcDateTime(required=True)
    cancel_cutoff_at = UtcDateTime(load_default=None, allow_none=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100000))
    mode = _enum_field(SignupMode, load_default=SignupMode.FIRST_COME)
    visibility = _enum_field(Visibility, load_default=Visibility.PUBLIC)
    waitlist_enabled = fields.Boolean(load_default=True)
    members_only = fields.Boolean(load_default=False)
    publish = fields.Boolean(load_default=False)

    @validates_schema
    def _times(self, data, **kwargs):
        if "starts_at" in data and "ends_at" in data and data["ends_at"] < data["starts_at"]:
            raise ValidationError(str(_l("The activity must end after it starts.")), field_name="ends_at")


class ActivityCreated(Schema):
    id = fields.Integer()
    title = fields.String()
    kind = fields.Function(lambda a: a.kind.value)
    node_id = fields.Integer()
    status = fields.Function(lambda a: a.status.value)
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    capacity = fields.Integer()


@blp.route("/activities")
class ActivityCreateView(MethodView):
    decorators = [token_required]

    @blp.arguments(ActivityCreate())
    @blp.response(201, ActivityCreated)
    @api_errors(blp, 401, 403, 422, c403="Not an organiser of that union")
    def post(self, body):
        """Create an activity (a draft unless ``publish``) for a union the organiser's scope covers."""
        user = _organiser()
        node = db.session.get(UnionNode, body["node_id"])
        if node is not None and not has_role(user, Role.ORGANISER, node=node):
            raise NotAllowed(_l("You do not organise activities for this union."))
        publish_now = body.pop("publish")
        # The same service as the organiser's web form: scope, field rules and audit in one place.
        activity = activity_services.create_managed_activity(user, activity_services.ActivityData(**body))
        if publish_now:
            activity = activity_services.publish(user, activity.id)
        return activity
