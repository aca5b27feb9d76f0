"""Union tree look-ups for pickers (the searchable union select on the sign-up form)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..core.permissions import public
from . import services

bp = Blueprint("unions", __name__, url_prefix="/unions")


@bp.route("/search")
@public
def search():
    """Names only: the tree is public information, as on the union's own website."""
    query = request.args.get("q", "")[:40]
    nodes = services.search_nodes(query, limit=20)
    return jsonify([{"id": n.id, "name": n.name, "level": n.level.title} for n in nodes])
