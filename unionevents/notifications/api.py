"""The worker's inbox over the API: ``GET /api/v1/me/messages`` (a page, newest first) and
``POST /api/v1/me/messages/read`` (move the read mark).  Token auth, the token owner's own only."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from ..core import api_fields as fields, api_validate as validate
from ..core.api import ApiSchema, PaginationSchema, UtcDateTime, api_errors, current_api_user, token_required
from ..core.db import MAX_ID
from . import inbox as services

blp = Blueprint("api_notifications", __name__, url_prefix="/api/v1", description="My messages")


class MessageSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "What the message is about, e.g. `registration.confirmed`, "
                                                  "`reminder`, `contest.results`."})
    subject = fields.String()
    body = fields.String()
    created_at = UtcDateTime()
    sent_at = UtcDateTime(allow_none=True)
    delivery = fields.Function(lambda m: m.state.value, metadata={
        "description": "queued, sending, sent, failed (will retry) or dead (not delivered)."})
    unread = fields.Boolean()


class MessagePageSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    unread = fields.Integer(metadata={"description": "Unread messages in the whole inbox."})
    pagination = fields.Nested(PaginationSchema)


class MessageListArgs(ApiSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=services.MAX_PAGE),
                          metadata={"description": "A page past the end answers with the last page."})
    per_page = fields.Integer(load_default=services.PER_PAGE,
                              validate=validate.Range(min=1, max=services.MAX_PER_PAGE))


class MarkReadRequest(ApiSchema):
    up_to = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_ID),
                           metadata={"description": "Mark messages up to this id as read; all when left out."})


class MarkReadReply(Schema):
    read_up_to = fields.Integer()
    unread = fields.Integer()


@blp.route("/me/messages")
class MyMessages(MethodView):
    decorators = [token_required]

    @blp.arguments(MessageListArgs(), location="query", as_kwargs=True)
    @blp.response(200, MessagePageSchema)
    @api_errors(blp, 401)
    def get(self, page: int, per_page: int):
        """The token owner's messages, newest first (login codes left out)."""
        result = services.inbox(current_api_user().id, page, per_page)
        return {"items": result.messages, "unread": result.unread,
                "pagination": {"page": result.page, "per_page": result.per_page, "total": result.total,
                               "pages": result.pages}}


@blp.route("/me/messages/read")
class MarkRead(MethodView):
    decorators = [token_required]

    @blp.arguments(MarkReadRequest())
    @blp.response(200, MarkReadReply)
    @api_errors(blp, 401)
    def post(self, body):
        """Mark the token owner's messages as read, up to ``up_to`` (the mark never moves back)."""
        user_id = current_api_user().id
        mark = services.mark_read(user_id, body["up_to"])
        return {"read_up_to": mark, "unread": services.unread_count(user_id)}
