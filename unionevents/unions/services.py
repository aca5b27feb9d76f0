"""Building, searching and administering the union tree.

The tree is administered by admins (everywhere) and by organisers, who manage the unions *below* the
node of their grant: they add children anywhere in their subtree, and rename, move, retire or merge
any union strictly below their own (``may_manage``); a union moves or merges only to a place inside
their subtree (``may_place_under``).  Every change is one write transaction with its audit row.
"""
from __future__ import annotations

from typing import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, literal, or_, select, update

from ..core.audit import log_action
from ..core.db import write_transaction
from ..core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from ..core.text import NotText, clean_text
from ..core.timeutil import now
from ..extensions import db
from .models import CODE_MAX, NAME_MAX, NodeLevel, UnionNode

MSG_NAME_TAKEN = _l("A union with this name already exists under the same parent union.")
MSG_NO_NAME = _l("Please enter the union's name.")
MSG_NAME_TOO_LONG = _l("The union's name is longer than %(n)d characters.", n=NAME_MAX)
MSG_NOT_TEXT = _l("The text contains characters that are not allowed.")
MSG_NOT_YOURS = _l("You do not manage this union.")
MSG_NOT_UNDER = _l("You cannot place a union there: the union chosen is outside the part of the tree "
                   "you manage.")
MSG_UNDER_ITSELF = _l("A union cannot be moved under itself or under one of its own member unions.")
MSG_ROOT = _l("The top union cannot be moved, retired or merged.")
MSG_RETIRED = _l("This union has been retired.")
MSG_HAS_CHILDREN = _l("This union still has member unions. Move, merge or retire them first.")
MSG_MERGE_SELF = _l("A union cannot be merged into itself or into one of its own member unions.")


# --------------------------------------------------------------------------- reading

def clean_name(value: str | None, field: str = "name") -> str:
    """A union name as stored: trimmed, one line, checked (``ValidationFailed`` on ``field``)."""
    try:
        name = clean_text(value or "")
    except NotText:
        raise ValidationFailed({field: [str(MSG_NOT_TEXT)]})
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed({field: [str(MSG_NO_NAME)]})
    if len(name) > NAME_MAX:
        raise ValidationFailed({field: [str(MSG_NAME_TOO_LONG)]})
    return name


def _sibling(parent_id: int | None, name: str, exclude_id: int | None = None) -> int | None:
    stmt = select(UnionNode.id).where(UnionNode.name == name,
                                      UnionNode.parent_id.is_(None) if parent_id is None
                                      else UnionNode.parent_id == parent_id)
    if exclude_id is not None:
        stmt = stmt.where(UnionNode.id != exclude_id)
    return db.session.scalar(stmt.limit(1))


def create_node(name: str, level: NodeLevel, parent: UnionNode | None = None,
                district: str | None = None, code: str | None = None) -> UnionNode:
    """Add a node under ``parent`` (flushes to learn its id, then sets its path)."""
    name = clean_name(name)
    if _sibling(parent.id if parent else None, name):
        raise Conflict(MSG_NAME_TAKEN, field="name")
    node = UnionNode(name=name, level=level, parent=parent, code=code or None,
                     district=district or (parent.district if parent else None))
    db.session.add(node)
    db.session.flush()
    node.path = f"{parent.path if parent else '/'}{node.id}/"
    node.depth = parent.depth + 1 if parent else 0
    return node


def get_or_create_node(name: str, level: NodeLevel, parent: UnionNode | None = None,
                       district: str | None = None) -> UnionNode:
    existing_id = _sibling(parent.id if parent else None, name.strip())
    return db.session.get(UnionNode, existing_id) if existing_id else create_node(name, level, parent, district)


def find_by_name(name: str) -> UnionNode | None:
    """The union called ``name`` (the shallowest one, should several unions share the name)."""
    return db.session.scalar(select(UnionNode).where(UnionNode.name == (name or "").strip())
                             .order_by(UnionNode.retired_at.is_not(None), UnionNode.depth, UnionNode.id)
                             .limit(1))


