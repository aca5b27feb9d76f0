"""The union tree's administration pages (``/admin/unions``): browse and search the tree, add a member
union, rename, move, retire and merge.  Admins manage the whole tree; organisers the unions below
their own (``services.may_manage``).  Every action is a CSRF-protected form; refusals are flash messages.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..access import current_actor, flash_error, load_node
from ..accounts.models import Role
from ..core.errors import DomainError, NotAllowed
from ..core.input import bounded_int
from ..core.permissions import role_required
from ..extensions import db
from . import services
from .forms import AddChildForm, RenameForm, TargetForm
from .models import NodeLevel, UnionNode

bp = Blueprint("union_admin", __name__, url_prefix="/admin/unions")

PAGE_SIZE = 50
MAX_PAGE = 10_000
SEARCH_MAX = 40
MANAGERS = (Role.ADMIN, Role.ORGANISER)


def _page() -> int:
    return min(max(request.args.get("page", 1, type=bounded_int) or 1, 1), MAX_PAGE)


def _search(query: str, page: int):
    """Unions in the actor's part of the tree whose name contains ``query``: (rows, total, pages)."""
    from sqlalchemy import func, select

    stmt = select(UnionNode).where(services.managed_clause(current_actor()),
                                   UnionNode.name.contains(query, autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    rows = list(db.session.scalars(stmt.order_by(UnionNode.depth, UnionNode.name, UnionNode.id)
                                   .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    return rows, total, page, pages


@bp.route("")
@role_required(*MANAGERS)
def index():
    query = " ".join((request.args.get("q") or "").split())[:SEARCH_MAX]
    page = _page()
    if query:
        found, total, page, pages = _search(query, page)
    else:
        found, total, pages = services.managed_tops(current_actor()), 0, 1
    paths = services.ancestor_names(found)
    return render_template("unions/admin/index.html", query=query, found=found, total=total, page=page,
                           pages=pages, paths=paths)


@bp.route("/<int:node_id>")
@role_required(*MANAGERS)
def node(node_id: int):
    from sqlalchemy import func, select

    union = load_node(node_id, Role.ORGANISER)
    actor = current_actor()
    page = _page()
    children_stmt = select(UnionNode).where(UnionNode.parent_id == union.id)
    children_total = db.session.scalar(select(func.count()).select_from(children_stmt.subquery())) or 0
    pages = max(1, -(-children_total // PAGE_SIZE))
    page = min(page, pages)
    children = list(db.session.scalars(children_stmt.order_by(UnionNode.retired_at.is_not(None), UnionNode.name)
                                       .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    target_q = " ".join((request.args.get("target_q") or "").split())[:SEARCH_MAX]
    targets = []
    if target_q:
        targets = [t for t in _search(target_q, 1)[0] if t.id != union.id and not t.retired]
    path = services.ancestor_names([union] + targets)
    add_form = AddChildForm(formdata=None)
    add_form.kind.data = services.default_child_level(union.level).value
    rename_form = RenameForm(formdata=None, data={"name": union.name})
    merged_into = db.session.get(UnionNode, union.merged_into_id) if union.merged_into_id else None
    return render_template(
        "unions/admin/node.html", union=union, path=path, children=children, children_total=children_total,
        page=page, pages=pages, add_form=add_form, rename_form=rename_form, target_q=target_q,
        targets=targets, may_manage=services.may_manage(actor, union) and not union.retired,
        may_add=services.may_place_under(actor, union) and not union.retired, merged_into=merged_into,
        target_form=TargetForm(formdata=None))


def _back(union_id: int, **args):
    return redirect(url_for("union_admin.node", node_id=union_id, **args))


def _flash_form_errors(form) -> None:
    for messages in form.errors.values():
        flash(" ".join(str(m) for m in messages), "error")


def _managed(node_id: int) -> UnionNode:
    """The union, if the person may rename, move, retire or merge it (404 / 403 otherwise)."""
    union = load_node(node_id, Role.ORGANISER)
    if not services.may_manage(current_actor(), union):
        raise NotAllowed(services.MSG_NOT_YOURS)
    return union


@bp.route("/<int:node_id>/children", methods=["POST"])
@role_required(*MANAGERS)
def add_child(node_id: int):
    parent = load_node(node_id, Role.ORGANISER)
    form = AddChildForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(parent.id)
    try:
        child = services.add_child(current_actor(), parent, form.name.data, NodeLevel(form.kind.data))
    except DomainError as error:
        flash_error(error)
        return _back(parent.id)
    flash(_("%(name)s was added.", name=child.name), "success")
    return _back(parent.id)


@bp.route("/<int:node_id>/rename", methods=["POST"])
@role_required(*MANAGERS)
def rename(node_id: int):
    union = _managed(node_id)
    form = RenameForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(union.id)
    try:
        services.rename_node(current_actor(), union, form.name.data)
    except DomainError as error:
        flash_error(error)
        return _back(union.id)
    flash(_("The union was renamed."), "success")
    return _back(union.id)


def _target(form: TargetForm) -> UnionNode | None:
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return None
    target = db.session.get(UnionNode, form.target_id.data)
    if target is None:
        flash(_("Please choose a union from the search results."), "error")
    return target


@bp.route("/<int:node_id>/move", methods=["POST"])
@role_required(*MANAGERS)
def move(node_id: int):
    union = _managed(node_id)
    target = _target(TargetForm())
    if target is None:
        return _back(union.id)
    try:
        services.move_node(current_actor(), union, target)
    except DomainError as error:
        flash_error(error)
        return _back(union.id)
    flash(_("The union was moved under %(name)s.", name=target.name), "success")
    return _back(node_id)


@bp.route("/<int:node_id>/merge", methods=["POST"])
@role_required(*MANAGERS)
def merge(node_id: int):
    union = _managed(node_id)
    target = _target(TargetForm())
    if target is None:
        return _back(union.id)
    try:
        moved = services.merge_nodes(current_actor(), union, target)
    except DomainError as error:
        flash_error(error)
        return _back(union.id)
    flash(_("Merged into %(name)s: %(unions)d member unions, %(workers)d workers, %(activities)d activities "
            "and %(grants)d roles moved.", name=target.name, **moved), "success")
    return _back(target.id)


@bp.route("/<int:node_id>/retire", methods=["POST"])
@role_required(*MANAGERS)
def retire(node_id: int):
    from ..access import check_action_form

    union = _managed(node_id)
    check_action_form()
    try:
        services.retire_node(current_actor(), union)
    except DomainError as error:
        flash_error(error)
        return _back(union.id)
    flash(_("The union was retired."), "success")
    return _back(union.id)
