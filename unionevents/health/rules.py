"""Pure rules of the health assessment: plausible ranges, BMI, and the cleaning of raw input.

No database and no request: the services and the tests call these with plain values.
"""
from __future__ import annotations

import re
import unicodedata

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from flask_babel import lazy_gettext as _l

from ..core.enums import LabelledEnum


class SpineFinding(LabelledEnum):
    NORMAL = "normal"
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"

    __titles__ = {
        "normal": _l("Normal"),
        "mild": _l("Mild problem"),
        "moderate": _l("Moderate problem"),
        "severe": _l("Severe problem"),
    }


class BmiCategory(LabelledEnum):
    """Adult BMI categories of the Chinese standard WS/T 428-2013."""

    UNDERWEIGHT = "underweight"
    NORMAL = "normal"
    OVERWEIGHT = "overweight"
    OBESE = "obese"

    __titles__ = {
        "underweight": _l("Underweight"),
        "normal": _l("Normal weight"),
        "overweight": _l("Overweight"),
        "obese": _l("Obese"),
    }


# --------------------------------------------------------------------------- plausible ranges

SYSTOLIC_RANGE = (60, 260)        # mmHg
DIASTOLIC_RANGE = (30, 160)       # mmHg, and below the systolic pressure
HEART_RATE_RANGE = (30, 220)      # beats per minute
HEIGHT_RANGE = (Decimal(100), Decimal(230))   # cm
WEIGHT_RANGE = (Decimal(25), Decimal(300))    # kg
#: Height and weight are kept to one decimal.
ONE_DECIMAL = Decimal("0.1")
NOTE_MAX = 200
ADVICE_MAX = 2000

#: BMI thresholds (WS/T 428-2013): below 18.5 underweight, from 24 overweight, from 28 obese.
BMI_UNDERWEIGHT_BELOW = Decimal("18.5")
BMI_OVERWEIGHT_FROM = Decimal("24")
BMI_OBESE_FROM = Decimal("28")


