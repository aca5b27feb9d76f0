"""Administration pages: find people, grant and revoke scoped roles, import workers from a spreadsheet."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..access import current_actor
from ..core.db import MAX_ID
from ..core.errors import ValidationFailed
from ..core.forms import select_choices
from ..core.input import bounded_int
from ..core.permissions import role_required, scope_nodes
from ..extensions import db
from ..unions.services import tree_choices
from . import services
from . import imports
from .forms import EmptyForm, GrantRoleForm, ImportForm
from .models import Occupation, Role, RoleGrant, User

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50
MAX_PAGE = 10_000  # a huge ?page= would overflow the OFFSET (a 500)
#: The result page lists this many row errors at most (the count of all is shown).
ERRORS_SHOWN = 500


@bp.route("/users")
@role_required(Role.ADMIN)
def users():
    query = (request.args.get("q") or "").strip()[:40]
    page = min(max(request.args.get("page", 1, type=bounded_int) or 1, 1), MAX_PAGE)
    stmt = select(User).order_by(User.id)
    if query:
        stmt = stmt.where(or_(User.name.contains(query, autoescape=True),
                              User.mobile.contains(query, autoescape=True)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    if query:
        # A search of people is a read of personal data: recorded (the count, never the search text).
        # Before loading the rows: the audit commit would expire them.
        from ..core.audit import log_read

        log_read(current_user.id, "admin.user_search", None, results=total)
    # Each row lists the person's roles: their grants come with the page (no statement per person).
    people = db.session.scalars(stmt.options(selectinload(User.grants).joinedload(RoleGrant.node))
                                .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    form = GrantRoleForm()
    form.node_id.choices = select_choices(tree_choices())
    return render_template("accounts/admin/users.html", people=people, query=query, page=page,
                           total=total, page_size=PAGE_SIZE, form=form, revoke_form=EmptyForm())


@bp.route("/grants", methods=["POST"])
@role_required(Role.ADMIN)
def grant():
    form = GrantRoleForm()
    form.node_id.choices = select_choices(tree_choices())
    if not form.validate_on_submit():
        for messages in form.errors.values():
            flash(" ".join(str(m) for m in messages), "error")
        return redirect(url_for("admin.users"))
    try:
        grant_row = services.admin_grant_role(current_actor(), form.mobile.data,
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
        services.admin_revoke_grant(current_actor(), grant_id)
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
                                        current_actor(),
                                        max_passwords=imports.WEB_MAX_PASSWORDS)
        return render_template("accounts/admin/import_result.html", report=report,
                               errors=report.errors[:ERRORS_SHOWN]), (200 if report.ok else 422)
    return render_template("accounts/admin/import.html", form=form, **_import_page_context()), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/users/import/example.csv")
@role_required(Role.ADMIN, Role.ORGANISER)
def import_example():
    user = current_actor()
    union_name = "北京建工资源公司工会"
    if not any(grant.role == Role.ADMIN for grant in user.grants):
        tops = scope_nodes(user, Role.ORGANISER)
        if tops:
            union_name = tops[0].name
    return Response(imports.example_csv(union_name), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=workers-example.csv",
                             "Cache-Control": "no-store"})


# --------------------------------------------------------------------------- the audit log

AUDIT_PAGE_SIZE = 50


def _parse_day(value: str | None):
    from datetime import date

    try:
        return date.fromisoformat((value or "").strip()[:10]) if value else None
    except ValueError:
        return None


@bp.route("/audit")
@role_required(Role.ADMIN)
def audit():
    """Who did what, and who read what, with filters; rows hold ids, so names are looked up here."""
    from ..core.audit import AuditLog
    from ..core.timeutil import local_day_end, local_day_start

    action = (request.args.get("action") or "").strip()[:64]
    actor_text = (request.args.get("actor") or "").strip()[:20]
    day_from, day_to = _parse_day(request.args.get("from")), _parse_day(request.args.get("to"))
    page = min(max(request.args.get("page", 1, type=bounded_int) or 1, 1), MAX_PAGE)
    problems = []

    stmt = select(AuditLog)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if actor_text:
        # An id, or a mobile number looked up now (audit rows never store one).
        digits = actor_text.lstrip("#")
        # ASCII digits within the id range only ("²" passes isdigit() but not int(); 10 digits overflow)
        actor_id = int(digits) if digits.isascii() and digits.isdigit() and int(digits) <= MAX_ID else None
        if actor_id is None:
            person = services.find_by_mobile(actor_text)
            actor_id = person.id if person else None
        if actor_id is None:
            problems.append(_("No account has this mobile number."))
            stmt = stmt.where(AuditLog.id.is_(None))
        else:
            stmt = stmt.where(AuditLog.actor_id == actor_id)
    if request.args.get("from") and day_from is None or request.args.get("to") and day_to is None:
        problems.append(_("Please enter dates as YYYY-MM-DD."))
    if day_from:
        stmt = stmt.where(AuditLog.at >= local_day_start(day_from))
    if day_to:
        stmt = stmt.where(AuditLog.at < local_day_end(day_to))

    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    entries = db.session.scalars(stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())
                                 .limit(AUDIT_PAGE_SIZE).offset((page - 1) * AUDIT_PAGE_SIZE)).all()
    actor_ids = {entry.actor_id for entry in entries if entry.actor_id}
    actors = {person.id: person for person in db.session.scalars(select(User).where(User.id.in_(actor_ids)))} \
        if actor_ids else {}
    actions = db.session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)).all()
    filters = {"action": action, "actor": actor_text, "from": request.args.get("from", "")[:10],
               "to": request.args.get("to", "")[:10]}
    return render_template("accounts/admin/audit.html", entries=entries, actors=actors, actions=actions,
                           filters=filters, problems=problems, page=page, total=total,
                           page_size=AUDIT_PAGE_SIZE), (422 if problems else 200)
