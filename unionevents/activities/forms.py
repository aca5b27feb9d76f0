"""Organiser forms for activities, time slots, questions and unit quotas.

Forms only parse and check the shape of the input (types, lengths, required);
every business rule lives in ``services.py`` and its messages are put back on
the matching field by the view.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField, DateField, DateTimeLocalField, IntegerField, SelectField, SelectMultipleField,
    StringField, SubmitField, TextAreaField, TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..accounts.models import Occupation
from ..core.db import MAX_ID
from ..core.forms import REQUIRED_MESSAGE, BaseForm, enum_choices, strip_filter
from .models import ActivityKind, ActivityStatus, QuestionKind, SignupMode, Visibility
from .services import (
    CANCEL_REASON_MAX, DESCRIPTION_MAX, MAX_CAPACITY, QUESTION_LABEL_MAX, TITLE_MAX, VENUE_MAX,
)

#: What a ``datetime-local`` input sends (with or without seconds).
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
DATETIME_MESSAGE = _l("Please enter a date and time.")


def when(label, required: bool = True, description=None):
    """A datetime-local input, read as Asia/Shanghai wall-clock time."""
    validators = [InputRequired(REQUIRED_MESSAGE)] if required else [Optional()]
    return DateTimeLocalField(label, validators=validators, format=LOCAL_FORMATS,
                              invalid_value_message=DATETIME_MESSAGE, description=description)


def places(label, minimum: int = 0, required: bool = True, description=None):
    validators = [InputRequired(REQUIRED_MESSAGE)] if required else [Optional()]
    validators.append(NumberRange(min=minimum, max=MAX_CAPACITY,
                                  message=_l("Please enter a number from %(min)d to %(max)d.")))
    return IntegerField(label, validators=validators, description=description,
                        render_kw={"inputmode": "numeric", "min": minimum, "max": MAX_CAPACITY})


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (easier to tap on a phone than a multi-select)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def coerce_int_or_none(value):
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return -1  # never a valid id: the choice check reports it
    # Beyond the id range: also never valid (and PostgreSQL would overflow comparing it with an id).
    return number if -MAX_ID <= number <= MAX_ID else -1


class ActivityForm(BaseForm):
    title = StringField(_l("Title"), filters=[strip_filter],
                        validators=[DataRequired(REQUIRED_MESSAGE), Length(max=TITLE_MAX)])
    kind = SelectField(_l("Kind of activity"), choices=lambda: enum_choices(ActivityKind),
                       default=ActivityKind.CLASS_.value)
    node_id = SelectField(_l("Organising union"), coerce=coerce_int_or_none,
                          validators=[DataRequired(REQUIRED_MESSAGE)],
                          description=_l("Only unions in your scope are listed."))
    description = TextAreaField(_l("Description"), filters=[strip_filter],
                                validators=[Optional(), Length(max=DESCRIPTION_MAX)],
                                render_kw={"rows": 5})
    venue = StringField(_l("Venue"), filters=[strip_filter], validators=[Optional(), Length(max=VENUE_MAX)])
    starts_at = when(_l("Starts"), description=_l("Beijing time."))
    ends_at = when(_l("Ends"))
    signup_opens_at = when(_l("Sign-up opens"))
    signup_closes_at = when(_l("Sign-up closes"), description=_l("Must be before the activity starts."))
    cancel_cutoff_at = when(_l("Cancellation deadline (optional)"), required=False,
                            description=_l("Until then workers can cancel themselves. "
                                           "Leave empty to allow it until the start."))
    capacity = places(_l("Places"), required=False,
                      description=_l("With time slots, the places are the sum of the slots' places."))
    waitlist_enabled = BooleanField(_l("Keep a waiting list when full"), default=True)
    mode = SelectField(_l("Sign-up mode"), choices=lambda: enum_choices(SignupMode),
                       default=SignupMode.FIRST_COME.value)
    visibility = SelectField(_l("Who can see it"), choices=lambda: enum_choices(Visibility),
                             default=Visibility.PUBLIC.value)
    members_only = BooleanField(_l("Union members only"))
    occupations = MultiCheckboxField(_l("Only these occupations (optional)"),
                                     choices=lambda: enum_choices(Occupation),
                                     description=_l("Tick none to let every occupation sign up."))
    eligible_node_ids = SelectMultipleField(
        _l("Only workers of these unions (optional)"), coerce=int,
        description=_l("Workers of the chosen unions and the unions below them. Choose none for everyone. "
                       "Hold Ctrl (or long-press) to choose several."),
        render_kw={"size": 8})
    submit = SubmitField(_l("Save"))


class CancelActivityForm(BaseForm):
    reason = TextAreaField(_l("Reason (sent to everyone who signed up)"), filters=[strip_filter],
                           validators=[Optional(), Length(max=CANCEL_REASON_MAX)], render_kw={"rows": 3})
    submit = SubmitField(_l("Yes, cancel the activity"))


class CopyActivityForm(BaseForm):
    starts_at = when(_l("The copy starts"),
                     description=_l("The sign-up window, the cancellation deadline and the time slots move "
                                    "by the same amount."))
    submit = SubmitField(_l("Make a copy"))


class SlotForm(BaseForm):
    date = DateField(_l("Day"), validators=[InputRequired(REQUIRED_MESSAGE)],
                     invalid_value_message=_l("Please enter a date."))
    starts_at = TimeField(_l("From"), validators=[InputRequired(REQUIRED_MESSAGE)],
                          invalid_value_message=_l("Please enter a time."))
    ends_at = TimeField(_l("To"), validators=[InputRequired(REQUIRED_MESSAGE)],
                        invalid_value_message=_l("Please enter a time."))
    capacity = places(_l("Places"), minimum=1)
    submit = SubmitField(_l("Add slot"))


class SlotGenerateForm(BaseForm):
    date = DateField(_l("Day"), validators=[InputRequired(REQUIRED_MESSAGE)],
                     invalid_value_message=_l("Please enter a date."))
    first_start = TimeField(_l("First slot starts"), validators=[InputRequired(REQUIRED_MESSAGE)],
                            invalid_value_message=_l("Please enter a time."))
    last_end = TimeField(_l("Last slot ends"), validators=[InputRequired(REQUIRED_MESSAGE)],
                         invalid_value_message=_l("Please enter a time."))
    minutes = IntegerField(_l("Minutes per slot"), default=20,
                           validators=[InputRequired(REQUIRED_MESSAGE),
                                       NumberRange(min=1, max=24 * 60,
                                                   message=_l("Please enter a number from %(min)d to %(max)d."))],
                           render_kw={"inputmode": "numeric", "min": 1})
    capacity_each = places(_l("Places per slot"), minimum=1)
    submit = SubmitField(_l("Generate slots"))


class QuestionForm(BaseForm):
    label = StringField(_l("Question"), filters=[strip_filter],
                        validators=[DataRequired(REQUIRED_MESSAGE), Length(max=QUESTION_LABEL_MAX)])
    kind = SelectField(_l("Kind of answer"), choices=lambda: enum_choices(QuestionKind),
                       default=QuestionKind.TEXT.value)
    required = BooleanField(_l("An answer is required"))
    choices = TextAreaField(_l("Choices, one per line"), render_kw={"rows": 4},
                            description=_l("Only for single and multiple choice: at least two different "
                                           "choices."))
    submit = SubmitField(_l("Save question"))


class QuotaForm(BaseForm):
    node_id = SelectField(_l("Unit"), coerce=coerce_int_or_none, validators=[DataRequired(REQUIRED_MESSAGE)],
                          description=_l("Any union may get a quota, also outside your scope (for example a "
                                         "guest delegation); usually it is a union below yours. Saving a "
                                         "unit that already has a quota changes it."))
    quota = IntegerField(_l("Delegate places"),
                         validators=[InputRequired(REQUIRED_MESSAGE),
                                     NumberRange(min=0, max=MAX_CAPACITY,
                                                 message=_l("Please enter a number from %(min)d to %(max)d."))],
                         render_kw={"inputmode": "numeric", "min": 0})
    submit = SubmitField(_l("Save quota"))


class ActivityFilterForm(BaseForm):
    """The list filters (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"),
                         choices=lambda: [SelectChoice("", _l("All"))] + enum_choices(ActivityStatus),
                         validate_choice=False)
    kind = SelectField(_l("Kind"), choices=lambda: [SelectChoice("", _l("All"))] + enum_choices(ActivityKind),
                       validate_choice=False)
    node = SelectField(_l("Union (and below)"), coerce=coerce_int_or_none, validate_choice=False)