def get_node(node_id: int) -> UnionNode:
    node = db.session.get(UnionNode, node_id)
    if node is None:
        raise NotFound(_l("This union does not exist."))
    return node


def subtree_ids(node: UnionNode):
    """SELECT of the ids of ``node`` and everything below it (one indexed query)."""
    return node.subtree_ids_select()


def search_nodes(query: str, limit: int = 20) -> list[UnionNode]:
    """Working unions whose name contains ``query``, shallow levels first."""
    stmt = (select(UnionNode).where(UnionNode.retired_at.is_(None))
            .order_by(UnionNode.depth, UnionNode.name, UnionNode.id).limit(limit))
    query = (query or "").strip()
    if query:
        stmt = stmt.where(UnionNode.name.contains(query, autoescape=True))
    return list(db.session.scalars(stmt))


def all_nodes_ordered() -> list[UnionNode]:
    """Every working node in tree order (parents before their children), for pickers."""
    return list(db.session.scalars(select(UnionNode).where(UnionNode.retired_at.is_(None))
                                   .order_by(UnionNode.path)))


def tree_choices(among_paths: Iterable[str] | None = None) -> list[tuple[int, str]]:
    """(id, indented name) pairs in tree order for a select box (retired unions left out).

    With ``among_paths``, only the unions at those paths and the unions above them (one query,
    however large the tree): a filter then offers the unions that have something to show and the
    levels that group them, not every workplace union of the city."""
    if among_paths is None:
        nodes = all_nodes_ordered()
    else:
        ids = sorted({int(part) for path in among_paths for part in path.strip("/").split("/") if part})
        nodes = list(db.session.scalars(
            select(UnionNode).where(UnionNode.id.in_(ids), UnionNode.retired_at.is_(None)))) if ids else []
    by_id = {n.id: n for n in nodes}

    def sort_key(node: UnionNode):
        return [by_id[i].name if i in by_id else "" for i in node.ancestor_ids()]

    return [(n.id, "\u3000" * n.depth + n.name) for n in sorted(nodes, key=sort_key)]


def count_nodes() -> int:
    return db.session.scalar(select(func.count(UnionNode.id))) or 0


def ancestor_names(nodes: list[UnionNode]) -> dict[int, list[str]]:
    """For each node, the names on its path from the root down to it (one query for them all)."""
    wanted = {i for node in nodes for i in node.ancestor_ids()}
    names: dict[int, str] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        names.update((row.id, row.name) for row in db.session.execute(
            select(UnionNode.id, UnionNode.name).where(UnionNode.id.in_(ids[start:start + 500]))))
    return {node.id: [names.get(i, "") for i in node.ancestor_ids()] for node in nodes}


def path_label(names: list[str]) -> str:
    """朝阳区总工会 › 奥运村街道总工会: the path as shown in pickers and on the admin page."""
    return " › ".join(names)


# --------------------------------------------------------------------------- who manages what

def _is_admin(actor) -> bool:
    return actor is not None and any(g.role.covers_all_nodes for g in actor.grants)


def _organiser_tops(actor) -> list[UnionNode]:
    from ..accounts.models import Role

    return [g.node for g in actor.grants if g.role == Role.ORGANISER and g.node is not None] if actor else []


def may_manage(actor, node: UnionNode) -> bool:
    """May ``actor`` rename, move, retire or merge ``node``?  Admins: any; organisers: strictly below
    the node of one of their grants; the command line (``actor`` None): any."""
    if actor is None or _is_admin(actor):
        return True
    return any(node.path.startswith(top.path) and node.id != top.id for top in _organiser_tops(actor))


def may_place_under(actor, parent: UnionNode) -> bool:
    """May ``actor`` add a union under ``parent`` (or move or merge one into it)?"""
    if actor is None or _is_admin(actor):
        return True
    return any(parent.path.startswith(top.path) for top in _organiser_tops(actor))


