"""The sign-up form, built from an activity's custom questions (and its time slots for health services).

The form only parses: it turns each answer into its plain value (text, choice, list of choices, number,
yes/no) and reports what cannot be parsed.  The registration service decides what is acceptable and
its ``ValidationFailed`` errors ("slot_id", "consent", "q<id>") land on the fields of the same names.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import format_date, format_time
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Field, RadioField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..activities.models import Activity, ActivityKind, Question, QuestionKind
from ..core.forms import BaseForm, strip_filter
from .rules import TEXT_ANSWER_MAX

YES, NO = "yes", "no"
ANSWER_REQUIRED = _l("Please answer this question.")


def question_field_name(question: Question) -> str:
    """The form field (and service error key) for a question."""
    return f"q{question.id}"


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ChoiceRequired:
    """At least one box ticked / one option chosen (InputRequired cannot see a radio list's emptiness)."""

    field_flags = {"required": True}

    def __init__(self, message=ANSWER_REQUIRED):
        self.message = message

    def __call__(self, form, field):
        if not field.data:
            field.errors[:] = []
            raise StopValidation(str(self.message))


class NumberAnswer:
    """The text must be a number; the field's ``number`` becomes an int or a float."""

    def __call__(self, form, field):
        field.number = None
        if not field.data:
            return
        try:
            value = Decimal(field.data.replace(",", ""))
        except InvalidOperation:
            raise ValidationError(_l("Please enter a number, for example 3 or 2.5."))
        if not value.is_finite() or abs(value) > Decimal("1e9"):
            raise ValidationError(_l("Please enter a number, for example 3 or 2.5."))
        field.number = int(value) if value == value.to_integral_value() else float(value)


def _optional_str(value):
    """Coerce for radio lists: nothing chosen stays None (``str`` would make it "None")."""
    return None if value is None else str(value)


def _choice_field_kwargs():
    # Membership is checked by KnownChoice, with our own message.
    return {"validate_choice": False, "coerce": _optional_str}


class KnownChoice:
    """Every chosen value must be one of the field's options (a message instead of WTForms' English)."""

    def __call__(self, form, field):
        allowed = {str(choice.value) for choice in field.choices}
        chosen = field.data if isinstance(field.data, list) else [field.data]
        if any(value not in (None, "") and str(value) not in allowed for value in chosen):
            raise ValidationError(_l("Please choose from the options shown."))


class SignupFormBase(BaseForm):
    submit = SubmitField(_l("Sign up for this activity"))

    #: (question, field name) pairs in display order; set by ``build_signup_form``.
    question_fields: list[tuple[Question, str]] = []
    has_slots = False
    asks_consent = False

    def question_bound_fields(self):
        return [(question, self[name]) for question, name in self.question_fields]

    def answers(self) -> dict[str, object]:
        """Answers keyed by ``str(question.id)``; unanswered optional questions are left out."""
        result: dict[str, object] = {}
        for question, name in self.question_fields:
            field = self[name]
            if question.kind == QuestionKind.NUMBER:
                value = getattr(field, "number", None)
            elif question.kind == QuestionKind.YES_NO:
                value = {YES: True, NO: False}.get(field.data)
            elif question.kind == QuestionKind.MULTIPLE_CHOICE:
                value = list(field.data or []) or None
            else:
                value = field.data or None
            if value is not None:
                result[str(question.id)] = value
        return result

    def selected_slot_id(self) -> int | None:
        if not self.has_slots:
            return None
        value = self["slot_id"].data
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def consent_given(self) -> bool:
        return bool(self.asks_consent and self["consent"].data)

    def apply_errors(self, errors: dict[str, list[str]]) -> list[str]:
        """Put a service's per-field errors on the fields; returns the ones no field shows."""
        unplaced: list[str] = []
        for name, messages in errors.items():
            if name in self._fields and name != "submit":
                self[name].errors = list(self[name].errors or []) + [str(m) for m in messages]
            else:
                unplaced.extend(str(m) for m in messages)
        return unplaced


def _slot_label(slot) -> str:
    from flask_babel import gettext as _

    places = (_("%(left)d of %(total)d places left", left=slot.places_left, total=slot.capacity)
              if slot.places_left else _("Full"))
    return f"{format_date(slot.starts_at, 'short')} {format_time(slot.starts_at, 'short')}–" \
           f"{format_time(slot.ends_at, 'short')} · {places}"


def _question_field(question: Question) -> Field:
    label = question.label
    required = question.required
    if question.kind == QuestionKind.TEXT:
        validators = [InputRequired(ANSWER_REQUIRED) if required else Optional(),
                      Length(max=TEXT_ANSWER_MAX)]
        return TextAreaField(label, filters=[strip_filter], validators=validators,
                             render_kw={"rows": 3, "maxlength": TEXT_ANSWER_MAX})
    if question.kind == QuestionKind.NUMBER:
        validators = [InputRequired(ANSWER_REQUIRED) if required else Optional(), NumberAnswer()]
        return StringField(label, filters=[strip_filter], validators=validators,
                           render_kw={"inputmode": "decimal"})
    if question.kind == QuestionKind.YES_NO:
        validators = [ChoiceRequired()] if required else [Optional()]
        return RadioField(label, choices=[SelectChoice(YES, _l("Yes")), SelectChoice(NO, _l("No"))],
                          validators=validators + [KnownChoice()], **_choice_field_kwargs())
    choices = [SelectChoice(choice) for choice in question.choice_list()]
    validators = [ChoiceRequired()] if required else [Optional()]
    if question.kind == QuestionKind.MULTIPLE_CHOICE:
        return MultiCheckboxField(label, choices=choices, validators=validators + [KnownChoice()],
                                  **_choice_field_kwargs())
    return RadioField(label, choices=choices, validators=validators + [KnownChoice()],
                      **_choice_field_kwargs())


def build_signup_form(activity: Activity, formdata=None) -> SignupFormBase:
    """A form class made for ``activity`` and an instance of it (bound to the request when posted)."""

    class SignupForm(SignupFormBase):
        pass

    question_fields = []
    for question in activity.questions:
        name = question_field_name(question)
        setattr(SignupForm, name, _question_field(question))
        question_fields.append((question, name))
    SignupForm.question_fields = question_fields

    if activity.uses_slots:
        SignupForm.has_slots = True
        SignupForm.slot_id = RadioField(
            _l("Time slot"), choices=[SelectChoice(str(slot.id), _slot_label(slot)) for slot in activity.slots],
            validators=[ChoiceRequired(_l("Please choose a time slot.")), KnownChoice()],
            **_choice_field_kwargs())
    if activity.kind == ActivityKind.HEALTH:
        SignupForm.asks_consent = True
        SignupForm.consent = BooleanField(
            _l("I agree that my health information is processed for this activity as described above."),
            validators=[InputRequired(_l("Please agree to the processing of your health information "
                                         "to book a health service."))],
        )
    kwargs = {} if formdata is None else {"formdata": formdata}
    return SignupForm(**kwargs)


def health_consent_version() -> str:
    return current_app.config["HEALTH_CONSENT_VERSION"]
