"""One small permission mechanism: a role held on a union node covers that node and everything below.

Every view declares who may reach it with one of the decorators below; the
permission-matrix test fails on any route that declares nothing.  Scope over one object (this
activity, this union) is checked when the view loads it, in ``unionevents.access``.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort, request
from flask_login import current_user
from sqlalchemy import Select, false, or_, select

from ..accounts.models import Role, RoleGrant, User
from ..extensions import db, login_manager
from ..unions.models import UnionNode

ACCESS_ATTR = "access_rule"


def has_role(user: User, role: Role, node: UnionNode | None = None, activity_id: int | None = None) -> bool:
    """Does ``user`` hold ``role`` over ``node`` (or over activity ``activity_id``)?

    With neither given: does the user hold the role anywhere.  Admins hold every
    node-scoped role everywhere.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    for grant in user.grants:
        if grant.role == Role.ADMIN and role not in (Role.JUDGE, Role.MEDICAL):
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


def scope_nodes(user: User, role: Role) -> list[UnionNode]:
    """The top nodes of ``user``'s scope for ``role`` (admins: the roots)."""
    if any(g.role == Role.ADMIN for g in user.grants):
        return list(db.session.scalars(select(UnionNode).where(UnionNode.parent_id.is_(None))))
    return [g.node for g in user.grants if g.role == role and g.node is not None]


def in_scope_clause(user: User, role: Role, node_column) -> object:
    """A WHERE clause limiting ``node_column`` (a union_node id) to the user's scope for ``role``."""
    tops = scope_nodes(user, role)
    if not tops:
        return false()
    subtree = select(UnionNode.id).where(
        or_(*[UnionNode.path.startswith(top.path, autoescape=True) for top in tops])
    )
    return node_column.in_(subtree)


def scope_node_ids(user: User, role: Role) -> Select:
    """SELECT of every node id in the user's scope for ``role``."""
    tops = scope_nodes(user, role)
    if not tops:
        return select(UnionNode.id).where(false())
    return select(UnionNode.id).where(or_(*[UnionNode.path.startswith(t.path, autoescape=True) for t in tops]))


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


def role_required(*roles: Role) -> Callable:
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


def is_api_request() -> bool:
    return request.path.startswith("/api/")
