"""Delegation seating, as pure functions (no database): blocks of seats per unit, then people in them.

The hall is ``rows`` × ``seats_per_row`` seats, read like a page: row 1 seat 1, 2, … then row 2.  Each
unit with a quota gets one contiguous block of exactly its quota, in the order given (the order the
organiser added the quotas); the seats after the last block are for delegates without a unit (walk-ins).
A block may continue on the next row.  The same quotas and layout always give the same blocks, and a
person keeps the seat they have while it stays in their unit's block, so a re-run after new sign-ups
does not move anyone whose ticket was already printed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

#: Largest hall we lay out (rows and seats per row); a 2,000-seat auditorium fits.
MAX_ROWS = 100
MAX_SEATS_PER_ROW = 100
#: The key of the block for delegates who came through no unit quota.
OTHERS = None


@dataclass(frozen=True, order=True)
class Seat:
    row: int
    seat: int


def seat_order(rows: int, seats_per_row: int) -> list[Seat]:
    """Every seat in reading order."""
    return [Seat(r, s) for r in range(1, rows + 1) for s in range(1, seats_per_row + 1)]


def layout_refusal(rows: int, seats_per_row: int, quota_total: int) -> str | None:
    """Why a layout cannot hold the quotas (a code), or None."""
    if not (1 <= rows <= MAX_ROWS and 1 <= seats_per_row <= MAX_SEATS_PER_ROW):
        return "layout_out_of_range"
    if rows * seats_per_row < quota_total:
        return "layout_too_small"
    return None


def seat_blocks(quotas: Sequence[tuple[Hashable, int]], rows: int, seats_per_row: int) -> dict:
    """``{unit: [Seat, …]}`` in the quotas' order, plus ``OTHERS`` for the seats left over."""
    seats = seat_order(rows, seats_per_row)
    if sum(q for _unit, q in quotas) > len(seats):
        raise ValueError("the quotas need more seats than the hall has")
    blocks: dict = {}
    at = 0
    for unit, quota in quotas:
        blocks[unit] = seats[at:at + quota]
        at += quota
    blocks[OTHERS] = seats[at:]
    return blocks


def assign(blocks: dict, people: Iterable[tuple[int, Hashable]],
           existing: dict[int, Seat] | None = None) -> tuple[dict[int, Seat], list[int]]:
    """Seat ``people`` (``(registration id, unit)`` in sign-up order) in their unit's block.

    A person keeps an ``existing`` seat that is still in their block; the others take the block's
    lowest free seat; a unit's people beyond its block (or of a unit without one) take the lowest free
    seat of the ``OTHERS`` block.  Returns (seat per registration id, ids left without a seat).
    """
    existing = existing or {}
    people = list(people)
    taken: set[Seat] = set()
    result: dict[int, Seat] = {}
    for reg_id, unit in people:
        seat = existing.get(reg_id)
        if seat is not None and seat in blocks.get(unit, ()) and seat not in taken:
            result[reg_id] = seat
            taken.add(seat)
    unseated: list[int] = []
    for reg_id, unit in people:
        if reg_id in result:
            continue
        seat = _first_free(blocks.get(unit, ()), taken)
        if seat is None and unit is not OTHERS:
            seat = _first_free(blocks.get(OTHERS, ()), taken)
        if seat is None:
            unseated.append(reg_id)
            continue
        result[reg_id] = seat
        taken.add(seat)
    return result, unseated


def _first_free(seats: Iterable[Seat], taken: set[Seat]) -> Seat | None:
    return next((seat for seat in seats if seat not in taken), None)


def block_span(seats: Sequence[Seat]) -> tuple[Seat, Seat] | None:
    """The first and last seat of a block (for the chart's legend), or None when it is empty."""
    return (seats[0], seats[-1]) if seats else None
