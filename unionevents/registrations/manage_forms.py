"""Organiser forms for the roster and the door (CSRF from Flask-WTF; the rules live in the services)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..accounts.services import NAME_MAX_LENGTH
from ..core.forms import REQUIRED_MESSAGE, BaseForm, enum_choices, strip_filter
from .models import RegistrationState
from .services import NOTICE_BODY_MAX, NOTICE_SUBJECT_MAX


class EmptyForm(BaseForm):
    """A button that only needs the CSRF token."""


class TicketForm(BaseForm):
    token = StringField(_l("Ticket code"), filters=[strip_filter],
                        validators=[DataRequired(REQUIRED_MESSAGE), Length(max=200)],
                        description=_l("Scan the QR code on the worker's ticket, or type the code under it."),
                        render_kw={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"})
    submit = SubmitField(_l("Check in by ticket"))


class WalkInForm(BaseForm):
    mobile = StringField(_l("Mobile number"), filters=[strip_filter],
                         validators=[DataRequired(REQUIRED_MESSAGE), Length(max=20)],
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
    name = StringField(_l("Name"), filters=[strip_filter], validators=[Optional(), Length(max=NAME_MAX_LENGTH)],
                       description=_l("Needed only when this mobile number has no account yet; "
                                      "the worker logs in later with an SMS code."),
                       render_kw={"autocomplete": "off"})
    slot_id = SelectField(_l("Time slot"), choices=[], validate_choice=False)
    check_in_now = BooleanField(_l("Check in now"), default=True)
    full_override_reason = StringField(
        _l("Admit over capacity: reason"), filters=[strip_filter], validators=[Optional(), Length(max=200)],
        description=_l("Only when the activity is full: an organiser admits this walk-in anyway, for the reason "
                       "given here. One place is added for them; the reason and your name are recorded."),
        render_kw={"autocomplete": "off"})
    return_to = HiddenField(default="checkin")
    submit = SubmitField(_l("Register walk-in"))


def slot_choices(slots) -> list[SelectChoice]:
    """An organiser's time-slot options (walk-in, enrolling members): "Choose" first, then each slot's
    start and the places it has left."""
    from flask_babel import format_datetime, gettext as _

    def label(slot) -> str:
        # Not inside the f-string: pybabel does not look for _() there, and the text went untranslated.
        left = _("%(n)d left", n=slot.places_left)
        return f"{format_datetime(slot.starts_at, 'short')} ({left})"

    return [SelectChoice("", _("Choose a time slot"))] + [SelectChoice(str(slot.id), label(slot)) for slot in slots]


def state_choices():
    """(value, title) pairs for the roster's plain state filter (not a WTForms field)."""
    return [("", _l("Any state"))] + [(s.value, s.title) for s in RegistrationState]


class MessageForm(BaseForm):
    audience = RadioField(_l("Send to"), choices=[
        SelectChoice("all", _l("Everyone registered (not cancelled or rejected)")),
        SelectChoice("state", _l("Everyone in one state")),
        SelectChoice("selected", _l("The registrations I ticked")),
    ], default="all", validators=[DataRequired(REQUIRED_MESSAGE)])
    state = SelectField(_l("State"), choices=lambda: enum_choices(RegistrationState), validate_choice=True)
    subject = StringField(_l("Subject"), filters=[strip_filter],
                          validators=[Optional(), Length(max=NOTICE_SUBJECT_MAX)],
                          description=_l("Optional; the activity's title when empty."))
    body = TextAreaField(_l("Message"), filters=[strip_filter],
                         validators=[DataRequired(REQUIRED_MESSAGE), Length(max=NOTICE_BODY_MAX)],
                         description=_l("Sent by SMS: keep it short (at most %(n)d characters).",
                                        n=NOTICE_BODY_MAX))
    submit = SubmitField(_l("Send message"))


class ExportForm(BaseForm):
    format = RadioField(_l("Format"),
                        choices=[SelectChoice("xlsx", _l("Excel (XLSX)")), SelectChoice("csv", _l("CSV"))],
                        default="xlsx", validators=[DataRequired(REQUIRED_MESSAGE)])
    full_mobile = BooleanField(_l("Full mobile numbers"),
                               description=_l("Only when you must call people; this download is recorded."))
    submit = SubmitField(_l("Download"))
