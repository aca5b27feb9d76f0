"""Delegation seating as pure rules: blocks per unit in reading order, stable seats, overflow."""
from __future__ import annotations

import pytest

from unionevents.registrations import seating_rules as rules
from unionevents.registrations.seating_rules import OTHERS, Seat


def test_blocks_follow_the_quotas_in_reading_order_and_wrap_rows():
    blocks = rules.seat_blocks([("A", 3), ("B", 4)], rows=2, seats_per_row=5)
    assert blocks["A"] == [Seat(1, 1), Seat(1, 2), Seat(1, 3)]
    assert blocks["B"] == [Seat(1, 4), Seat(1, 5), Seat(2, 1), Seat(2, 2)]  # continues on the next row
    assert blocks[OTHERS] == [Seat(2, 3), Seat(2, 4), Seat(2, 5)]


def test_same_input_same_blocks_and_seats():
    quotas = [("A", 2), ("B", 2)]
    people = [(10, "B"), (11, "A"), (12, "A"), (13, "B")]
    first = rules.assign(rules.seat_blocks(quotas, 2, 3), people)
    again = rules.assign(rules.seat_blocks(quotas, 2, 3), people)
    assert first == again
    seats, unseated = first
    assert seats == {11: Seat(1, 1), 12: Seat(1, 2), 10: Seat(1, 3), 13: Seat(2, 1)} and unseated == []


def test_a_seat_is_kept_when_people_before_cancel():
    blocks = rules.seat_blocks([("A", 3)], 1, 3)
    seats, _ = rules.assign(blocks, [(1, "A"), (2, "A"), (3, "A")])
    # 1 cancels; a newcomer 4 signs up: 2 and 3 keep their printed seats, 4 takes the freed one
    seats2, _ = rules.assign(blocks, [(2, "A"), (3, "A"), (4, "A")], seats)
    assert seats2 == {2: seats[2], 3: seats[3], 4: Seat(1, 1)}


def test_people_beyond_their_block_or_without_unit_sit_in_the_others_block():
    blocks = rules.seat_blocks([("A", 1)], 1, 3)
    seats, unseated = rules.assign(blocks, [(1, "A"), (2, "A"), (3, OTHERS), (4, "Z")])
    assert seats[1] == Seat(1, 1)
    assert seats[2] == Seat(1, 2) and seats[3] == Seat(1, 3)
    assert unseated == [4]


def test_an_existing_seat_outside_the_block_is_replaced():
    blocks = rules.seat_blocks([("A", 2), ("B", 2)], 1, 4)
    seats, _ = rules.assign(blocks, [(1, "A")], {1: Seat(1, 4)})  # B's seat: moved into A's block
    assert seats == {1: Seat(1, 1)}


@pytest.mark.parametrize("rows, per_row, total, code", [
    (0, 5, 0, "layout_out_of_range"), (5, 0, 0, "layout_out_of_range"), (101, 5, 0, "layout_out_of_range"),
    (2, 5, 11, "layout_too_small"), (2, 5, 10, None), (100, 100, 200, None),
])
def test_layout_refusal(rows, per_row, total, code):
    assert rules.layout_refusal(rows, per_row, total) == code


def test_blocks_refuse_a_hall_too_small():
    with pytest.raises(ValueError):
        rules.seat_blocks([("A", 7)], 2, 3)


def test_two_hundred_delegates_in_ten_rows():
    quotas = [(f"U{i}", 20) for i in range(10)]
    people = [(n, f"U{n % 10}") for n in range(200)]
    seats, unseated = rules.assign(rules.seat_blocks(quotas, 10, 20), people)
    assert not unseated and len(set(seats.values())) == 200
    assert {seats[n].row for n in range(200) if n % 10 == 3} == {4}  # unit U3's block is row 4
