"""Worker-facing account pages: sign-up, login (password or SMS code), password reset, logout, profile,
password, API tokens."""
from __future__ import annotations

import functools

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
from . import codes, services, throttle
from . import signup as signup_service
from . import privacy as personal_data  # not `privacy`: that name is the notice page's view
from .forms import (AcceptPrivacyForm, ChangePasswordForm, CodeLoginForm, DeleteAccountForm, EmptyForm, LoginForm, ProfileForm,
                    ResetPasswordForm, SetPasswordForm, SignupForm, TokenForm)
from .models import CodePurpose, Occupation, User

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


def _next_target(form) -> str:
    """Where to go after logging in or signing up: the page the visitor came from, if it is ours."""
    target = form.next.data or ""
    return target if target and is_safe_redirect(target) else url_for("main.home")


def _start_session(user: User, *, remember: bool = False) -> None:
    session.clear()  # a fresh session at login: no fixation
    login_user(user, remember=remember)


def _validate_only(form, *names: str) -> bool:
    """Validate the CSRF token and the named fields only (the "Send code" button needs only the number)."""
    ok = True
    for name in ("csrf_token", *names):
        field = getattr(form, name, None)
        if field is not None and not field.validate(form):
            ok = False
    return ok


def _send_code(form, purpose: CodePurpose, template: str, **context):
    """The form's "Send code" button: a code for the typed number, and the same answer for every number
    (README "SMS codes"); 429 with Retry-After when a send limit refuses it."""
    if not _validate_only(form, "mobile"):
        return render_template(template, form=form, **context), 422
    try:
        codes.send_code(form.mobile.data, purpose, request.remote_addr)
    except codes.CodeRateLimited as error:
        form.mobile.errors = [str(error.message)]
        response = current_app.make_response((render_template(template, form=form, **context), 429))
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    form.code.data = ""
    flash(_("A code is on its way to %(mobile)s by SMS. It is valid for 5 minutes.",
            mobile=form.mobile.data), "info")
    return render_template(template, form=form, code_sent=True, **context)


def _signup_context() -> dict:
    return {"privacy_version": current_app.config["PRIVACY_NOTICE_VERSION"]}


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_signup_limit, methods=["POST"])
@public
def signup():
    form = SignupForm()
    form.union_id.choices = _union_choices()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")[:500]
        form.mobile.data = request.args.get("mobile", "")[:20] or None
    if current_user.is_authenticated:
        return redirect(_next_target(form))
    if form.is_submitted() and form.send.data:
        return _send_code(form, CodePurpose.SIGNUP, "accounts/signup.html", **_signup_context())
    if form.is_submitted():
        if form.validate():
            try:
                user, created = throttle.counted(form.mobile.data, "code", functools.partial(
                    signup_service.register_worker,
                    mobile=form.mobile.data, name=form.name.data, password=form.password.data,
                    union_id=form.union_id.data, occupation=Occupation(form.occupation.data),
                    district=form.district.data, member_card_no=form.member_card_no.data,
                    accept_privacy=form.accept_privacy.data, code=form.code.data,
                ))
            except throttle.LoginThrottled as error:
                return _throttled(form, form.code, error, "accounts/signup.html", **_signup_context())
            except (ValidationFailed, Conflict) as error:
                apply_service_errors(form, error)
            else:
                _start_session(user)
                if created:
                    flash(_("Welcome, %(name)s! Your account is ready.", name=user.name), "success")
                else:  # a walk-in or imported worker: the number already had an account, now proven theirs
                    flash(_("This mobile number already had an account (your union may have made it for you). "
                            "You are now logged in to it."), "success")
                    if not user.has_password:
                        flash(_("To log in without a code next time, set a password on your account page."),
                              "info")
                return redirect(_next_target(form))
        else:
            # Every error at once: the service's own checks too, not only the form's.
            for name, messages in services.signup_errors(
                    mobile=form.mobile.data or "", name=form.name.data or "", password=form.password.data or "",
                    union_id=form.union_id.data, member_card_no=form.member_card_no.data,
                    accept_privacy=bool(form.accept_privacy.data)).items():
                field = getattr(form, name)
                if not field.errors:
                    field.errors = list(messages)
    return render_template("accounts/signup.html", form=form, **_signup_context()), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/activate")
