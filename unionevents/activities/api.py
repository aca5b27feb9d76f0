"""Activities API: the catalogue for phone apps."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..core.permissions import public
from . import services

blp = Blueprint("api_activities", __name__, url_prefix="/api/v1", description="Activities")


class NodeSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class ActivitySchema(Schema):
    id = fields.Integer()
    title = fields.String()
    kind = fields.Function(lambda a: a.kind.value)
    kind_title = fields.Function(lambda a: a.kind.title)
    organiser = fields.Nested(NodeSchema, attribute="node")
    venue = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    signup_opens_at = fields.DateTime()
    signup_closes_at = fields.DateTime()
    capacity = fields.Integer()
    places_left = fields.Integer()
    mode = fields.Function(lambda a: a.mode.value)


@blp.route("/activities")
class ActivityList(MethodView):
    decorators = [public]

    @blp.response(200, ActivitySchema(many=True))
    def get(self):
        """Upcoming published activities, soonest first."""
        return services.upcoming_activities(limit=50)


@blp.route("/activities/<int:activity_id>")
class ActivityDetail(MethodView):
    decorators = [public]

    @blp.response(200, ActivitySchema)
    def get(self, activity_id: int):
        """One published activity."""
        return services.get_visible_activity(activity_id)
