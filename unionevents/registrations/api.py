"""Registrations API: sign up, list my registrations, cancel.

Handlers parse the body, call one service from ``registrations.services`` (the
same ones the HTML pages use) and shape the reply; every rule lives there.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from ..access import load_visible_activity
from ..core import api_fields as fields, api_validate as validate
from ..core.api import ApiSchema, UtcDateTime, api_errors, current_api_user, token_required
from ..core.db import MAX_ID
from ..core.errors import DomainError
from . import services

blp = Blueprint("api_registrations", __name__, url_prefix="/api/v1", description="Registrations")

MAX_ANSWERS = 100


class SignupRequest(ApiSchema):
    slot_id = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1, max=MAX_ID),
                             metadata={"description": "Required for activities with time slots."})
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(max=20)), values=fields.Raw(allow_none=True),
        load_default=dict, validate=validate.Length(max=MAX_ANSWERS),
        metadata={"description": "Answers keyed by question id (as a string): text, number, "
                                 "choice, list of choices or true/false."},
    )
    consent = fields.Boolean(load_default=False,
                             metadata={"description": "Consent to the health notice (health services)."})


class RegistrationActivitySchema(Schema):
    id = fields.Integer()
    title = fields.String()
    kind = fields.Function(lambda a: a.kind.value)
    venue = fields.String()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()


class RegistrationSlotSchema(Schema):
    id = fields.Integer()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()


class RegistrationSchema(Schema):
    id = fields.Integer(required=True)
    state = fields.Function(lambda r: r.state.value, required=True,
                            metadata={"description": "pending, confirmed, waitlisted, rejected, not_drawn, "
                                                     "cancelled, attended or no_show"})
    state_title = fields.Function(lambda r: r.state.title)
    waitlist_position = fields.Integer(allow_none=True,
                                       metadata={"description": "1 = next in line; null unless waitlisted."})
    activity_id = fields.Integer()
    activity = fields.Nested(RegistrationActivitySchema)
    slot = fields.Nested(RegistrationSlotSchema, allow_none=True)
    answers = fields.Dict(keys=fields.String(), values=fields.Raw(), allow_none=True)
    ticket_code = fields.Function(
        lambda r: r.ticket_code if r.holds_place else None, allow_none=True,
        metadata={"description": "The short code printed under the ticket's QR code (8 characters from "
                                 "23456789ABCDEFGHJKMNPQRSTUVWXYZ), read out or typed at the door; null "
                                 "while the registration holds no place (waiting list, pending ...)."})
    created_at = UtcDateTime()
    checked_in_at = UtcDateTime(allow_none=True)
    offer_expires_at = UtcDateTime(allow_none=True, metadata={
        "description": "A place offered from the waiting list is held until then: accept it with "
                       "`POST /registrations/{id}/accept`, or it passes to the next in line. Null otherwise."})


class SignupReplySchema(RegistrationSchema):
    """The reply to a sign-up: the registration without the activity the client just sent it for."""

    class Meta:
        exclude = ("activity", "offer_expires_at")  # a new sign-up holds no offer


class RegistrationView:
    """A registration with its waiting-list position, for ``RegistrationSchema``."""

    def __init__(self, registration, position: int | None):
        self._registration = registration
        self.waitlist_position = position

    def __getattr__(self, name):
        return getattr(self._registration, name)


def _view(registration) -> RegistrationView:
    position = services.waitlist_position(registration) if registration.state.value == "waitlisted" else None
    return RegistrationView(registration, position)


@blp.route("/activities/<int:activity_id>/registrations")
class ActivityRegistrations(MethodView):
    decorators = [token_required]

    @blp.arguments(SignupRequest())  # instances throughout: given a class, webargs builds one per request
    @blp.response(201, SignupReplySchema)
    @api_errors(blp, 401, 403, 404, 409, c403="Not eligible (`code`: not_eligible).",
                c409="`already_registered` (with `registration_id`), `window_closed`, or `full` "
                     "(full and no waiting list).")
    def post(self, body, activity_id: int):
        """Sign the token's owner up: confirmed, waitlisted or pending, as the activity's rules decide."""
        user = current_api_user()
        try:
            registration = services.register(
                user, activity_id, slot_id=body["slot_id"], answers=body["answers"],
                health_consent=body["consent"],
            )
        except DomainError:
            # Invitation only: someone who may not see the activity gets the page's 404, whatever the
            # refusal (closed, cancelled, full, bad answers would each tell them it exists).
            load_visible_activity(activity_id, user=user)
            raise
        # The place in the queue as counted inside the sign-up's own transaction: not asked again.
        return RegistrationView(registration, registration.position_at_signup)


@blp.route("/me/registrations")
class MyRegistrations(MethodView):
    decorators = [token_required]

    @blp.response(200, RegistrationSchema(many=True))
    @api_errors(blp, 401)
    def get(self):
        """The token owner's registrations, newest first."""
        return [_view(r) for r in services.my_registrations(current_api_user())]


@blp.route("/registrations/<int:registration_id>")
class RegistrationDetail(MethodView):
    decorators = [token_required]

    @blp.response(200, RegistrationSchema)
    @api_errors(blp, 401, 404)
    def get(self, registration_id: int):
        """One of the token owner's registrations (404 for anyone else's)."""
        return _view(services.get_own_registration(current_api_user(), registration_id))


@blp.route("/registrations/<int:registration_id>/cancel")
class CancelRegistration(MethodView):
    decorators = [token_required]

    @blp.response(200, RegistrationSchema)
    @api_errors(blp, 401, 404, 409,
                c409="`cancel_closed` (after the cut-off) or `illegal_transition` (already ended).")
    def post(self, registration_id: int):
        """Cancel one of the token owner's registrations; a waiting-list place may move up."""
        user = current_api_user()
        own = services.get_own_registration(user, registration_id)  # 404 for anyone else's
        return _view(services.cancel(own.id, actor=user))


@blp.route("/registrations/<int:registration_id>/accept")
class AcceptOffer(MethodView):
    decorators = [token_required]

    @blp.response(200, RegistrationSchema)
    @api_errors(blp, 401, 404, 409, c409="`conflict`: no open offer (already accepted, cancelled) or it ran "
                                         "out and passed to the next in line.")
    def post(self, registration_id: int):
        """Take the place offered from the waiting list (the token owner's own registration)."""
        user = current_api_user()
        own = services.get_own_registration(user, registration_id)  # 404 for anyone else's
        return _view(services.accept_offer(own.id, user))
