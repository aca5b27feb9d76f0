"""The organiser's reminder setting for one activity."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField, SubmitField
from wtforms.validators import Length, Optional

from ..core.forms import BaseForm


class ReminderForm(BaseForm):
    hours = StringField(
        _l("Reminders, in hours before the start"), validators=[Optional(), Length(max=40)],
        description=_l("For example 24, 2 (the default): a reminder a day before and two hours before. "
                       "Leave it empty for no reminders."))
    submit = SubmitField(_l("Save"))
