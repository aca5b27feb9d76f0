"""Pure health rules: BMI, plausible ranges and what counts as an assessment (no database)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from unionevents.health import rules
from unionevents.health.rules import BmiCategory, SpineFinding


@pytest.fixture(autouse=True)
def _request_context():  # pure rules need neither the app nor the database
    yield


@pytest.mark.parametrize("height, weight, expected", [
    (172.5, 68.4, Decimal("23.0")), (160, 47, Decimal("18.4")), (180, 97.2, Decimal("30.0")),
    (Decimal("175.0"), Decimal("73.5"), Decimal("24.0")), (None, 70, None), (170, None, None), (0, 60, None),
])
def test_bmi_is_weight_over_height_squared_to_one_decimal(height, weight, expected):
    assert rules.bmi(height, weight) == expected


@pytest.mark.parametrize("value, category", [
    ("18.4", BmiCategory.UNDERWEIGHT), ("18.5", BmiCategory.NORMAL), ("23.9", BmiCategory.NORMAL),
    ("24.0", BmiCategory.OVERWEIGHT), ("27.9", BmiCategory.OVERWEIGHT), ("28.0", BmiCategory.OBESE),
])
def test_bmi_categories_follow_the_chinese_adult_standard(value, category):
    assert rules.bmi_category(Decimal(value)) == category
    assert rules.bmi_category(None) is None


def test_a_full_assessment_is_cleaned():
    values, errors = rules.clean_assessment({
        "systolic": " 128 ", "diastolic": "82", "heart_rate": "72", "height_cm": "172,5", "weight_kg": "68.4",
        "cervical": "mild", "cervical_note": " 低头久 ", "lumbar": "normal", "advice": "拉伸\r\n休息",
        "follow_up": "y"})
    assert errors == {}
    assert values.systolic == 128 and values.diastolic == 82 and values.heart_rate == 72
    assert values.height_cm == Decimal("172.5") and values.weight_kg == Decimal("68.4")
    assert values.cervical == SpineFinding.MILD and values.cervical_note == "低头久"
    assert values.advice == "拉伸\n休息" and values.follow_up is True
    assert values.bmi == Decimal("23.0")


@pytest.mark.parametrize("field, raw, inside", [
    ("systolic", "59", False), ("systolic", "60", True), ("systolic", "260", True),
    ("systolic", "261", False),
    ("diastolic", "29", False), ("diastolic", "30", True),
    ("heart_rate", "29", False), ("heart_rate", "30", True), ("heart_rate", "220", True),
    ("heart_rate", "221", False),
    ("height_cm", "99.9", False), ("height_cm", "100", True), ("height_cm", "230", True),
    ("height_cm", "230.1", False),
    ("weight_kg", "24.9", False), ("weight_kg", "25", True), ("weight_kg", "300", True),
    ("weight_kg", "300.1", False),
])
def test_plausible_ranges_at_their_edges(field, raw, inside):
    data = {"systolic": "200", "diastolic": "100", "height_cm": "170", "weight_kg": "60"}
    if field == "diastolic":
        data["systolic"] = "260"
    data[field] = raw
    _values, errors = rules.clean_assessment(data)
    assert (field not in errors) is inside, errors


def test_messages_name_the_range():
    _values, errors = rules.clean_assessment({"systolic": "300", "diastolic": "80"})
    assert "60" in str(errors["systolic"][0]) and "260" in str(errors["systolic"][0])


@pytest.mark.parametrize("raw", ["abc", "12.5", "1e3", "", "NaN", "١٢٠", "1_20", "-120", "0x78", 120.0])
def test_whole_numbers_only_for_pressure(raw):
    _values, errors = rules.clean_assessment({"systolic": raw, "diastolic": "80"})
    assert "systolic" in errors


def test_full_width_digits_from_a_chinese_keyboard_are_read():
    values, errors = rules.clean_assessment({"systolic": "１２０", "diastolic": "８０", "height_cm": "１７０．５",
                                             "weight_kg": "６５"})
    assert errors == {} and values.systolic == 120 and values.height_cm == Decimal("170.5")


@pytest.mark.parametrize("raw", ["abc", "170.25", "inf", "NaN", "1e2", True])
def test_height_takes_a_number_with_one_decimal_at_most(raw):
    _values, errors = rules.clean_assessment({"height_cm": raw, "weight_kg": "60"})
    assert "height_cm" in errors


def test_diastolic_must_be_below_systolic():
    _values, errors = rules.clean_assessment({"systolic": "120", "diastolic": "120"})
    assert errors == {"diastolic": [rules.MSG_DIASTOLIC_BELOW]}


def test_pairs_come_together():
    _v, errors = rules.clean_assessment({"systolic": "120"})
    assert errors == {"diastolic": [rules.MSG_PRESSURE_PAIR]}
    _v, errors = rules.clean_assessment({"weight_kg": "60"})
    assert errors == {"height_cm": [rules.MSG_HEIGHT_WEIGHT_PAIR]}


def test_findings_notes_and_lengths():
    _v, errors = rules.clean_assessment({"cervical": "broken", "lumbar_note": "腰痛"})
    assert set(errors) == {"cervical", "lumbar"}
    _v, errors = rules.clean_assessment({"lumbar": "severe", "lumbar_note": "x" * (rules.NOTE_MAX + 1),
                                         "advice": "y" * (rules.ADVICE_MAX + 1)})
    assert set(errors) == {"lumbar_note", "advice"}


def test_something_must_be_recorded():
    _v, errors = rules.clean_assessment({"follow_up": True, "advice": "   "})
    assert errors == {"": [rules.MSG_EMPTY]}
    values, errors = rules.clean_assessment({"advice": "多喝水"})
    assert errors == {} and values.follow_up is False


def test_changed_fields_names_only_what_differs():
    before, _ = rules.clean_assessment({"systolic": "120", "diastolic": "80", "advice": "a"})
    after, _ = rules.clean_assessment({"systolic": "125", "diastolic": "80", "advice": "a",
                                       "follow_up": "on"})
    assert rules.changed_fields(before, after) == ["systolic", "follow_up"]


def test_control_characters_are_dropped():
    values, errors = rules.clean_assessment({"advice": "多喝\x00水\x1b", "cervical": "normal",
                                             "cervical_note": "\x00"})
    assert errors == {} and values.advice == "多喝水" and values.cervical_note == ""
