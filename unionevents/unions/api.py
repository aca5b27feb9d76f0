"""Unions API: the tree as a list, for the sign-up picker and for other systems (public, decisions.md)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from ..core import api_fields as fields, api_validate as validate
from ..core.api import NO_SECURITY, ApiSchema, PaginationSchema
from ..core.db import MAX_ID
from ..core.permissions import public
from . import services

blp = Blueprint("api_unions", __name__, url_prefix="/api/v1", description="The union tree")


class UnionSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)
    level = fields.Integer(attribute="depth", metadata={"description": "Depth in the tree; the root is 0."})
    kind = fields.Function(lambda n: n.level.value, metadata={
        "description": "city (the federation), district, street (street or township), industry, workplace."})
    code = fields.String(allow_none=True, metadata={"description": "The federation's own code, if given."})
    path = fields.List(fields.String(), metadata={
        "description": "Names from the root down to this union (the last is its own)."})
    retired = fields.Boolean()


class UnionPageSchema(Schema):
    items = fields.List(fields.Nested(UnionSchema))
    pagination = fields.Nested(PaginationSchema)


class UnionListArgs(ApiSchema):
    parent = fields.Integer(validate=validate.Range(min=0, max=MAX_ID), metadata={
        "description": "Only the unions directly under this one; 0 for the top unions."})
    q = fields.String(validate=validate.Length(max=60), metadata={
        "description": "Only unions whose name contains this text (any part of the name)."})
    include_retired = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000),
                          metadata={"description": "A page past the end answers with the last page."})
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=services.MAX_PER_PAGE))


class _Item:
    def __init__(self, node, path):
        self._node, self.path = node, path

    def __getattr__(self, name):
        return getattr(self._node, name)

    @property
    def retired(self) -> bool:
        return self._node.retired_at is not None


@blp.route("/unions")
class UnionList(MethodView):
    decorators = [public]

    @blp.doc(security=NO_SECURITY)
    @blp.arguments(UnionListArgs(), location="query", as_kwargs=True)
    @blp.response(200, UnionPageSchema)
    def get(self, page: int, per_page: int, include_retired: bool, parent: int | None = None, q: str = ""):
        """The unions in tree order (parents first), a page at a time; by parent, or searched by name."""
        items, total, page, pages = services.list_nodes(
            parent_id=parent or None, roots=parent == 0, q=q, include_retired=include_retired,
            page=page, per_page=per_page)
        paths = services.ancestor_names(items)
        return {"items": [_Item(node, paths[node.id]) for node in items],
                "pagination": {"page": page, "per_page": per_page, "total": total, "pages": pages}}
