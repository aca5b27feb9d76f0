"""One small permission mechanism: a role held on a union node covers that node and everything below.

Every view declares who may reach it with one of the decorators below; the
permission-matrix test fails on any route that declares nothing.  Scope over one object (this
activity, this union) is checked when the view loads it, in ``unionevents.access``.

Core knows no domain: the user comes in through the ``Principal`` interface below (the accounts
domain's ``User`` provides it), and the tree that scopes roles (the unions domain's ``UnionNode``)
is handed over at start-up with ``register_scope_tree``.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import wraps
from typing import Any, Callable, Protocol

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, false, or_, select

from ..extensions import db, login_manager

ACCESS_ATTR = "access_rule"


class ScopeRole(Protocol):
    """A role (an enum member): ``value`` names it; the two flags say how grants of it scope."""

    value: str

    @property
    def covers_all_nodes(self) -> bool:
        """A grant of this role holds every node-scoped role everywhere (the administrator)."""

    @property
    def activity_scoped(self) -> bool:
        """Granted on one activity, not on a node (judges, medical staff); ``covers_all_nodes`` skips it."""


class ScopeNode(Protocol):
    """A node of the scope tree: ``path`` is its materialised path (``/1/5/12/``)."""

    path: str


class Grant(Protocol):
    role: ScopeRole
    node: ScopeNode | None
    activity_id: int | None


class Principal(Protocol):
    """What permissions need of a user (Flask-Login's anonymous user has no ``grants``; it is never asked)."""

    is_authenticated: bool
    grants: Iterable[Grant]


_scope_tree: Any = None


def register_scope_tree(node_model: Any) -> None:
    """Start-up: the mapped class of the scope tree (columns ``id``, ``parent_id``, ``path``)."""
    global _scope_tree
    _scope_tree = node_model


def _tree() -> Any:
    if _scope_tree is None:
        raise RuntimeError("core.permissions: no scope tree registered (create_app registers the unions one)")
    return _scope_tree


def has_role(user: Principal | None, role: ScopeRole, node: ScopeNode | None = None,
             activity_id: int | None = None) -> bool:
    """Does ``user`` hold ``role`` over ``node`` (or over activity ``activity_id``)?

    With neither given: does the user hold the role anywhere.  Admins hold every
    node-scoped role everywhere.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    for grant in user.grants:
        if grant.role.covers_all_nodes and not role.activity_scoped:
            return True
        if grant.role != role:
            continue
        if node is None and activity_id is None:
            return True
        if activity_id is not None and grant.activity_id == activity_id:
            return True
        if node is not None and grant.node is not None and node.path.startswith(grant.node.path):
            return True
    return False


def scope_nodes(user: Principal, role: ScopeRole) -> list:
    """The top nodes of ``user``'s scope for ``role`` (admins: the roots)."""
    if any(g.role.covers_all_nodes for g in user.grants):
        tree = _tree()
        return list(db.session.scalars(select(tree).where(tree.parent_id.is_(None))))
    return [g.node for g in user.grants if g.role == role and g.node is not None]


def in_scope_clause(user: Principal, role: ScopeRole, node_column) -> object:
    """A WHERE clause limiting ``node_column`` (a scope-tree node id) to the user's scope for ``role``."""
    tops = scope_nodes(user, role)
    if not tops:
        return false()
    tree = _tree()
    subtree = select(tree.id).where(or_(*[tree.path.startswith(top.path, autoescape=True) for top in tops]))
    return node_column.in_(subtree)


def scope_node_ids(user: Principal, role: ScopeRole) -> Select:
    """SELECT of every node id in the user's scope for ``role``."""
    tops = scope_nodes(user, role)
    tree = _tree()
    if not tops:
        return select(tree.id).where(false())
    return select(tree.id).where(or_(*[tree.path.startswith(t.path, autoescape=True) for t in tops]))


def _mark(view: Callable, rule: str, inner: Callable | None = None) -> None:
    """Label ``view`` with its access rule; a view labelled twice is a programming error."""
    already = getattr(inner if inner is not None else view, ACCESS_ATTR, None)
    if already is not None:
        raise TypeError(f"{getattr(view, '__qualname__', view)} is already marked {already!r}; "
                        f"use exactly one of @public, @login_required, @role_required")
    setattr(view, ACCESS_ATTR, rule)


def public(view: Callable) -> Callable:
    """Anyone, logged in or not."""
    _mark(view, "public")
    return view


def login_required(view: Callable) -> Callable:
    """Any logged-in person."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    _mark(wrapped, "login", inner=view)
    return wrapped


def role_required(*roles: ScopeRole) -> Callable:
    """Logged in and holding one of ``roles`` somewhere; object-level scope is checked by the view's loader."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not any(has_role(current_user, role) for role in roles):
                abort(403)
            return view(*args, **kwargs)

        _mark(wrapped, "role:" + ",".join(role.value for role in roles), inner=view)
        return wrapped

    return decorator
