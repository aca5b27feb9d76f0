"""Activities API: the catalogue and one activity, for phone apps; creating one, for organisers' tools.

The handlers only parse input and call the same services as the HTML pages:
``queries.catalogue`` for the list and ``registrations.services.signup_state``
for what the viewer may do.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_babel import gettext as _, lazy_gettext as _l
from marshmallow import Schema, ValidationError, validates_schema

from ..core import api_fields as fields, api_validate as validate
from ..core.api import (
    OPTIONAL_TOKEN_SECURITY, ApiSchema, PaginationSchema, UtcDateTime, api_errors, optional_api_user,
    require_api_user, token_required,
)
from ..access import holds, load_visible_activity, require_any_role
from ..accounts.models import Role
from ..core.db import MAX_ID
from ..core.errors import NotAllowed
from ..core.permissions import public
from ..extensions import db
from ..unions.models import UnionNode
from . import queries, services
from .models import ActivityKind, SignupMode, Visibility
from .services import DESCRIPTION_MAX, MAX_CAPACITY, TITLE_MAX, VENUE_MAX

blp = Blueprint("api_activities", __name__, url_prefix="/api/v1", description="Activities")


class NodeSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class ActivitySchema(Schema):
    """An activity as listed in the catalogue."""

    id = fields.Integer()
    title = fields.String()
    kind = fields.Function(lambda a: a.kind.value)
    kind_title = fields.Function(lambda a: a.kind.title)
    organiser = fields.Nested(NodeSchema, attribute="node")
    venue = fields.String()
    district = fields.String(allow_none=True)
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    signup_opens_at = UtcDateTime()
    signup_closes_at = UtcDateTime()
    capacity = fields.Integer()
    places_left = fields.Integer()
    waitlist_enabled = fields.Boolean()
    mode = fields.Function(lambda a: a.mode.value)
    mode_title = fields.Function(lambda a: a.mode.title)
    members_only = fields.Boolean()


class QuestionSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    kind = fields.Function(lambda q: q.kind.value)
    required = fields.Boolean()
    choices = fields.Function(lambda q: q.choice_list())


class SlotSchema(Schema):
    id = fields.Integer()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    capacity = fields.Integer()
    places_left = fields.Integer()


class SignupStateSchema(Schema):
    """What the viewer (the token's owner, or an anonymous visitor) may do now."""

    can_sign_up = fields.Boolean()
    reasons = fields.List(fields.String(), metadata={"description": "Why not, in plain words (translated)."})
    will_be_waitlisted = fields.Boolean()
    registration_id = fields.Function(
        lambda s: s.existing.id if s.existing is not None else None, allow_none=True,
        metadata={"description": "The viewer's live registration for this activity, if any."})
    registration_state = fields.Function(
        lambda s: s.existing.state.value if s.existing is not None else None, allow_none=True)


class ActivityDetailSchema(ActivitySchema):
    description = fields.String()
    cancel_cutoff_at = UtcDateTime(allow_none=True)
    window = fields.String(attribute="state.window",
                           metadata={"description": "Sign-up window: not_open, open or closed."})
    waitlist_length = fields.Integer(attribute="state.waitlist_length")
    places_left = fields.Integer(attribute="state.places_left")
    questions = fields.List(fields.Nested(QuestionSchema))
    slots = fields.List(fields.Nested(SlotSchema))
    signup = fields.Nested(SignupStateSchema, attribute="state")


class ActivityPageSchema(Schema):
    items = fields.List(fields.Nested(ActivitySchema))
    pagination = fields.Nested(PaginationSchema)


class CatalogueArgs(ApiSchema):
    """The catalogue's filters, as on the HTML page."""

    kind = fields.String(validate=validate.OneOf([k.value for k in ActivityKind]))
    node = fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                          metadata={"description": "A union node id; its whole subtree is included."})
    district = fields.String(validate=validate.Length(max=queries.MAX_DISTRICT_LENGTH))
    date_from = fields.Date(data_key="from", metadata={"description": "Starting on or after (local date)."})
    date_to = fields.Date(data_key="to", metadata={"description": "Starting on or before (local date)."})
    open_now = fields.Boolean(load_default=False, metadata={"description": "Sign-up open now."})
    places_left = fields.Boolean(load_default=False, metadata={"description": "Places still free."})
    eligible = fields.Boolean(load_default=False,
                              metadata={"description": "Only what the token's owner may sign up for "
                                                       "(needs a token)."})
    q = fields.String(validate=validate.Length(max=queries.MAX_SEARCH_LENGTH),
                   metadata={"description": "Words in the title."})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=queries.MAX_PAGE),
                          metadata={"description": "A page past the end answers with the last page."})
    per_page = fields.Integer(load_default=queries.DEFAULT_PAGE_SIZE,
                              validate=validate.Range(min=1, max=queries.MAX_PAGE_SIZE))

    @validates_schema
    def _dates_ordered(self, data, **_kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError(str(_("The end date is before the start date.")), "to")


class ActivityDetailView:
    """An activity with the viewer's sign-up state, for ``ActivityDetailSchema``."""

    def __init__(self, activity, state):
        self._activity = activity
        self.state = state

    def __getattr__(self, name):
        return getattr(self._activity, name)


@blp.route("/activities")
class ActivityList(MethodView):
    decorators = [public]

    @blp.doc(security=OPTIONAL_TOKEN_SECURITY)
    @blp.arguments(CatalogueArgs(), location="query", as_kwargs=True)
    @blp.response(200, ActivityPageSchema)
    @api_errors(blp, 401, c401="A token was sent but is not valid, or `eligible` was asked without one.")
    def get(self, page: int, per_page: int, **filters):
        """Published activities with the catalogue's filters, soonest first, one page at a time."""
        user = require_api_user() if filters.get("eligible") else optional_api_user()
        if filters.get("kind"):
            filters["kind"] = ActivityKind(filters["kind"])
        if "node" in filters:
            filters["node_id"] = filters.pop("node")
        result = queries.catalogue(queries.CatalogueFilters(**filters, page=page, per_page=per_page), user)
        return {
            "items": result.items,
            "pagination": {"page": result.page, "per_page": result.per_page,
                           "total": result.total, "pages": result.pages},
        }


@blp.route("/activities/<int:activity_id>")
class ActivityDetail(MethodView):
    decorators = [public]

    @blp.doc(security=OPTIONAL_TOKEN_SECURITY)
    @blp.response(200, ActivityDetailSchema)
    @api_errors(blp, 401, 404, c401="A token was sent but is not valid, or the activity is by invitation "
                                     "only and no token was sent",
                c404="No such activity, or one by invitation only that the token's user may not see")
    def get(self, activity_id: int):
        """One published activity: places, waiting list, window and what the viewer may do."""
        from ..registrations.services import signup_state

        user = optional_api_user()
        activity = load_visible_activity(activity_id, user=user)  # invitation only: 401 / 404
        return ActivityDetailView(activity, signup_state(user, activity))


# --------------------------------------------------------------------------- create an activity

def _enum_field(enum_cls, **kwargs):
    return fields.Enum(enum_cls, by_value=True, **kwargs)


class ActivityCreate(ApiSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=TITLE_MAX))
    kind = _enum_field(ActivityKind, required=True)
    node_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    description = fields.String(load_default="", validate=validate.Length(max=DESCRIPTION_MAX))
    venue = fields.String(load_default="", validate=validate.Length(max=VENUE_MAX))
    starts_at = UtcDateTime(required=True)
    ends_at = UtcDateTime(required=True)
    signup_opens_at = UtcDateTime(required=True)
    signup_closes_at = UtcDateTime(required=True)
    cancel_cutoff_at = UtcDateTime(load_default=None, allow_none=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_CAPACITY))
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
        user = require_any_role(Role.ORGANISER, user=require_api_user())
        node = db.session.get(UnionNode, body["node_id"])  # a missing union: the service's 422
        if node is not None and not holds(user, [Role.ORGANISER], node=node):
            raise NotAllowed(_l("You do not organise activities for this union."))
        publish_now = body.pop("publish")
        # The same service as the organiser's web form: scope, field rules and audit in one place.
        activity = services.create_managed_activity(user, services.ActivityData(**body))
        if publish_now:
            activity = services.publish(user, activity.id)
        return activity


