"""Series dates as pure rules: weekly, monthly with month ends, explicit lists, limits."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from unionevents.activities import series_rules as rules
from unionevents.activities.series_rules import SeriesError

TWO_PM = time(14, 0)


def test_every_tuesday_14_00_for_8_weeks():
    dates = rules.weekly(date(2027, 1, 1), 1, TWO_PM, 8)  # 1 Jan 2027 is a Friday
    assert dates[0] == datetime(2027, 1, 5, 14, 0)  # the first Tuesday on or after
    assert len(dates) == 8 and all(d.weekday() == 1 and d.time() == TWO_PM for d in dates)
    assert dates[-1] == datetime(2027, 2, 23, 14, 0)
    assert all(b - a == timedelta(weeks=1) for a, b in zip(dates, dates[1:]))


def test_weekly_starting_on_the_weekday_itself():
    assert rules.weekly(date(2027, 1, 5), 1, TWO_PM, 1) == [datetime(2027, 1, 5, 14, 0)]


def test_monthly_on_the_31st_falls_on_each_months_last_day():
    dates = rules.monthly(date(2027, 1, 1), 31, time(9, 30), 6)
    assert [d.date() for d in dates] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31),
                                         date(2027, 4, 30), date(2027, 5, 31), date(2027, 6, 30)]


def test_monthly_leap_february_and_year_end():
    assert [d.date() for d in rules.monthly(date(2027, 12, 1), 29, TWO_PM, 3)] == [
        date(2027, 12, 29), date(2028, 1, 29), date(2028, 2, 29)]


def test_monthly_first_date_already_passed_this_month_starts_next_month():
    assert rules.monthly(date(2027, 3, 20), 15, TWO_PM, 1) == [datetime(2027, 4, 15, 14, 0)]


def test_explicit_dates_sorted_with_default_time():
    dates = rules.explicit(["2027-03-02 09:00", "", "2027-01-05", " 2027/02/02 14:00 "], TWO_PM)
    assert dates == [datetime(2027, 1, 5, 14, 0), datetime(2027, 2, 2, 14, 0), datetime(2027, 3, 2, 9, 0)]


@pytest.mark.parametrize("lines, code", [
    (["2027-13-01"], "bad_date"), (["tomorrow"], "bad_date"),
    (["2027-01-05 14:00", "2027-01-05 14:00"], "repeated_date"), ([""], "no_dates"),
])
def test_explicit_refusals(lines, code):
    with pytest.raises(SeriesError) as error:
        rules.explicit(lines, TWO_PM)
    assert error.value.code == code


@pytest.mark.parametrize("call, code", [
    (lambda: rules.weekly(date(2027, 1, 1), 7, TWO_PM, 3), "bad_weekday"),
    (lambda: rules.weekly(date(2027, 1, 1), 1, TWO_PM, 0), "no_dates"),
    (lambda: rules.weekly(date(2027, 1, 1), 1, TWO_PM, rules.MAX_OCCURRENCES + 1), "too_many"),
    (lambda: rules.monthly(date(2027, 1, 1), 0, TWO_PM, 3), "bad_day_of_month"),
    (lambda: rules.monthly(date(2027, 1, 1), 32, TWO_PM, 3), "bad_day_of_month"),
])
def test_limits(call, code):
    with pytest.raises(SeriesError) as error:
        call()
    assert error.value.code == code


def test_occurrences_leave_out_the_source_and_refuse_the_past():
    source = datetime(2027, 1, 5, 14, 0)
    dates = rules.weekly(date(2027, 1, 5), 1, TWO_PM, 3)
    assert rules.occurrences(source, dates, datetime(2027, 1, 1)) == dates[1:]
    with pytest.raises(SeriesError) as error:
        rules.occurrences(source, dates, datetime(2027, 1, 13))
    assert error.value.code == "date_in_past" and error.value.detail == "2027-01-12 14:00"
    with pytest.raises(SeriesError) as error:
        rules.occurrences(source, [source], datetime(2027, 1, 1))
    assert error.value.code == "no_dates"
    with pytest.raises(SeriesError) as error:
        rules.occurrences(source, rules.weekly(date(2027, 1, 6), 1, TWO_PM, 52), datetime(2027, 1, 1))
    assert error.value.code == "too_many"


def test_shift_moves_times_and_keeps_none():
    shift = rules.Shift(timedelta(hours=1))
    assert shift.apply(datetime(2027, 1, 5, 14)) == datetime(2027, 1, 5, 15) and shift.apply(None) is None


def test_the_source_date_is_left_out_to_the_minute():
    source = datetime(2027, 1, 5, 14, 0, 37, 120)
    dates = rules.weekly(date(2027, 1, 5), 1, TWO_PM, 2)
    assert rules.occurrences(source, dates, datetime(2027, 1, 1)) == dates[1:]
