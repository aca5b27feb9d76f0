"""Administration pages: find people, grant and revoke scoped roles, import workers from a spreadsheet."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..core.errors import ValidationFailed
from ..core.permissions import role_required, scope_nodes
from ..extensions import db
from ..unions.services import tree_choices
from . import services
from . import imports
from .forms import EmptyForm, GrantRoleForm, ImportForm
from .models import Occupation, Role, User

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50
#: The result page lists this many row errors at most (the count of all is shown).
ERRORS_SHOWN = 500


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


def _import_page_context() -> dict:
    return {
        "columns": [(key, imports.COLUMN_TITLES[key], imports.HEADER_ALIASES[key],
                     key in imports.REQUIRED_COLUMNS) for key in imports.COLUMNS],
        "occupations": [(occupation.title, imports.OCCUPATION_NAMES_ZH[occupation][0], occupation.value)
                        for occupation in Occupation],
        "max_rows": imports.MAX_ROWS,
        "max_passwords": imports.WEB_MAX_PASSWORDS,
    }


@bp.route("/users/import", methods=["GET", "POST"])
@role_required(Role.ADMIN, Role.ORGANISER)
def import_users():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        report = imports.import_workers(upload.read(), upload.filename or "",
                                        current_user._get_current_object(),
                                        max_passwords=imports.WEB_MAX_PASSWORDS)
        return render_template("accounts/admin/import_result.html", report=report,
                               errors=report.errors[:ERRORS_SHOWN]), (200 if report.ok else 422)
    return render_template("accounts/admin/import.html", form=form, **_import_page_context()), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/users/import/example.csv")
@role_required(Role.ADMIN, Role.ORGANISER)
def import_example():
    user = current_user._get_current_object()
    union_name = "北京建工资源公司工会"
    if not any(grant.role == Role.ADMIN for grant in user.grants):
        tops = scope_nodes(user, Role.ORGANISER)
        if tops:
            union_name = tops[0].name
    return Response(imports.example_csv(union_name), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=workers-example.csv",
                             "Cache-Control": "no-store"})
