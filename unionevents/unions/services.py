"""Building and searching the union tree."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..core.errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from .models import NodeLevel, UnionNode


def create_node(name: str, level: NodeLevel, parent: UnionNode | None = None,
                district: str | None = None) -> UnionNode:
    """Add a node under ``parent`` (flushes to learn its id, then sets its path)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": [str(_l("Please enter the union's name."))]})
    if db.session.scalar(select(UnionNode.id).where(UnionNode.name == name)):
        raise Conflict(_l("A union with this name already exists."), field="name")
    node = UnionNode(name=name, level=level, parent=parent,
                     district=district or (parent.district if parent else None))
    db.session.add(node)
    db.session.flush()
    node.path = f"{parent.path if parent else '/'}{node.id}/"
    node.depth = parent.depth + 1 if parent else 0
    return node


def get_or_create_node(name: str, level: NodeLevel, parent: UnionNode | None = None,
                       district: str | None = None) -> UnionNode:
    existing = db.session.scalar(select(UnionNode).where(UnionNode.name == name))
    return existing or create_node(name, level, parent, district)


def find_by_name(name: str) -> UnionNode | None:
    return db.session.scalar(select(UnionNode).where(UnionNode.name == (name or "").strip()))


def get_node(node_id: int) -> UnionNode:
    node = db.session.get(UnionNode, node_id)
    if node is None:
        raise NotFound(_l("This union does not exist."))
    return node


def subtree_ids(node: UnionNode):
    """SELECT of the ids of ``node`` and everything below it (one indexed query)."""
    return node.subtree_ids_select()


def search_nodes(query: str, limit: int = 20) -> list[UnionNode]:
    """Nodes whose name contains ``query``, shallow levels first."""
    stmt = select(UnionNode).order_by(UnionNode.depth, UnionNode.name).limit(limit)
    query = (query or "").strip()
    if query:
        stmt = stmt.where(UnionNode.name.contains(query, autoescape=True))
    return list(db.session.scalars(stmt))


def all_nodes_ordered() -> list[UnionNode]:
    """Every node in tree order (parents before their children), for pickers."""
    return list(db.session.scalars(select(UnionNode).order_by(UnionNode.path)))


def tree_choices() -> list[tuple[int, str]]:
    """(id, indented name) pairs in tree order for a select box."""
    nodes = all_nodes_ordered()
    by_id = {n.id: n for n in nodes}

    def sort_key(node: UnionNode):
        return [by_id[i].name if i in by_id else "" for i in node.ancestor_ids()]

    return [(n.id, "\u3000" * n.depth + n.name) for n in sorted(nodes, key=sort_key)]


def count_nodes() -> int:
    return db.session.scalar(select(func.count(UnionNode.id))) or 0