def managed_tops(actor) -> list[UnionNode]:
    """The top unions of the part of the tree ``actor`` sees on the admin page."""
    if actor is None or _is_admin(actor):
        return list(db.session.scalars(select(UnionNode).where(UnionNode.parent_id.is_(None))
                                       .order_by(UnionNode.name)))
    tops = _organiser_tops(actor)
    return [t for t in tops if not any(t.id != o.id and t.path.startswith(o.path) for o in tops)]


def managed_clause(actor):
    """A WHERE clause: the unions in ``actor``'s part of the tree (their tops and everything below)."""
    tops = managed_tops(actor)
    if actor is None or _is_admin(actor):
        return literal(True)
    return or_(*[UnionNode.path.startswith(t.path, autoescape=True) for t in tops]) if tops else literal(False)


def _require_manage(actor, node: UnionNode) -> None:
    if not may_manage(actor, node):
        raise NotAllowed(MSG_NOT_YOURS)
    if node.retired:
        raise Conflict(MSG_RETIRED)


def _require_place(actor, parent: UnionNode, field: str = "parent_id") -> None:
    if not may_place_under(actor, parent):
        raise NotAllowed(MSG_NOT_UNDER)
    if parent.retired:
        raise ValidationFailed({field: [str(MSG_RETIRED)]})


def _actor_id(actor) -> int | None:
    return actor.id if actor is not None else None


# --------------------------------------------------------------------------- changing the tree

def default_child_level(parent_level: NodeLevel | None) -> NodeLevel:
    """The kind a new union usually has under a parent of ``parent_level`` (None: the top)."""
    if parent_level is None:
        return NodeLevel.CITY
    return {NodeLevel.CITY: NodeLevel.DISTRICT, NodeLevel.DISTRICT: NodeLevel.STREET}.get(
        parent_level, NodeLevel.WORKPLACE)


def add_child(actor, parent: UnionNode, name: str, level: NodeLevel | None = None) -> UnionNode:
    """An admin adds a union under ``parent``."""
    _require_place(actor, parent)
    name = clean_name(name)
    with write_transaction():
        node = create_node(name, level or default_child_level(parent.level), parent)
        log_action(_actor_id(actor), "union.add", node, parent_id=parent.id, name=name)
    return node


def rename_node(actor, node: UnionNode, name: str) -> UnionNode:
    _require_manage(actor, node)
    name = clean_name(name)
    if name == node.name:
        return node
    if _sibling(node.parent_id, name, exclude_id=node.id):
        raise Conflict(MSG_NAME_TAKEN, field="name")
    with write_transaction():
        old = node.name
        node.name = name
        log_action(_actor_id(actor), "union.rename", node, old=old, new=name)
    return node


def _rewrite_paths(node: UnionNode, new_parent: UnionNode | None) -> None:
    """Give ``node`` and its subtree paths under ``new_parent`` (one UPDATE)."""
    old_prefix = node.path
    new_prefix = f"{new_parent.path if new_parent else '/'}{node.id}/"
    delta = (new_parent.depth + 1 if new_parent else 0) - node.depth
    table = UnionNode.__table__
    db.session.execute(
        update(table).where(table.c.path.startswith(old_prefix, autoescape=True))
        .values(path=literal(new_prefix) + func.substr(table.c.path, len(old_prefix) + 1),
                depth=table.c.depth + delta),
        execution_options={"synchronize_session": False})
    db.session.execute(update(table).where(table.c.id == node.id).values(
        parent_id=new_parent.id if new_parent else None))


def relocate_subtree(node: UnionNode, new_parent: UnionNode) -> None:
    """Move ``node`` (and its subtree) under ``new_parent``, keeping the reports right; no checks."""
    from ..reports.services import regroup_subtree

    db.session.flush()
    ids = list(db.session.scalars(node.subtree_ids_select()))
    regroup_subtree(ids, lambda: _rewrite_paths(node, new_parent))
    db.session.expire_all()