@public
def activate():
    """The old activation page (its address is in SMS already sent): now the code login."""
    mobile = request.args.get("mobile", "")[:20]
    return redirect(url_for("accounts.code_login", mobile=mobile or None), 301)


@bp.route("/login", methods=["GET", "POST"])
@throttle.address_failures()
@public
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")[:500]
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
            _start_session(user, remember=form.remember.data)
            flash(_("You are logged in."), "success")
            return redirect(_next_target(form))
    return render_template("accounts/login.html", form=form), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/login/code", methods=["GET", "POST"])
@throttle.address_failures()
@public
def code_login():
    """Log in with a code sent by SMS (短信验证码登录): every worker, and the only way in for an account
    made by the union until its worker sets a password."""
    form = CodeLoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")[:500]
        form.mobile.data = request.args.get("mobile", "")[:20] or None
        if current_user.is_authenticated:
            return redirect(url_for("main.home"))
    if form.is_submitted() and form.send.data:
        return _send_code(form, CodePurpose.LOGIN, "accounts/code_login.html")
    if form.validate_on_submit():
        try:
            user = throttle.code_login(form.mobile.data, form.code.data)
        except throttle.LoginThrottled as error:
            return _throttled(form, form.code, error, "accounts/code_login.html")
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            _start_session(user, remember=form.remember.data)
            flash(_("You are logged in."), "success")
            if not user.has_password:
                flash(_("To log in without a code next time, set a password on your account page."), "info")
            return redirect(_next_target(form))
    return render_template("accounts/code_login.html", form=form), \
        (422 if form.is_submitted() and form.errors else 200)


@bp.route("/password/reset", methods=["GET", "POST"])
@throttle.address_failures()
@public
def reset_password():
    """Forgotten password (忘记密码): a code sent to the mobile number, then a new password."""
    form = ResetPasswordForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")[:500]
        form.mobile.data = request.args.get("mobile", "")[:20] or None
    if form.is_submitted() and form.send.data:
        return _send_code(form, CodePurpose.RESET, "accounts/reset_password.html")
    if form.validate_on_submit():
        try:
            user = throttle.counted(form.mobile.data, "code", codes.reset_password,
                                    form.mobile.data, form.code.data, form.password.data)
        except throttle.LoginThrottled as error:
            return _throttled(form, form.code, error, "accounts/reset_password.html")
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            _start_session(user)
            flash(_("Your password is changed. Other devices have been logged out."), "success")
            return redirect(_next_target(form))
    return render_template("accounts/reset_password.html", form=form), \
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


#: Pages a worker who has not yet accepted the privacy notice may still open: the notice, the form to
#: accept it, logging out, switching language, and what is not a page.
CONSENT_FREE = {"accounts.accept_privacy", "accounts.privacy", "accounts.logout", "main.set_language",
                "main.healthz", "metrics", "static", "phone.service_worker"}


@bp.before_app_request
def require_privacy_consent():
    """An account made on a worker's behalf: its worker accepts the notice before anything else."""
    if request.path.startswith("/api/") or request.endpoint in CONSENT_FREE:
        return None
    if not current_user.is_authenticated or not services.needs_privacy_consent(current_user):
        return None
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("accounts.accept_privacy", next=target))


@bp.route("/privacy/accept", methods=["GET", "POST"])
@login_required
def accept_privacy():
    """Accept the privacy notice (the first login of an account the union made), then go on."""
    form = AcceptPrivacyForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")[:500]
    if not services.needs_privacy_consent(current_user):
        return redirect(_next_target(form))
    if form.validate_on_submit():
        if form.accept_privacy.data:
            services.accept_privacy_notice(current_actor())
            flash(_("Thank you. You can now use your account."), "success")
            return redirect(_next_target(form))
        form.accept_privacy.errors.append(_("Please read and accept the privacy notice."))
    return render_template("accounts/accept_privacy.html", form=form,
                           version=current_app.config["PRIVACY_NOTICE_VERSION"]), \
        (422 if form.is_submitted() else 200)


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
    if not user.has_password:
        return _set_first_password(user)
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


def _set_first_password(user: User):
    """An account that logs in with codes only (made by the union): no current password to ask for."""
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_first_password(user, form.new_password.data)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("Your password is set. You can log in with it or with a code."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/set_password.html", form=form), \
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
