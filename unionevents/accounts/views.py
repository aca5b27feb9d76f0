"""Worker-facing account pages: sign-up, activation, login, logout, profile, password, API tokens."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from ..access import current_actor
from ..core.errors import Conflict, ValidationFailed
from ..core.forms import select_choices
from ..core.permissions import login_required, public
from ..core.security import CLEAR_SITE_DATA, is_safe_redirect
from ..core.timeutil import now, utc_to_local
from ..extensions import limiter
from ..unions.services import tree_choices
from . import services, throttle
from . import privacy as personal_data  # not `privacy`: that name is the notice page's view
from .forms import (ActivateForm, ChangePasswordForm, DeleteAccountForm, EmptyForm, LoginForm, ProfileForm,
                    SignupForm, TokenForm)
from .models import Occupation

bp = Blueprint("accounts", __name__, url_prefix="/account")


# Failed logins are limited per address and guesses per account across the login endpoints; account
# creation per address (see throttle.py).
_signup_limit = throttle.signup_limit


def _union_choices():
    return [SelectChoice("", _("Not a union member"))] + select_choices(tree_choices())


def apply_service_errors(form, error: ValidationFailed | Conflict) -> None:
    """Show a service's per-field errors next to the form fields."""
    if isinstance(error, ValidationFailed):
        for field_name, messages in error.errors.items():
            field = getattr(form, field_name, None)
            if field is not None:
                field.errors = list(field.errors) + list(messages)
            else:
                flash(" ".join(messages), "error")
    elif error.field and getattr(form, error.field, None) is not None:
        field = getattr(form, error.field)
        field.errors = list(field.errors) + [str(error.message)]
    else:
        flash(str(error.message), "error")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_signup_limit, methods=["POST"])
@public
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignupForm()
    form.union_id.choices = _union_choices()
    if form.validate_on_submit():
        try:
            user = services.register_worker(
                mobile=form.mobile.data, name=form.name.data, password=form.password.data,
                union_id=form.union_id.data, occupation=Occupation(form.occupation.data),
                district=form.district.data, member_card_no=form.member_card_no.data,
                accept_privacy=form.accept_privacy.data,
            )
        except (ValidationFailed, Conflict) as error:
            apply_service_errors(form, error)
        else:
            session.clear()
            login_user(user)
            flash(_("Welcome, %(name)s! Your account is ready.", name=user.name), "success")
            return redirect(url_for("main.home"))
    return render_template("accounts/signup.html", form=form,
                           privacy_version=current_app.config["PRIVACY_NOTICE_VERSION"]), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/activate", methods=["GET", "POST"])
@throttle.address_failures()
@public
def activate():
    """First password for an account made by the union (import), with the code from the SMS."""
    form = ActivateForm()
    if request.method == "GET" and request.args.get("mobile"):
        form.mobile.data = request.args["mobile"][:20]
    if form.validate_on_submit():
        try:
            user = throttle.guarded_activation(form.mobile.data, form.code.data, form.password.data,
                                                 accept_privacy=form.accept_privacy.data)
        except throttle.LoginThrottled as error:
            return _throttled(form, form.code, error, "accounts/activate.html",
                              privacy_version=current_app.config["PRIVACY_NOTICE_VERSION"])
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            session.clear()
            login_user(user)
            flash(_("Your account is activated. Welcome, %(name)s!", name=user.name), "success")
            return redirect(url_for("main.home"))
    return render_template("accounts/activate.html", form=form,
                           privacy_version=current_app.config["PRIVACY_NOTICE_VERSION"]), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@throttle.address_failures()
@public
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("main.home"))
    if form.validate_on_submit():
        try:
            user = throttle.password_login(form.mobile.data, form.password.data)
        except throttle.LoginThrottled as error:
            return _throttled(form, form.password, error, "accounts/login.html")
        if user is None:
            form.password.errors = [str(services.MSG_BAD_LOGIN)]
        else:
            session.clear()  # a fresh session at login: no fixation
            login_user(user, remember=form.remember.data)
            flash(_("You are logged in."), "success")
            target = form.next.data
            return redirect(target if is_safe_redirect(target) else url_for("main.home"))
    return render_template("accounts/login.html", form=form), \
        (422 if form.is_submitted() and form.errors else 200)


