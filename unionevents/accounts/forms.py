"""Account forms: sign-up, login, password, profile, role grants and imports."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms import ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from ..core.db import MAX_ID
from ..core.forms import REQUIRED_MESSAGE, BaseForm, enum_choices, strip_filter
from .models import Occupation, Role
from .services import (
    DISTRICT_MAX_LENGTH, MEMBER_CARD_MAX_LENGTH, NAME_MAX_LENGTH, TOKEN_LABEL_MAX_LENGTH, mobile_error,
    normalise_mobile,
)


class MobileNumber:
    """Validator: a mainland mobile number (spaces, dashes and +86 are tolerated and removed)."""

    def __call__(self, form, field):
        field.data = normalise_mobile(field.data)
        error = mobile_error(field.data)
        if error:
            raise ValidationError(error)


def _occupation_choices():
    return enum_choices(Occupation)


def coerce_optional_int(value):
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return -1  # never a valid id: the service reports "choose a union from the list"
    # Beyond the id range: also never valid (and PostgreSQL would overflow comparing it with an id).
    return number if -MAX_ID <= number <= MAX_ID else -1


CODE_REQUIRED = _l("Please enter the code we sent to your mobile number.")


def _code_field(description=None):
    return StringField(_l("SMS code"), filters=[strip_filter],
                       validators=[DataRequired(CODE_REQUIRED), Length(max=12)],
                       description=description or _l("6 digits, valid for 5 minutes."),
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code",
                                  "maxlength": 12})


def _send_button():
    return SubmitField(_l("Send code"))


class SignupForm(BaseForm):
    mobile = StringField(_l("Mobile number"), filters=[strip_filter],
                         validators=[DataRequired(REQUIRED_MESSAGE), MobileNumber()],
                         render_kw={"inputmode": "tel", "autocomplete": "tel"})
    send = _send_button()
    code = _code_field(_l("Press “Send code”: we text a 6-digit code to prove the number is yours."))
    name = StringField(_l("Name"), filters=[strip_filter],
                       validators=[DataRequired(REQUIRED_MESSAGE), Length(max=NAME_MAX_LENGTH)],
                       render_kw={"autocomplete": "name"})
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED_MESSAGE)],
                             description=_l("At least 8 characters, with letters and digits."),
                             render_kw={"autocomplete": "new-password"})
    password_again = PasswordField(
        _l("Password again"),
        validators=[DataRequired(REQUIRED_MESSAGE), EqualTo("password", _l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"})
    union_id = SelectField(_l("Your union"), coerce=coerce_optional_int, validate_choice=False,
                           description=_l("Type to search; choose “not a member” if you have no union."))
    occupation = SelectField(_l("Occupation"), choices=_occupation_choices, default=Occupation.OTHER.value)
    district = StringField(_l("District"), filters=[strip_filter], validators=[Optional(), Length(max=DISTRICT_MAX_LENGTH)])
    member_card_no = StringField(_l("Member card number (optional)"), filters=[strip_filter],
                                 validators=[Optional(), Length(max=MEMBER_CARD_MAX_LENGTH)])
    accept_privacy = BooleanField(_l("I have read and accept the privacy notice."))
    next = HiddenField()
    submit = SubmitField(_l("Create account"))


class LoginForm(BaseForm):
    mobile = StringField(_l("Mobile number"), filters=[strip_filter],
                         validators=[DataRequired(REQUIRED_MESSAGE)],
                         render_kw={"inputmode": "tel", "autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED_MESSAGE)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Remember me on this device"))
    next = HiddenField()
    submit = SubmitField(_l("Log in"))


class CodeLoginForm(BaseForm):
    """Log in with a code sent by SMS: "Send code" first, then the code (two buttons, no script)."""

    mobile = StringField(_l("Mobile number"), filters=[strip_filter],
                         validators=[DataRequired(REQUIRED_MESSAGE), MobileNumber()],
                         render_kw={"inputmode": "tel", "autocomplete": "username"})
    send = _send_button()
    code = _code_field()
    remember = BooleanField(_l("Remember me on this device"))
    next = HiddenField()
    submit = SubmitField(_l("Log in"))


class ResetPasswordForm(BaseForm):
    """Forgotten password: a code sent to the mobile number, then a new password."""

    mobile = StringField(_l("Mobile number"), filters=[strip_filter],
                         validators=[DataRequired(REQUIRED_MESSAGE), MobileNumber()],
                         render_kw={"inputmode": "tel", "autocomplete": "username"})
    send = _send_button()
    code = _code_field()
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED_MESSAGE)],
                             description=_l("At least 8 characters, with letters and digits."),
                             render_kw={"autocomplete": "new-password"})
    password_again = PasswordField(
        _l("New password again"),
        validators=[DataRequired(REQUIRED_MESSAGE), EqualTo("password", _l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"})
    next = HiddenField()
    submit = SubmitField(_l("Set new password"))


class SetPasswordForm(BaseForm):
    """A first password for an account that has logged in with codes only."""

    new_password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED_MESSAGE)],
                                 description=_l("At least 8 characters, with letters and digits."),
                                 render_kw={"autocomplete": "new-password"})
    new_password_again = PasswordField(
        _l("New password again"),
        validators=[DataRequired(REQUIRED_MESSAGE), EqualTo("new_password", _l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Set password"))


class ChangePasswordForm(BaseForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED_MESSAGE)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED_MESSAGE)],
                                 description=_l("At least 8 characters, with letters and digits."),
                                 render_kw={"autocomplete": "new-password"})
    new_password_again = PasswordField(
        _l("New password again"),
        validators=[DataRequired(REQUIRED_MESSAGE), EqualTo("new_password", _l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Change password"))


class ProfileForm(BaseForm):
    name = StringField(_l("Name"), filters=[strip_filter],
                       validators=[DataRequired(REQUIRED_MESSAGE), Length(max=NAME_MAX_LENGTH)])
    union_id = SelectField(_l("Your union"), coerce=coerce_optional_int, validate_choice=False)
    occupation = SelectField(_l("Occupation"), choices=_occupation_choices)
    district = StringField(_l("District"), filters=[strip_filter], validators=[Optional(), Length(max=DISTRICT_MAX_LENGTH)])
    member_card_no = StringField(_l("Member card number (optional)"), filters=[strip_filter],
                                 validators=[Optional(), Length(max=MEMBER_CARD_MAX_LENGTH)])
    submit = SubmitField(_l("Save"))


class GrantRoleForm(BaseForm):
    mobile = StringField(_l("Mobile number"), filters=[strip_filter],
                         validators=[DataRequired(REQUIRED_MESSAGE), MobileNumber()])
    role = SelectField(_l("Role"), choices=lambda: [SelectChoice(r.value, r.title) for r in Role
                                                     if r in (Role.ADMIN, Role.ORGANISER, Role.OFFICER)])
    node_id = SelectField(_l("Union"), coerce=coerce_optional_int, validate_choice=False)
    submit = SubmitField(_l("Grant role"))


class ImportForm(BaseForm):
    file = FileField(_l("Spreadsheet (CSV or XLSX)"), validators=[
        FileRequired(_l("Please choose a file.")),
        FileAllowed(["csv", "xlsx"], _l("Only CSV and XLSX files can be imported.")),
    ])
    submit = SubmitField(_l("Import"))


class TokenForm(BaseForm):
    label = StringField(_l("Name of the device or app"), filters=[strip_filter],
                        validators=[Optional(), Length(max=TOKEN_LABEL_MAX_LENGTH)])
    submit = SubmitField(_l("Create token"))


class AcceptPrivacyForm(BaseForm):
    accept_privacy = BooleanField(_l("I have read and accept the privacy notice."))
    next = HiddenField()
    submit = SubmitField(_l("Continue"))


class EmptyForm(BaseForm):
    """A form with nothing but the CSRF token, for one-button actions."""

    submit = SubmitField(_l("Confirm"))


class DeleteAccountForm(BaseForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(REQUIRED_MESSAGE)],
                             description=_l("To make sure it is really you."),
                             render_kw={"autocomplete": "current-password"})
    understood = BooleanField(_l("I understand that my account and my personal data will be deleted "
                                 "and cannot be restored."),
                              validators=[DataRequired(_l("Please confirm that you understand."))])
    submit = SubmitField(_l("Delete my account"))
