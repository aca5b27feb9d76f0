"""The organiser's reminder setting for one activity."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..core.forms import BaseForm


class ReminderForm(BaseForm):
    hours = StringField(
        _l("Reminders, in hours before the start"), validators=[Optional(), Length(max=40)],
        description=_l("For example 24, 2 (the default): a reminder a day before and two hours before. "
                       "Leave it empty for no reminders."))
    offer_hours = IntegerField(
        _l("Hours to answer a waiting-list offer"),
        validators=[InputRequired(), NumberRange(min=1, max=168)],
        description=_l("When a place frees up, the next on the waiting list has this long to accept it "
                       "(less near the start: at most half the time left), then it passes on."))
    submit = SubmitField(_l("Save"))
