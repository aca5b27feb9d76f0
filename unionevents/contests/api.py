"""Contest entries API: an entrant's entries with their progress, and a performance entry by JSON.

Handlers parse, call one ``contests.services`` function (the same the HTML pages use) and shape
the reply.  Photos and recordings are files: they are uploaded through the entry form
(``multipart/form-data``), so a photo entry cannot be made here (422, ``photos``).
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from ..access import load_visible_contest
from ..core import api_fields as fields, api_validate as validate
from ..core.api import ApiSchema, UtcDateTime, api_errors, current_api_user, token_required
from ..core.masking import mask_mobile
from . import services
from .rules import MEMBER_LIMITS, MEMBER_NAME_MAX

blp = Blueprint("api_contests", __name__, url_prefix="/api/v1", description="Contest entries")

MOST_MEMBERS = max(most for _fewest, most in MEMBER_LIMITS.values())


class MemberIn(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=MEMBER_NAME_MAX))
    mobile = fields.String(required=True, validate=validate.Length(min=1, max=20))


class EntryRequest(ApiSchema):
    title = fields.String(required=True, validate=validate.Length(max=services.TITLE_MAX),
                          metadata={"description": "The song title (performance) or the work's title."})
    category = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(list(MEMBER_LIMITS)),
                             metadata={"description": "solo, group or choir (performance contests)."})
    team_leader = fields.String(load_default="", validate=validate.Length(max=services.NAME_MAX))
    members = fields.List(fields.Nested(MemberIn), load_default=list,
                          validate=validate.Length(max=MOST_MEMBERS + 1),
                          metadata={"description": "Group 2–10, choir 10–80 performers, each with a mainland "
                                                   "China mobile number; none for a solo."})
    description = fields.String(load_default="", validate=validate.Length(max=services.DESCRIPTION_MAX))
    consent_publish_name = fields.Boolean(load_default=False)


class StepSchema(Schema):
    title = fields.String()
    done = fields.Boolean()
    current = fields.Boolean()


class MemberOut(Schema):
    name = fields.String()
    mobile = fields.Function(lambda m: mask_mobile(m.mobile))


class EntrySchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String()
    title = fields.String()
    activity_id = fields.Function(lambda e: e.contest.activity_id)
    category = fields.Function(lambda e: e.category.value if e.category else None, allow_none=True)
    team_leader = fields.String(allow_none=True)
    members = fields.Function(lambda e: MemberOut(many=True).dump(e.performers))
    recording = fields.Function(lambda e: {"content_type": e.media_type, "size": e.media_size}
                                if e.media_name else None, allow_none=True)
    stage = fields.Function(lambda e: services.entry_progress(e).stage.value,
                            metadata={"description": "signed_up, submitted, preliminary, final or awarded"})
    stage_title = fields.Function(lambda e: services.entry_progress(e).stage_title)
    steps = fields.Function(lambda e: StepSchema(many=True).dump(services.entry_progress(e).steps))
    created_at = UtcDateTime()


@blp.route("/me/entries")
class MyEntries(MethodView):
    decorators = [token_required]

    @blp.response(200, EntrySchema(many=True))
    @api_errors(blp, 401)
    def get(self):
        """The token owner's contest entries, newest first, each with its progress."""
        return services.all_my_entries(current_api_user())


@blp.route("/me/entries/<int:entry_id>")
class MyEntry(MethodView):
    decorators = [token_required]

    @blp.response(200, EntrySchema)
    @api_errors(blp, 401, 404)
    def get(self, entry_id: int):
        """One of the token owner's entries with its progress (404 for anyone else's)."""
        return services.get_own_entry(current_api_user(), entry_id)


@blp.route("/contests/<int:activity_id>/entries")
class ContestEntries(MethodView):
    decorators = [token_required]

    @blp.arguments(EntryRequest())
    @blp.response(201, EntrySchema)
    @api_errors(blp, 401, 404, 409, 422, c409="`entries_locked`, `entry_limit`, or the sign-up's refusal "
                                               "(no place held).")
    def post(self, body, activity_id: int):
        """Submit an entry for the token owner, who must hold a place (a confirmed sign-up)."""
        user = current_api_user()
        load_visible_contest(activity_id)
        lines = "\n".join(f"{m['name']} {m['mobile']}" for m in body["members"])
        data = services.EntryData(title=body["title"], description=body["description"],
                                  category=body["category"], team_leader=body["team_leader"], members=lines,
                                  consent_publish_name=body["consent_publish_name"])
        return services.submit_entry(user, activity_id, data), 201