# --------------------------------------------------------------------------- a series and its dates

class SeriesInfo(Schema):
    id = fields.Integer()
    title = fields.String()
    whole_series_signup = fields.Boolean(metadata={"description": "Workers may sign up for every date at once."})


class OccurrenceSchema(Schema):
    id = fields.Integer()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    status = fields.Function(lambda a: a.status.value)
    capacity = fields.Integer()
    places_left = fields.Integer()


class SeriesOut(Schema):
    activity_id = fields.Integer()
    series = fields.Nested(SeriesInfo, allow_none=True, metadata={"description": "null: not part of a series."})
    occurrences = fields.List(fields.Nested(OccurrenceSchema), metadata={
        "description": "By date. The activity's organisers get every date (drafts and cancelled ones too, as "
                       "on the series page); anyone else the published dates, as on the activity page."})


@blp.route("/activities/<int:activity_id>/series")
class ActivitySeriesView(MethodView):
    decorators = [public]

    @blp.doc(security=OPTIONAL_TOKEN_SECURITY)
    @blp.response(200, SeriesOut)
    @api_errors(blp, 401, 404, c401="A token was sent but is not valid, or the activity is by invitation "
                                     "only and no token was sent",
                c404="No such activity, or one the token's user may not see")
    def get(self, activity_id: int):
        """The series an activity belongs to, with its dates."""
        from .services import series

        user = optional_api_user()
        activity = load_visible_activity(activity_id, user=user)
        if activity.series_id is None:
            return {"activity_id": activity.id, "series": None, "occurrences": []}
        dates = series.occurrences(activity.series_id) if holds(user, (Role.ORGANISER,), activity=activity) \
            else series.published_dates(activity.series_id)
        return {"activity_id": activity.id, "series": series.get_series(activity.series_id), "occurrences": dates}
