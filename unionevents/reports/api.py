"""Reports API: the dashboard's figures as JSON, for the unions in the token owner's officer scope."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from ..accounts.models import Role
from ..core import api_fields as fields
from ..core.api import ApiSchema, api_errors, require_api_user
from ..core.db import plan_each_run
from ..core.errors import ValidationFailed
from ..core.permissions import role_required
from . import queries

blp = Blueprint("api_reports", __name__, url_prefix="/api/v1", description="Officer reports")
blp.before_request(plan_each_run)  # reports read with plans made for their dates (core.db)


class ReportSummaryArgs(ApiSchema):
    node = fields.Integer(metadata={"description": "Union id (default: the top of your officer scope)"})
    from_ = fields.Date(data_key="from", metadata={"description": "First day, YYYY-MM-DD (default: 1 January of this year)"})
    to = fields.Date(metadata={"description": "Last day, inclusive (default: the end of next quarter)"})
    kind = fields.List(fields.String(), metadata={"description": "Activity kinds (repeat, or comma-separated)"})


class ReportNodeSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class ReportFiguresSchema(Schema):
    activities_held = fields.Integer()
    activities_cancelled = fields.Integer()
    registrations = fields.Integer()
    places = fields.Integer()
    attended = fields.Integer()
    no_show = fields.Integer()
    cancelled = fields.Integer()
    waitlisted = fields.Integer()
    pending = fields.Integer()
    nef_registrations = fields.Integer()
    unique_participants = fields.Integer(allow_none=True)
    unique_attendees = fields.Integer(allow_none=True)
    unique_nef = fields.Integer(allow_none=True)
    attendance_rate = fields.Float(allow_none=True)
    no_show_rate = fields.Float(allow_none=True)


class ReportChildSchema(Schema):
    node = fields.Nested(ReportNodeSchema)
    own = fields.Boolean(metadata={"description": "The chosen union's own activities (not a child's)"})
    figures = fields.Nested(ReportFiguresSchema)


class ReportKindSchema(Schema):
    kind = fields.Function(lambda pair: pair[0].value)
    figures = fields.Function(lambda pair: ReportFiguresSchema().dump(pair[1]))


class ReportMonthSchema(Schema):
    month = fields.String(attribute="label")
    figures = fields.Nested(ReportFiguresSchema)


class ReportTopSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    organiser = fields.String(attribute="node_name")
    kind = fields.Function(lambda t: t.kind.value)
    day = fields.Date()
    capacity = fields.Integer()
    places = fields.Integer()
    attended = fields.Integer()
    registrations = fields.Integer()


class ReportExtraSchema(Schema):
    key = fields.String()
    label = fields.Function(lambda figure: str(figure.label))
    value = fields.Float()


class ReportSummarySchema(Schema):
    node = fields.Function(lambda d: ReportNodeSchema().dump(d.filter.node))
    date_from = fields.Function(lambda d: d.filter.date_from.isoformat(), data_key="from")
    date_to = fields.Function(lambda d: d.filter.date_to.isoformat(), data_key="to")
    kinds = fields.Function(lambda d: [k.value for k in d.filter.kinds])
    totals = fields.Nested(ReportFiguresSchema)
    by_child = fields.List(fields.Nested(ReportChildSchema))
    by_kind = fields.List(fields.Nested(ReportKindSchema))
    by_month = fields.List(fields.Nested(ReportMonthSchema))
    top = fields.List(fields.Nested(ReportTopSchema))
    extras = fields.List(fields.Nested(ReportExtraSchema))
    unique_as_of = fields.Function(
        lambda d: None if d.freshness.settled_at is None or not d.freshness.waiting
        else d.freshness.settled_at.isoformat() + "Z",
        metadata={"description": "When changes wait to be counted in the unique counts (they are added within "
                                 "minutes): the time (UTC) those counts are as of; null when they are current"})


@blp.route("/reports/summary")
class Summary(MethodView):
    decorators = [role_required(Role.OFFICER)]

    @blp.arguments(ReportSummaryArgs(), location="query", unknown="exclude", as_kwargs=True)
    @blp.response(200, ReportSummarySchema)
    @api_errors(blp, 401, 403, 404, 422, c403="The union is outside your officer scope", c404="No such union")
    def get(self, **_parsed):
        """The report's figures for a union's subtree, a date range and activity kinds (as the dashboard)."""
        user = require_api_user()
        f, errors = queries.parse_filter(request.args, user)
        if errors:
            raise ValidationFailed(errors)
        return queries.dashboard(f)
