"""Administration pages: find people, grant and revoke scoped roles."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..core.errors import ValidationFailed
from ..core.permissions import role_required
from ..extensions import db
from ..unions.services import tree_choices
from . import services
from .forms import EmptyForm, GrantRoleForm
from .models import Role, User

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50


@bp.route("/users")
@role_required(Role.ADMIN)
def users():
    query = (request.args.get("q") or "").strip()[:40]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    stmt = select(User).order_by(User.id)
    if query:
        stmt = stmt.where(or_(User.name.contains(query, autoescape=True),
                              User.mobile.contains(query, autoescape=True)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    people = db.session.scalars(stmt.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    form = GrantRoleForm()
    form.node_id.choices = [(str(i), label) for i, label in tree_choices()]
    return render_template("accounts/admin/users.html", people=people, query=query, page=page,
                           total=total, page_size=PAGE_SIZE, form=form, revoke_form=EmptyForm())


@bp.route("/grants", methods=["POST"])
@role_required(Role.ADMIN)
def grant():
    form = GrantRoleForm()
    form.node_id.choices = [(str(i), label) for i, label in tree_choices()]
    if not form.validate_on_submit():
        for messages in form.errors.values():
            flash(" ".join(str(m) for m in messages), "error")
        return redirect(url_for("admin.users"))
    try:
        grant_row = services.admin_grant_role(current_user._get_current_object(), form.mobile.data,
                                              Role(form.role.data), form.node_id.data)
    except ValidationFailed as error:
        flash(" ".join(m for msgs in error.errors.values() for m in msgs), "error")
        return redirect(url_for("admin.users"))
    flash(_("Role granted."), "success")
    return redirect(url_for("admin.users", q=grant_row.user.mobile))


@bp.route("/grants/<int:grant_id>/revoke", methods=["POST"])
@role_required(Role.ADMIN)
def revoke(grant_id: int):
    if EmptyForm().validate_on_submit():
        services.admin_revoke_grant(current_user._get_current_object(), grant_id)
        flash(_("Role revoked."), "success")
    return redirect(url_for("admin.users"))
