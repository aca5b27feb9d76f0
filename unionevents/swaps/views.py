"""Organiser pages of a swap (/manage/activities/<id>/swap...) and the union libraries (/manage/library).

Every view is ``@role_required(Role.ORGANISER)`` and loads its activity through ``access.load_activity``
(404 missing, 403 out of scope); each parses its input, calls one service and renders.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..access import apply_errors, current_actor, load_activity, load_node
from ..accounts.models import Role
from ..activities.models import Activity, ActivityKind
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.permissions import role_required
from ..core.timeutil import now, utc_to_local
from . import services
from .forms import DeskSearchForm, DonationForm, RuleForm, StockForm, whole_number
from .rules import Limit

bp = Blueprint("swaps", __name__, url_prefix="/manage")


def _desk(activity: Activity, rule_form=None, stock_form=None, status: int = 200):
    rule = services.get_rule(activity.id)
    if rule_form is None:
        rule_form = RuleForm(formdata=None, data={
            "books_per_lot": rule.books_per_lot if rule else 1,
            "portions_per_lot": rule.portions_per_lot if rule else 1,
            "per_person_cap": rule.per_person_cap if rule and rule.per_person_cap else ""})
    search = DeskSearchForm(request.args)
    query = (search.q.data or "").strip()
    found = services.find_registrations(activity.id, query) if query else []
    if query and len(found) == 1 and found[0].ticket_secret == query:
        return redirect(url_for(".donation", activity_id=activity.id, registration_id=found[0].id), 303)
    return render_template("swaps/desk.html", activity=activity, rule=rule, rule_form=rule_form,
                           stock_form=stock_form or StockForm(formdata=None), search=search, query=query,
                           found=found, totals=services.ledger(activity.id),
                           adjustments=services.stock_adjustments(activity.id)[:10]), status


@bp.route("/activities/<int:activity_id>/swap")
@role_required(Role.ORGANISER)
def desk(activity_id: int):
    return _desk(load_activity(activity_id, Role.ORGANISER, kind=ActivityKind.SWAP))


@bp.route("/activities/<int:activity_id>/swap/rule", methods=["POST"])
@role_required(Role.ORGANISER)
def save_rule(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER, kind=ActivityKind.SWAP)
    form = RuleForm()
    if form.validate_on_submit():
        try:
            services.set_rule(current_actor(), activity.id, whole_number(form.books_per_lot.data),
                              whole_number(form.portions_per_lot.data),
                              whole_number(form.per_person_cap.data))
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(_("Exchange rule saved."), "success")
            return redirect(url_for(".desk", activity_id=activity.id), 303)
    return _desk(activity, rule_form=form, status=422 if form.errors or form.form_errors else 400)


@bp.route("/activities/<int:activity_id>/swap/stock", methods=["POST"])
@role_required(Role.ORGANISER)
def save_stock(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER, kind=ActivityKind.SWAP)
    form = StockForm()
    status = 400
    if form.validate_on_submit():
        amount = whole_number(form.amount.data)
        kwargs = {"set_to": amount} if form.mode.data == "set" else {"delta": amount}
        try:
            adjustment = services.change_stock(current_actor(), activity.id, reason=form.reason.data or "", **kwargs)
        except ValidationFailed as error:
            apply_errors(form, error, {"delta": "amount", "set_to": "amount"})
            status = 422
        except Conflict as error:
            form.amount.errors = list(form.amount.errors) + [str(error.message)]
            status = 409
        else:
            flash(_("Stock saved: %(n)d portions.", n=adjustment.stock_after), "success")
            return redirect(url_for(".desk", activity_id=activity.id), 303)
    return _desk(activity, stock_form=form, status=status)


@bp.route("/activities/<int:activity_id>/swap/registrations/<int:registration_id>", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def donation(activity_id: int, registration_id: int):
    activity = load_activity(activity_id, Role.ORGANISER, kind=ActivityKind.SWAP)
    try:
        registration = services.registration_at_desk(activity.id, registration_id)
    except NotFound:
        abort(404)
    form = DonationForm()
    status = 200
    if form.validate_on_submit():
        try:
            result = services.record_donation(current_actor(), activity.id, registration.id,
                                              whole_number(form.books.data), form.titles.data or "")
        except ValidationFailed as error:
            apply_errors(form, error)
            status = 422
        except Conflict as error:
            form.form_errors.append(str(error.message))
            status = 409
        else:
            flash(_donation_message(registration.user.name, result), "success")
            return redirect(url_for(".desk", activity_id=activity.id), 303)
    elif form.is_submitted():
        form.form_errors.append(_("The form has expired. Please try again."))
        status = 400
    rule = services.get_rule(activity.id)
    given = services.already_given(activity.id, registration.user_id)
    return render_template("swaps/donation.html", activity=activity, registration=registration, form=form,
                           rule=rule, given=given,
                           cap_left=None if not rule or rule.per_person_cap is None
                           else max(rule.per_person_cap - given, 0)), status


def _donation_message(name: str, result: services.DonationResult) -> str:
    books = result.donation.books
    portions = result.exchange.portions
    text = _("%(name)s gave %(books)d books: hand over %(portions)d portions. %(left)d left in stock.",
             name=name, books=books, portions=portions, left=result.stock_left)
    if result.exchange.limited_by == Limit.CAP:
        text += " " + _("(The per-person maximum was reached.)")
    elif result.exchange.limited_by == Limit.STOCK:
        text += " " + _("(The stock ran out.)")
    return text


@bp.route("/activities/<int:activity_id>/swap/ledger")
@role_required(Role.ORGANISER)
def ledger(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER, kind=ActivityKind.SWAP)
    return render_template("swaps/ledger.html", activity=activity, ledger=services.ledger(activity.id))


@bp.route("/activities/<int:activity_id>/swap/ledger.xlsx")
@role_required(Role.ORGANISER)
def ledger_export(activity_id: int):
    activity = load_activity(activity_id, Role.ORGANISER, kind=ActivityKind.SWAP)
    stamp = utc_to_local(now()).strftime("%Y%m%d-%H%M")
    return _xlsx_response(services.ledger_xlsx(activity), f"swap-{activity.id}-ledger-{stamp}.xlsx")


def _xlsx_response(body: bytes, filename: str):
    response = make_response(body)
    response.headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the union libraries ---------------------------------------------------------------------------------

@bp.route("/library")
@role_required(Role.ORGANISER)
def library():
    return render_template("swaps/library.html", rows=services.library_inventory(current_actor()))


@bp.route("/library/<int:node_id>")
@role_required(Role.ORGANISER)
def library_node(node_id: int):
    node = load_node(node_id, Role.ORGANISER)
    stock, books = services.library_books(node.id)
    return render_template("swaps/library_node.html", node=node, stock=stock, books=books)
