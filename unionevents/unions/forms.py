"""Forms of the union tree's administration page."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange

from ..core.db import MAX_ID
from ..core.forms import REQUIRED_MESSAGE, BaseForm, enum_choices, strip_filter
from .models import NAME_MAX, NodeLevel


class AddChildForm(BaseForm):
    name = StringField(_l("Name of the new union"), filters=[strip_filter],
                       validators=[DataRequired(REQUIRED_MESSAGE), Length(max=NAME_MAX)])
    kind = SelectField(_l("Kind"), choices=[], validate_choice=True)
    submit = SubmitField(_l("Add"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = enum_choices(NodeLevel)


class RenameForm(BaseForm):
    name = StringField(_l("New name"), filters=[strip_filter],
                       validators=[DataRequired(REQUIRED_MESSAGE), Length(max=NAME_MAX)])
    submit = SubmitField(_l("Rename"))


class TargetForm(BaseForm):
    """Move under, or merge into, the union chosen from the search results (a hidden id)."""

    target_id = IntegerField(validators=[DataRequired(_l("Please choose a union from the search results.")),
                                         NumberRange(min=1, max=MAX_ID)])