def check_move(node: UnionNode, new_parent: UnionNode) -> None:
    """Refuse a move that would make a loop or a second union of the same name under one parent."""
    if node.parent_id is None:
        raise Conflict(MSG_ROOT)
    if new_parent.path.startswith(node.path):
        raise ValidationFailed({"parent_id": [str(MSG_UNDER_ITSELF)]})
    if _sibling(new_parent.id, node.name, exclude_id=node.id):
        raise ValidationFailed({"parent_id": [str(MSG_NAME_TAKEN)]})


def move_node(actor, node: UnionNode, new_parent: UnionNode) -> UnionNode:
    """Move ``node`` and everything below it under ``new_parent`` (never under its own descendant)."""
    _require_manage(actor, node)
    _require_place(actor, new_parent)
    if new_parent.id == node.parent_id:
        return node
    check_move(node, new_parent)
    node_id, old_parent_id, new_parent_id = node.id, node.parent_id, new_parent.id
    with write_transaction():
        relocate_subtree(node, new_parent)
        log_action(_actor_id(actor), "union.move", node, old_parent_id=old_parent_id,
                   new_parent_id=new_parent_id)
    return db.session.get(UnionNode, node_id)


def _live_children(node: UnionNode) -> list[UnionNode]:
    return list(db.session.scalars(select(UnionNode).where(UnionNode.parent_id == node.id,
                                                           UnionNode.retired_at.is_(None))))


def retire_node(actor, node: UnionNode) -> UnionNode:
    """Retire a union with no working member unions: it keeps its history but leaves every picker."""
    _require_manage(actor, node)
    if node.parent_id is None:
        raise Conflict(MSG_ROOT)
    if _live_children(node):
        raise Conflict(MSG_HAS_CHILDREN)
    with write_transaction():
        node.retired_at = now()
        log_action(_actor_id(actor), "union.retire", node)
    return node


def merge_nodes(actor, source: UnionNode, target: UnionNode) -> dict[str, int]:
    """Merge ``source`` into ``target``: its member unions, workers, activities (with their report
    history), role grants and union-limited sign-ups move to ``target``; ``source`` is retired.

    Returns what moved, by kind.  The summary tables stay equal to a recount (``flask reports check``).
    """
    from ..accounts.models import RoleGrant, User
    from ..activities.models import Activity, ActivityEligibleNode, UnitQuota
    from ..registrations.models import Registration
    from ..reports.services import sync_activity

    _require_manage(actor, source)
    _require_place(actor, target, field="target_id")
    if source.parent_id is None:
        raise Conflict(MSG_ROOT)
    if target.path.startswith(source.path):
        raise ValidationFailed({"target_id": [str(MSG_MERGE_SELF)]})
    children = _live_children(source)
    clash = [c.name for c in children if _sibling(target.id, c.name)]
    if clash:
        raise ValidationFailed({"target_id": [str(_l(
            "The union chosen already has a member union called %(name)s.", name=clash[0]))]})
    moved: dict[str, int] = {}
    source_id, target_id = source.id, target.id
    with write_transaction():
        for child in children:
            relocate_subtree(child, db.session.get(UnionNode, target_id))
        moved["unions"] = len(children)
        # Retired children stay retired but hang under the target too, so the source's subtree is empty.
        for child in db.session.scalars(select(UnionNode).where(UnionNode.parent_id == source_id)).all():
            if _sibling(target_id, child.name, exclude_id=child.id):
                child.name = f"{child.name}（{child.id}）"
                db.session.flush()
            relocate_subtree(child, db.session.get(UnionNode, target_id))
        activity_ids = list(db.session.scalars(select(Activity.id).where(Activity.node_id == source_id)))
        if activity_ids:
            db.session.execute(update(Activity).where(Activity.node_id == source_id).values(node_id=target_id),
                               execution_options={"synchronize_session": False})
            for activity_id in activity_ids:
                sync_activity(activity_id)
        moved["activities"] = len(activity_ids)
        moved["workers"] = db.session.execute(
            update(User).where(User.union_id == source_id).values(union_id=target_id),
            execution_options={"synchronize_session": False}).rowcount
        moved["grants"] = _merge_grants(RoleGrant, source_id, target_id)
        _merge_eligibility(ActivityEligibleNode, source_id, target_id)
        _merge_quotas(UnitQuota, source_id, target_id)
        db.session.execute(update(Registration).where(Registration.unit_node_id == source_id)
                           .values(unit_node_id=target_id), execution_options={"synchronize_session": False})
        db.session.execute(update(UnionNode.__table__).where(UnionNode.__table__.c.id == source_id)
                           .values(retired_at=now(), merged_into_id=target_id))
        db.session.expire_all()
        log_action(_actor_id(actor), "union.merge", db.session.get(UnionNode, source_id),
                   target_id=target_id, **moved)
    return moved