def bmi(height_cm: float | Decimal | None, weight_kg: float | Decimal | None) -> Decimal | None:
    """Body-mass index, kg / m², to one decimal; None unless both are given and the height is positive."""
    if height_cm is None or weight_kg is None:
        return None
    height_m = Decimal(str(height_cm)) / 100
    if height_m <= 0:
        return None
    return (Decimal(str(weight_kg)) / (height_m * height_m)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def bmi_category(value: Decimal | None) -> BmiCategory | None:
    if value is None:
        return None
    if value < BMI_UNDERWEIGHT_BELOW:
        return BmiCategory.UNDERWEIGHT
    if value < BMI_OVERWEIGHT_FROM:
        return BmiCategory.NORMAL
    if value < BMI_OBESE_FROM:
        return BmiCategory.OVERWEIGHT
    return BmiCategory.OBESE


# --------------------------------------------------------------------------- cleaning input

@dataclass(frozen=True)
class AssessmentValues:
    """One assessment's values, cleaned (every field may be empty, but not all of them)."""

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    height_cm: Decimal | None = None
    weight_kg: Decimal | None = None
    cervical: SpineFinding | None = None
    cervical_note: str = ""
    lumbar: SpineFinding | None = None
    lumbar_note: str = ""
    advice: str = ""
    follow_up: bool = False

    @property
    def bmi(self) -> Decimal | None:
        return bmi(self.height_cm, self.weight_kg)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FIELD_NAMES = tuple(f.name for f in fields(AssessmentValues))

MSG_WHOLE_NUMBER = _l("Please enter a whole number.")
MSG_NUMBER = _l("Please enter a number (at most one decimal).")
MSG_SYSTOLIC = _l("Systolic pressure must be between %(min)d and %(max)d mmHg.", min=SYSTOLIC_RANGE[0],
                  max=SYSTOLIC_RANGE[1])
MSG_DIASTOLIC = _l("Diastolic pressure must be between %(min)d and %(max)d mmHg.", min=DIASTOLIC_RANGE[0],
                   max=DIASTOLIC_RANGE[1])
MSG_DIASTOLIC_BELOW = _l("Diastolic pressure must be lower than the systolic pressure.")
MSG_PRESSURE_PAIR = _l("Please enter both the systolic and the diastolic pressure, or neither.")
MSG_HEART_RATE = _l("Heart rate must be between %(min)d and %(max)d beats per minute.",
                    min=HEART_RATE_RANGE[0], max=HEART_RATE_RANGE[1])
MSG_HEIGHT = _l("Height must be between %(min)d and %(max)d cm.", min=int(HEIGHT_RANGE[0]),
                max=int(HEIGHT_RANGE[1]))
MSG_WEIGHT = _l("Weight must be between %(min)d and %(max)d kg.", min=int(WEIGHT_RANGE[0]),
                max=int(WEIGHT_RANGE[1]))
MSG_HEIGHT_WEIGHT_PAIR = _l("Please enter both height and weight (for the BMI), or neither.")
MSG_FINDING = _l("Please choose one of the listed findings.")
MSG_NOTE_LENGTH = _l("Please keep the note within %(max)d characters.", max=NOTE_MAX)
MSG_ADVICE_LENGTH = _l("Please keep the advice within %(max)d characters.", max=ADVICE_MAX)
MSG_NOTE_WITHOUT_FINDING = _l("Please choose a finding for this note.")
MSG_EMPTY = _l("Please record at least one measurement, finding or piece of advice.")


_WHOLE = re.compile(r"[0-9]{1,4}")
_ONE_DECIMAL = re.compile(r"[0-9]{1,4}(\.[0-9])?")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(raw: Any) -> str:
    """Text as entered, without control characters (PostgreSQL refuses NUL) and outer spaces."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raw = str(raw)
    return _CONTROL.sub("", raw.replace("\r\n", "\n")).strip()


def _digits(raw: Any) -> str:
    """A number as typed; full-width digits and points from a Chinese keyboard become ASCII."""
    return unicodedata.normalize("NFKC", _text(raw)).replace(",", ".").replace("。", ".")


def _whole(raw: Any, low: int, high: int, message, errors: dict, name: str) -> int | None:
    text = _digits(raw)
    if text == "":
        return None
    if isinstance(raw, bool) or not _WHOLE.fullmatch(text):
        errors[name] = [MSG_WHOLE_NUMBER]
        return None
    value = int(text)
    if not low <= value <= high:
        errors[name] = [message]
        return None
    return value


def _decimal(raw: Any, low: Decimal, high: Decimal, message, errors: dict, name: str) -> Decimal | None:
    text = _digits(raw)
    if text == "":
        return None
    if isinstance(raw, bool) or not _ONE_DECIMAL.fullmatch(text):
        errors[name] = [MSG_NUMBER]
        return None
    value = Decimal(text)
    if not low <= value <= high:
        errors[name] = [message]
        return None
    return value.quantize(ONE_DECIMAL)


def _finding(raw: Any, errors: dict, name: str) -> SpineFinding | None:
    if isinstance(raw, SpineFinding):
        return raw
    text = _text(raw)
    if text == "":
        return None
    try:
        return SpineFinding(text)
    except ValueError:
        errors[name] = [MSG_FINDING]
        return None


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    return _text(raw).lower() in {"1", "y", "yes", "true", "on"}


def clean_assessment(raw: Mapping[str, Any]) -> tuple[AssessmentValues | None, dict[str, list]]:
    """Check raw input (strings from a form or JSON values) against the plausible ranges.

    Returns the cleaned values, or None and a message list per field name.
    """
    errors: dict[str, list] = {}
    systolic = _whole(raw.get("systolic"), *SYSTOLIC_RANGE, MSG_SYSTOLIC, errors, "systolic")
    diastolic = _whole(raw.get("diastolic"), *DIASTOLIC_RANGE, MSG_DIASTOLIC, errors, "diastolic")
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        errors["diastolic"] = [MSG_DIASTOLIC_BELOW]
    if not errors.keys() & {"systolic", "diastolic"}:
        if (systolic is None) != (diastolic is None):
            errors["systolic" if systolic is None else "diastolic"] = [MSG_PRESSURE_PAIR]
    heart_rate = _whole(raw.get("heart_rate"), *HEART_RATE_RANGE, MSG_HEART_RATE, errors, "heart_rate")
    height = _decimal(raw.get("height_cm"), *HEIGHT_RANGE, MSG_HEIGHT, errors, "height_cm")
    weight = _decimal(raw.get("weight_kg"), *WEIGHT_RANGE, MSG_WEIGHT, errors, "weight_kg")
    if not errors.keys() & {"height_cm", "weight_kg"}:
        if (height is None) != (weight is None):
            errors["height_cm" if height is None else "weight_kg"] = [MSG_HEIGHT_WEIGHT_PAIR]
    cervical = _finding(raw.get("cervical"), errors, "cervical")
    lumbar = _finding(raw.get("lumbar"), errors, "lumbar")
    notes = {}
    for name, finding in (("cervical_note", cervical), ("lumbar_note", lumbar)):
        notes[name] = _text(raw.get(name))
        if len(notes[name]) > NOTE_MAX:
            errors[name] = [MSG_NOTE_LENGTH]
        elif notes[name] and finding is None and name.split("_")[0] not in errors:
            errors[name.split("_")[0]] = [MSG_NOTE_WITHOUT_FINDING]
    advice = _text(raw.get("advice"))
    if len(advice) > ADVICE_MAX:
        errors["advice"] = [MSG_ADVICE_LENGTH]
    if errors:
        return None, errors
    values = AssessmentValues(systolic=systolic, diastolic=diastolic, heart_rate=heart_rate, height_cm=height,
                              weight_kg=weight, cervical=cervical, cervical_note=notes["cervical_note"],
                              lumbar=lumbar, lumbar_note=notes["lumbar_note"], advice=advice,
                              follow_up=_flag(raw.get("follow_up")))
    if all(getattr(values, name) in (None, "") for name in FIELD_NAMES if name != "follow_up"):
        return None, {"": [MSG_EMPTY]}
    return values, {}


def changed_fields(before: AssessmentValues, after: AssessmentValues) -> list[str]:
    """Names of the fields an edit changed (a revision records these names, never the values)."""
    return [name for name in FIELD_NAMES if getattr(before, name) != getattr(after, name)]


def retention_cutoff(at: datetime, days: int) -> datetime:
    """Assessments recorded before this moment are past their retention period."""
    return at - timedelta(days=days)
