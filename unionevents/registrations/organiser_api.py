"""Read-only organiser API: a meeting's seating chart and the live door dashboard's figures — the same
answers as the HTML pages (``seating.seating_chart``, ``door_queries.door_board``), with the same access:
an organiser whose scope covers the activity (``access.load_activity``).  Bearer tokens only."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from ..access import load_activity, require_any_role
from ..accounts.models import Role
from ..activities.models import ActivityKind
from ..core import api_fields as fields
from ..core.api import UtcDateTime, api_errors, require_api_user, token_required
from . import door_queries
from .services import seating

blp = Blueprint("api_organiser", __name__, url_prefix="/api/v1",
                description="Organiser read-outs: seating chart, door dashboard")


def _organiser():
    return require_any_role(Role.ORGANISER, user=require_api_user())


# --------------------------------------------------------------------------- seating chart

class SeatRef(Schema):
    row = fields.Integer()
    seat = fields.Integer()


class ChartUnit(Schema):
    index = fields.Integer(allow_none=True, metadata={
        "description": "The unit's number in the legend (its colour on the chart); null: delegates without "
                       "a unit quota."})
    name = fields.String()
    quota = fields.Integer(metadata={"description": "Seats in the unit's block."})
    seated = fields.Integer(metadata={"description": "Delegates holding a place seated in the block."})
    first = fields.Nested(SeatRef, allow_none=True)
    last = fields.Nested(SeatRef, allow_none=True)


class ChartSeatOut(Schema):
    row = fields.Integer()
    seat = fields.Integer()
    unit_index = fields.Integer(allow_none=True)
    name = fields.String(metadata={"description": "The delegate's name; empty for a free seat."})


class SeatingChartOut(Schema):
    activity_id = fields.Integer()
    rows = fields.Integer(allow_none=True, metadata={"description": "null until the hall's layout is set."})
    seats_per_row = fields.Integer(allow_none=True)
    assigned_at = UtcDateTime(allow_none=True, metadata={"description": "When seats were last assigned."})
    without_seat = fields.Integer(metadata={"description": "Delegates holding a place but not seated yet."})
    units = fields.List(fields.Nested(ChartUnit))
    seats = fields.List(fields.Nested(ChartSeatOut), metadata={"description": "Every seat, row by row."})


def _chart(activity_id: int) -> dict:
    chart = seating.seating_chart(activity_id)
    if chart is None:
        return {"activity_id": activity_id, "rows": None, "seats_per_row": None, "assigned_at": None,
                "without_seat": 0, "units": [], "seats": []}
    return {"activity_id": activity_id, "rows": chart.rows, "seats_per_row": chart.seats_per_row,
            "assigned_at": chart.assigned_at, "without_seat": chart.without_seat,
            "units": [{"index": e.index, "name": e.name, "quota": e.quota, "seated": e.seated,
                       "first": e.first, "last": e.last} for e in chart.legend],
            "seats": [{"row": r, "seat": s.seat, "unit_index": s.unit_index, "name": s.name}
                      for r, row in enumerate(chart.grid, start=1) for s in row]}


@blp.route("/activities/<int:activity_id>/seating")
class SeatingChart(MethodView):
    decorators = [token_required]

    @blp.response(200, SeatingChartOut)
    @api_errors(blp, 401, 403, 404, c403="Not an organiser of this activity",
                c404="No such activity, or it is not a meeting")
    def get(self, activity_id: int):
        """A meeting's delegation seating: the hall, each unit's block and who sits where (names only)."""
        activity = load_activity(activity_id, Role.ORGANISER, kind=ActivityKind.MEETING, user=_organiser())
        return _chart(activity.id)


# --------------------------------------------------------------------------- door dashboard

class DoorLine(Schema):
    key = fields.String()
    label = fields.String(metadata={"description": "Who checked people in at this door (empty: roster or "
                                                   "walk-in); empty for a slot."})
    checked_in = fields.Integer()
    expected = fields.Integer(allow_none=True, metadata={"description": "A slot's places held; null for a door."})
    percent = fields.Integer(allow_none=True)
    at = UtcDateTime(allow_none=True, metadata={"description": "A door: its last check-in; a slot: its start."})


class DoorBoardOut(Schema):
    activity_id = fields.Integer()
    at = UtcDateTime(metadata={"description": "When the figures were read."})
    checked_in = fields.Integer()
    expected = fields.Integer(metadata={"description": "Places held (confirmed or attended)."})
    percent = fields.Integer(allow_none=True)
    recent = fields.Integer(metadata={"description": "Check-ins in the last RECENT_MINUTES (10) minutes."})
    doors = fields.List(fields.Nested(DoorLine))
    slots = fields.List(fields.Nested(DoorLine))


@blp.route("/activities/<int:activity_id>/door-dashboard")
class DoorDashboard(MethodView):
    decorators = [token_required]

    @blp.response(200, DoorBoardOut)
    @api_errors(blp, 401, 403, 404, c403="Not an organiser of this activity", c404="No such activity")
    def get(self, activity_id: int):
        """The live door dashboard's figures: checked in / expected, per door and per time slot."""
        activity = load_activity(activity_id, Role.ORGANISER, user=_organiser())
        board = door_queries.door_board(activity.id)
        return {"activity_id": activity.id, "at": board.at, "checked_in": board.checked_in,
                "expected": board.expected, "percent": board.percent, "recent": board.recent,
                "doors": board.doors, "slots": board.slots}
