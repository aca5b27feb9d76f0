"""The assessment form: it only carries the input; ``rules.clean_assessment`` (via the service)
checks it, and the view puts each message back on its field."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..core.forms import BaseForm
from . import rules
from .rules import SpineFinding
from .services import SEARCH_MAX


def _finding_choices():
    return [SelectChoice("", _l("Not assessed"))] + [SelectChoice(f.value, f.title) for f in SpineFinding]


def _number(label, description=None, decimal=False):
    return StringField(label, description=description,
                       render_kw={"inputmode": "decimal" if decimal else "numeric", "autocomplete": "off",
                                  "maxlength": 8})


class AssessmentForm(BaseForm):
    systolic = _number(_l("Systolic pressure (mmHg)"),
                       _l("%(min)d–%(max)d", min=rules.SYSTOLIC_RANGE[0], max=rules.SYSTOLIC_RANGE[1]))
    diastolic = _number(_l("Diastolic pressure (mmHg)"),
                        _l("%(min)d–%(max)d, lower than the systolic pressure",
                           min=rules.DIASTOLIC_RANGE[0], max=rules.DIASTOLIC_RANGE[1]))
    heart_rate = _number(_l("Heart rate (beats per minute)"),
                         _l("%(min)d–%(max)d", min=rules.HEART_RATE_RANGE[0], max=rules.HEART_RATE_RANGE[1]))
    height_cm = _number(_l("Height (cm)"), _l("%(min)d–%(max)d, one decimal at most",
                                              min=int(rules.HEIGHT_RANGE[0]), max=int(rules.HEIGHT_RANGE[1])),
                        decimal=True)
    weight_kg = _number(_l("Weight (kg)"), _l("%(min)d–%(max)d, one decimal at most",
                                              min=int(rules.WEIGHT_RANGE[0]), max=int(rules.WEIGHT_RANGE[1])),
                        decimal=True)
    cervical = SelectField(_l("Cervical spine"), choices=_finding_choices, validate_choice=False)
    cervical_note = StringField(_l("Cervical spine: note"), render_kw={"maxlength": rules.NOTE_MAX})
    lumbar = SelectField(_l("Lumbar spine"), choices=_finding_choices, validate_choice=False)
    lumbar_note = StringField(_l("Lumbar spine: note"), render_kw={"maxlength": rules.NOTE_MAX})
    advice = TextAreaField(_l("Advice"),
                           description=_l("Rehabilitation and lifestyle advice for the worker."),
                           render_kw={"rows": 5, "maxlength": rules.ADVICE_MAX})
    follow_up = BooleanField(_l("Needs a follow-up"))
    version = HiddenField()
    submit = SubmitField(_l("Save the assessment"))

    def raw(self) -> dict:
        return {name: self[name].data for name in rules.FIELD_NAMES}

    def expected_version(self) -> int | None:
        try:
            return int(self.version.data) if self.version.data not in (None, "") else None
        except (TypeError, ValueError):
            return -1  # never a real version: reported as "changed meanwhile"

    @classmethod
    def for_assessment(cls, assessment) -> "AssessmentForm":
        values = assessment.values()
        data = {name: ("" if getattr(values, name) is None else getattr(values, name))
                for name in rules.FIELD_NAMES}
        data["cervical"] = values.cervical.value if values.cervical else ""
        data["lumbar"] = values.lumbar.value if values.lumbar else ""
        data["version"] = str(assessment.version)
        return cls(data=data)


class SearchForm(BaseForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search by name or the last 4 digits of the mobile number"),
                    render_kw={"maxlength": SEARCH_MAX, "autocomplete": "off"})