def _merge_grants(model, source_id: int, target_id: int) -> int:
    """Grants on the source move to the target; one the holder already has there is dropped."""
    count = 0
    for grant in db.session.scalars(select(model).where(model.node_id == source_id)).all():
        twin = db.session.scalar(select(model.id).where(model.node_id == target_id, model.user_id == grant.user_id,
                                                        model.role == grant.role))
        if twin:
            db.session.delete(grant)
        else:
            grant.node_id = target_id
            count += 1
    db.session.flush()
    return count


def _merge_eligibility(model, source_id: int, target_id: int) -> None:
    """An activity open to the source's workers is open to the target's instead."""
    has_target = select(model.activity_id).where(model.node_id == target_id)
    db.session.execute(delete(model).where(model.node_id == source_id, model.activity_id.in_(has_target)),
                       execution_options={"synchronize_session": False})
    db.session.execute(update(model).where(model.node_id == source_id).values(node_id=target_id),
                       execution_options={"synchronize_session": False})


def _merge_quotas(model, source_id: int, target_id: int) -> None:
    """A delegate quota of the source becomes the target's (added to the target's own, if it has one)."""
    for quota in db.session.scalars(select(model).where(model.node_id == source_id)).all():
        twin = db.session.scalar(select(model).where(model.activity_id == quota.activity_id,
                                                     model.node_id == target_id))
        if twin is None:
            quota.node_id = target_id
        else:
            twin.quota += quota.quota
            twin.used += quota.used
            db.session.delete(quota)
    db.session.flush()


def clean_code(value: str | None) -> str | None:
    code = (value or "").strip()
    if len(code) > CODE_MAX:
        raise ValidationFailed({"code": [str(_l("The code is longer than %(n)d characters.", n=CODE_MAX))]})
    return code or None



# --------------------------------------------------------------------------- listing (API, pickers)

MAX_PER_PAGE = 500


def list_nodes(*, parent_id: int | None = None, roots: bool = False, q: str = "", include_retired: bool = False,
               page: int = 1, per_page: int = 100):
    """One page of unions in tree order: the children of ``parent_id`` (or the roots), or any whose
    name contains ``q``; with the names on each one's path.  (items, total, page, pages)."""
    import math

    stmt = select(UnionNode)
    if parent_id is not None:
        stmt = stmt.where(UnionNode.parent_id == parent_id)
    elif roots:
        stmt = stmt.where(UnionNode.parent_id.is_(None))
    q = " ".join((q or "").split())
    if q:
        stmt = stmt.where(UnionNode.name.contains(q, autoescape=True))
    if not include_retired:
        stmt = stmt.where(UnionNode.retired_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    order = (UnionNode.depth, UnionNode.name, UnionNode.id) if q else (UnionNode.path,)
    items = list(db.session.scalars(stmt.order_by(*order).limit(per_page).offset((page - 1) * per_page)))
    return items, total, page, pages