def _throttled(form, field, error: throttle.LoginThrottled, template: str, **context):
    """The form again, the refusal under ``field``, with 429 and Retry-After."""
    field.errors = [str(error.message)]
    response = current_app.make_response((render_template(template, form=form, **context), 429))
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = EmptyForm()
    response = redirect(url_for("main.home"))
    if form.validate_on_submit():
        user = current_actor()
        services.end_all_sessions(user)
        logout_user()
        session.clear()
        flash(_("You are logged out."), "info")
        if user.uses_door_page:
            # Personal data must not stay on what may be a shared phone (the door page's offline roster
            # and check-in list, its service worker and page cache).  Check-ins still waiting to be sent
            # are protected before this request is made: static/js/logout-guard.js stops the logout for
            # them.  Workers' pages store nothing, and a worker logging out on a phone an organiser's
            # expired session left check-ins on must not wipe them.
            response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


@bp.route("/privacy")
@public
def privacy():
    return render_template("accounts/privacy.html", version=current_app.config["PRIVACY_NOTICE_VERSION"])


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    user = current_actor()
    form = ProfileForm(obj=user)
    form.union_id.choices = _union_choices()
    if request.method == "GET":
        form.union_id.data = user.union_id
        form.occupation.data = user.occupation.value
    if form.validate_on_submit():
        try:
            services.update_profile(user, name=form.name.data, union_id=form.union_id.data,
                                    occupation=Occupation(form.occupation.data),
                                    district=form.district.data, member_card_no=form.member_card_no.data)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, user=user,
                           tokens=services.active_tokens(user), token_form=TokenForm(),
                           revoke_form=EmptyForm()), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    user = current_actor()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:  # a wrong current password is a guess at the account like a wrong login
            throttle.counted(user.mobile, "current_password", services.change_password,
                             user, form.current_password.data, form.new_password.data)
        except throttle.LoginThrottled as error:
            return _throttled(form, form.current_password, error, "accounts/password.html")
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            login_user(user)  # keep this session, which now carries the new version
            flash(_("Your password is changed. Other devices have been logged out."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/password.html", form=form), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("The name of the device may have at most 60 characters."), "error")
        return redirect(url_for("accounts.profile"))
    user = current_actor()
    raw = services.issue_token(user, form.label.data or "")
    return render_template("accounts/token_created.html", token=raw)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    form = EmptyForm()
    if form.validate_on_submit():
        services.revoke_token(current_actor(), token_id)
        flash(_("The token is revoked."), "success")
    return redirect(url_for("accounts.profile"))


# --------------------------------------------------------------------------- personal data (personal_data.py)

def _download(body: bytes, mimetype: str, extension: str) -> Response:
    filename = f"my-data-{utc_to_local(now()):%Y%m%d}.{extension}"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={filename}",
        "Cache-Control": "no-store",
    })


@bp.route("/data.json")
@login_required
def export_json():
    """Everything stored about me, as JSON."""
    return _download(personal_data.export_json(current_actor()),
                     "application/json", "json")


@bp.route("/data.xlsx")
@login_required
def export_xlsx():
    """Everything stored about me, as an Excel workbook (one sheet per table)."""
    return _download(personal_data.export_xlsx(current_actor()),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")


@bp.route("/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    user = current_actor()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            throttle.counted(user.mobile, "password", personal_data.check_password, user, form.password.data)
        except throttle.LoginThrottled as error:
            return _throttled(form, form.password, error, "accounts/delete.html")
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            clear_phone = user.uses_door_page  # asked first: erasing drops the account's roles
            personal_data.erase_account(user)
            logout_user()
            session.clear()
            flash(_("Your account and your personal data have been deleted."), "success")
            response = redirect(url_for("main.home"))
            if clear_phone:  # as at logout: no roster copies or offline pages stay on the phone
                response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
            return response
    return render_template("accounts/delete.html", form=form), \
        (422 if form.is_submitted() and form.errors else 200)
