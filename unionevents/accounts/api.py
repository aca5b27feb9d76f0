"""Accounts API: a phone app trades a mobile number and password for a token."""
from __future__ import annotations

from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema

from ..core import api_fields as fields, api_validate as validate
from ..core.api import NO_SECURITY, ApiSchema, ApiUnauthorized, api_errors, require_api_user, token_required
from ..core.errors import json_error
from ..core.permissions import public
from . import services, throttle

blp = Blueprint("api_accounts", __name__, url_prefix="/api/v1", description="Accounts and tokens")


class TokenRequest(ApiSchema):
    mobile = fields.String(required=True, validate=validate.Length(min=1, max=32))
    password = fields.Password(required=True, validate=validate.Length(min=1, max=256))


class TokenResponse(Schema):
    token = fields.String(required=True)


class MeResponse(Schema):
    id = fields.Integer()
    name = fields.String()
    mobile = fields.String(attribute="masked_mobile")
    union = fields.Function(lambda user: user.union.name if user.union else None)
    occupation = fields.Function(lambda user: user.occupation.value)
    roles = fields.Function(lambda user: sorted({grant.role.value for grant in user.grants}))


class BadCredentials(ApiUnauthorized):
    default_message = _l("The mobile number or password is not correct.")


@blp.route("/tokens")
class Tokens(MethodView):
    # Failed logins per address (one count with the HTML login); guesses per account in password_login.
    decorators = [public, throttle.address_failures()]

    @blp.doc(security=NO_SECURITY)
    @blp.arguments(TokenRequest())
    @blp.response(201, TokenResponse)
    @api_errors(blp, 401, 429, c401="Unknown mobile or wrong password (the same answer for both).")
    def post(self, body):
        """Log in with mobile number and password; returns a new API token."""
        try:
            user = throttle.password_login(body["mobile"], body["password"])
        except throttle.LoginThrottled as error:
            response, status = json_error(429, error.message, code=error.code, retry_after=error.retry_after)
            response.status_code = status
            response.headers["Retry-After"] = str(error.retry_after)
            return response
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
