"""Accounts API: a phone app trades a mobile number and a password or an SMS code for a token.

``POST /api/v1/auth/sms-codes`` answers 202 with the same body whether or not the number has an
account (README "SMS codes"); only the caller's own send limits answer 429.
"""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_babel import gettext as _, lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, validates_schema

from ..core import api_fields as fields, api_validate as validate
from ..core.api import NO_SECURITY, ApiSchema, ApiUnauthorized, api_errors, require_api_user, token_required
from ..core.errors import ValidationFailed, json_error
from ..core.permissions import public
from . import codes, services, throttle
from .models import CodePurpose

blp = Blueprint("api_accounts", __name__, url_prefix="/api/v1", description="Accounts and tokens")


class TokenRequest(ApiSchema):
    mobile = fields.String(required=True, validate=validate.Length(min=1, max=32))
    password = fields.Password(validate=validate.Length(min=1, max=256),
                               metadata={"description": "The account's password (or give `code`)."})
    code = fields.Password(validate=validate.Length(min=1, max=12),
                           metadata={"description": "A login code from `POST /api/v1/auth/sms-codes` "
                                                    "(or give `password`)."})

    @validates_schema(skip_on_field_errors=False, pass_original=True)  # with the field errors, at once
    def _one_secret(self, data, original, **_kwargs):
        given = original if isinstance(original, dict) else {}
        if ("password" in given) == ("code" in given):
            raise ValidationError(_("Give either a password or an SMS code."), "password")


class TokenResponse(Schema):
    token = fields.String(required=True)


class SmsCodeRequest(ApiSchema):
    mobile = fields.String(required=True, validate=validate.Length(min=1, max=32),
                           metadata={"description": "A mainland mobile number (11 digits; +86 allowed)."})


class SmsCodeResponse(Schema):
    status = fields.String(required=True, metadata={"description": "Always `accepted`."})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds a code stays valid (300)."})
    resend_after = fields.Integer(required=True,
                                  metadata={"description": "Seconds before another code may be asked for."})


class MeResponse(Schema):
    id = fields.Integer()
    name = fields.String()
    mobile = fields.String(attribute="masked_mobile")
    union = fields.Function(lambda user: user.union.name if user.union else None)
    occupation = fields.Function(lambda user: user.occupation.value)
    roles = fields.Function(lambda user: sorted({grant.role.value for grant in user.grants}))


class BadCredentials(ApiUnauthorized):
    default_message = _l("The mobile number or password is not correct.")


class BadCode(ApiUnauthorized):
    default_message = codes.MSG_BAD_CODE


def _too_many(error):
    """429 with Retry-After, for the login guard and for the code-send limits alike."""
    response, status = json_error(429, error.message, code=error.code, retry_after=error.retry_after)
    response.status_code = status
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@blp.route("/auth/sms-codes")
class SmsCodes(MethodView):
    decorators = [public]

    @blp.doc(security=NO_SECURITY)
    @blp.arguments(SmsCodeRequest())
    @blp.response(202, SmsCodeResponse)
    @api_errors(blp, 422, 429, c429="This number or this address asked for too many codes (one per mobile "
                                    "per 60 s, daily caps per mobile and per address); see `Retry-After`.")
    def post(self, body):
        """Send a 6-digit login code by SMS (valid 5 minutes, dead after 5 wrong tries).

        202 with the same body whether or not the number has an account (a number without one is not
        texted); 429 only for the caller's own limits, which count every number alike.
        """
        try:
            codes.send_code(body["mobile"], CodePurpose.LOGIN, request.remote_addr)
        except codes.CodeRateLimited as error:
            return _too_many(error)
        return {"status": "accepted", "expires_in": int(codes.CODE_TTL.total_seconds()),
                "resend_after": int(current_app.config["SMS_CODE_RESEND_SECONDS"])}


@blp.route("/tokens")
class Tokens(MethodView):
    # Failed logins per address (one count with the HTML login); guesses per account in the throttle.
    decorators = [public, throttle.address_failures()]

    @blp.doc(security=NO_SECURITY)
    @blp.arguments(TokenRequest())
    @blp.response(201, TokenResponse)
    @api_errors(blp, 401, 422, 429, c401="Unknown mobile, wrong password, or a wrong, used or expired code "
                                         "(the same answer whether or not the number has an account).")
    def post(self, body):
        """Log in with mobile number and password, or with a code from `/auth/sms-codes`; returns a new
        API token.  Wrong passwords and wrong codes count in one budget per account."""
        try:
            if "code" in body:
                try:
                    user = throttle.code_login(body["mobile"], body["code"])
                except ValidationFailed:
                    raise BadCode() from None
            else:
                user = throttle.password_login(body["mobile"], body["password"])
        except throttle.LoginThrottled as error:
            return _too_many(error)
        if user is None:
            raise BadCredentials()
        return {"token": services.issue_token(user, "api")}


@blp.route("/me")
class Me(MethodView):
    decorators = [token_required]

    @blp.response(200, MeResponse)
    @api_errors(blp, 401)
    def get(self):
        """The account the bearer token belongs to."""
        return require_api_user()
