"""Roster exports: CSV (UTF-8 with a BOM, so Excel reads Chinese) and XLSX, streamed.

Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` ...) are prefixed with an
apostrophe: a name like ``=HYPERLINK(...)`` stays text.
"""
from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from typing import Iterable, Iterator

from flask_babel import gettext as _
from openpyxl import Workbook

from ..activities.models import Activity
from ..core.masking import mask_mobile
from ..core.timeutil import utc_to_local
from .models import Registration
from .queries import answer_text

CSV_BOM = "\ufeff"
CHUNK = 64 * 1024
#: XLSX files up to this size stay in memory; larger ones spill to a temporary file.
SPOOL_MAX = 8 * 1024 * 1024
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def format_datetime_local(value) -> str:
    """Naive UTC as Beijing wall-clock time, sortable: 2026-05-01 09:30."""
    return utc_to_local(value).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


@dataclass(frozen=True)
class RosterLayout:
    """What the export needs of the activity, read before the body is streamed.

    A streamed body is iterated after the view has returned, when the request's database session is
    gone: an ``Activity`` loaded by the view is detached by then, so its slots and questions cannot be
    lazy-loaded (that answered 500 for every CSV export).  The layout holds plain values only.
    """

    uses_slots: bool
    questions: tuple[tuple[str, str], ...]  # (question id as the answers key, label)
    #: A meeting's seats by registration id (None: the activity has no seating, no column).
    seats: dict | None = None

    @classmethod
    def of(cls, activity: Activity, seats: dict | None = None) -> "RosterLayout":
        return cls(uses_slots=activity.uses_slots,
                   questions=tuple((str(q.id), q.label) for q in activity.questions), seats=seats)


def _layout(activity: Activity | RosterLayout) -> RosterLayout:
    return activity if isinstance(activity, RosterLayout) else RosterLayout.of(activity)


def header(activity: Activity | RosterLayout) -> list[str]:
    layout = _layout(activity)
    columns = [_("No."), _("Name"), _("Mobile number"), _("Union"), _("Occupation")]
    if layout.uses_slots:
        columns.append(_("Time slot"))
    if layout.seats is not None:
        columns += [_("Seat row"), _("Seat number")]
    columns += [_("State"), _("Registered at"), _("Checked in at")]
    columns += [label for _key, label in layout.questions]
    return [safe_cell(c) for c in columns]


def row_values(activity: Activity | RosterLayout, registration: Registration, full_mobile: bool) -> list[str]:
    layout = _layout(activity)
    user = registration.user
    values = [registration.id, user.name, user.mobile if full_mobile else mask_mobile(user.mobile),
              user.union.name if user.union else "", user.occupation.title]
    if layout.uses_slots:
        slot = registration.slot
        values.append(f"{format_datetime_local(slot.starts_at)}" if slot else "")
    if layout.seats is not None:
        seat = layout.seats.get(registration.id)
        values += [seat.row, seat.seat] if seat else ["", ""]
    values += [registration.state.title, format_datetime_local(registration.created_at),
               format_datetime_local(registration.checked_in_at)]
    answers = registration.answers or {}
    values += [answer_text(answers.get(key)) for key, _label in layout.questions]
    return [safe_cell(v) if not isinstance(v, int) else v for v in values]


def csv_stream(layout: RosterLayout, rows: Iterable[Registration], full_mobile: bool) -> Iterator[str]:
    """The CSV text in chunks.  Takes a ``RosterLayout`` (not the activity): it runs after the view has
    returned, and ``rows`` must be a query that runs then (inside ``stream_with_context``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header(layout))
    yield CSV_BOM + flush()
    for registration in rows:
        writer.writerow(row_values(layout, registration, full_mobile))
        if buffer.tell() > CHUNK:
            yield flush()
    yield flush()


def xlsx_file(activity: Activity, rows: Iterable[Registration], full_mobile: bool, seats: dict | None = None):
    """The workbook written row by row (openpyxl write-only mode) into a spooled temporary file,
    rewound for reading."""
    layout = RosterLayout.of(activity, seats)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Roster"))
    sheet.append(header(layout))
    for registration in rows:
        sheet.append(row_values(layout, registration, full_mobile))
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)
    workbook.save(spool)
    spool.seek(0)
    return spool


def file_chunks(handle) -> Iterator[bytes]:
    try:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            yield chunk
    finally:
        handle.close()
