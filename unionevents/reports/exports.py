"""Reports as XLSX (a sheet per breakdown) and CSV (UTF-8 with BOM, so Excel reads Chinese).

``write_xlsx`` uses openpyxl's write-only mode: rows go straight to a temporary file, so a
100,000-row sheet (a roster, say) needs a few MB of memory, not hundreds.  ``xlsx_response``
streams that file and deletes it afterwards.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Iterator, Sequence

from flask import Response
from flask_babel import gettext as _

#: Characters that make a spreadsheet treat a cell as a formula (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


@dataclass
class Sheet:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]


def safe_cell(value: Any) -> Any:
    """Numbers and dates stay as they are; text that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, (int, float, date, datetime)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def _sheet_title(title: str, used: set[str]) -> str:
    cleaned = "".join(" " if c in '[]:*?/\\' else c for c in str(title)).strip()[:31] or "Sheet"
    candidate, n = cleaned, 2
    while candidate in used:
        suffix = f" ({n})"
        candidate, n = cleaned[:31 - len(suffix)] + suffix, n + 1
    used.add(candidate)
    return candidate


def write_xlsx(target, sheets: Iterable[Sheet]) -> None:
    """Write ``sheets`` to ``target`` (a path or binary file) in openpyxl's streaming mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    used: set[str] = set()
    for sheet in sheets:
        ws = workbook.create_sheet(_sheet_title(sheet.title, used))
        header = []
        for name in sheet.header:
            cell = WriteOnlyCell(ws, value=str(name))
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for row in sheet.rows:
            ws.append([safe_cell(value) for value in row])
    workbook.save(target)


def _disposition(filename: str) -> str:
    return f'attachment; filename="{filename}"'


def xlsx_response(filename: str, sheets: Iterable[Sheet]) -> Response:
    """The workbook as a download, streamed from a temporary file that is removed when sent."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="report-")
    os.close(handle)
    try:
        write_xlsx(path, sheets)
    except BaseException:
        os.unlink(path)
        raise

    def stream() -> Iterator[bytes]:
        try:
            with open(path, "rb") as f:
                while chunk := f.read(64 * 1024):
                    yield chunk
        finally:
            os.unlink(path)

    response = Response(stream(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = _disposition(filename)
    response.headers["Content-Length"] = str(os.path.getsize(path))
    return response


def csv_lines(sheets: Iterable[Sheet]) -> Iterator[str]:
    """One CSV: each breakdown under its title row, separated by an empty line; BOM first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield BOM
    for index, sheet in enumerate(sheets):
        if index:
            writer.writerow([])
        writer.writerow([sheet.title])
        writer.writerow([str(h) for h in sheet.header])
        for row in sheet.rows:
            writer.writerow([safe_cell(v) for v in row])
            if buffer.tell() > 32 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def csv_response(filename: str, sheets: Iterable[Sheet]) -> Response:
    # mimetype without a charset: werkzeug appends "; charset=utf-8" itself (it was there twice).
    response = Response((line.encode("utf-8") for line in csv_lines(sheets)), mimetype="text/csv")
    response.headers["Content-Disposition"] = _disposition(filename)
    return response


# --------------------------------------------------------------------------- report sheets

def _rate(value: float | None) -> Any:
    return round(value, 4) if value is not None else ""


def _figure_header() -> list[str]:
    return [_("Activities held"), _("Activities cancelled"), _("Number of registrations"), _("Places taken"),
            _("Attended (checked in or gave books)"), _("No-shows"), _("Cancelled registrations"), _("Attendance rate"), _("No-show rate"),
            _("Unique participants"), _("Unique attendees"), _("New-employment-form registrations"),
            _("New-employment-form workers reached")]


def _figure_cells(f) -> list[Any]:
    return [f.activities_held, f.activities_cancelled, f.registrations, f.places, f.attended, f.no_show,
            f.cancelled, _rate(f.attendance_rate), _rate(f.no_show_rate),
            "" if f.unique_participants is None else f.unique_participants,
            "" if f.unique_attendees is None else f.unique_attendees, f.nef_registrations,
            "" if f.unique_nef is None else f.unique_nef]


def dashboard_sheets(dash) -> list[Sheet]:
    """The dashboard's breakdowns, one sheet each (the same numbers the page shows)."""
    f = dash.filter
    summary = Sheet(_("Summary"), [_("Figure"), _("Value")], [
        (_("Union"), f.node.name), (_("From"), f.date_from), (_("To"), f.date_to),
        (_("Activity kinds"), ", ".join(k.title for k in f.kinds) or _("All kinds")),
        *zip(_figure_header(), _figure_cells(dash.totals)),
        *((str(extra.label), extra.value) for extra in dash.extras),
    ])
    by_child = Sheet(_("By union"), [_("Union"), *_figure_header()], [
        (_("%(name)s (own activities)", name=row.node.name) if row.own else row.node.name,
         *_figure_cells(row.figures)) for row in dash.by_child])
    by_kind = Sheet(_("By kind"), [_("Kind"), *_figure_header()],
                    [(kind.title, *_figure_cells(figures)) for kind, figures in dash.by_kind])
    by_month = Sheet(_("By month"), [_("Month"), *_figure_header()],
                     [(row.label, *_figure_cells(row.figures)) for row in dash.by_month])
    top = Sheet(_("Top activities"), [_("Activity"), _("Organised by"), _("Kind"), _("Date"), _("Capacity"),
                                      _("Places taken"), _("Attended (checked in or gave books)"), _("Number of registrations")],
                [(t.title, t.node_name, t.kind.title, t.day, t.capacity, t.places, t.attended, t.registrations)
                 for t in dash.top])
    return [summary, by_child, by_kind, by_month, top]


def _count_cells(row: dict) -> list[int]:
    return [row["registrations"], row["places"], row["attended"], row["no_show"], row["waitlisted"],
            row["cancelled"]]


def _count_header() -> list[str]:
    return [_("Number of registrations"), _("Places taken"), _("Attended (checked in or gave books)"), _("No-shows"), _("Waiting list"),
            _("Cancelled registrations")]


def activity_sheets(stats, slot_label) -> list[Sheet]:
    """One activity's statistics: states, slots, unions, occupations, answers."""
    sheets = [
        Sheet(_("By state"), [_("State"), _("Number of registrations")], [(s.title, n) for s, n in stats.by_state]),
        Sheet(_("By union"), [_("Union"), *_count_header()],
              [(row["name"] or _("No union"), *_count_cells(row)) for row in stats.by_union]),
        Sheet(_("By occupation"), [_("Occupation"), *_count_header()],
              [(row["occupation"].title, *_count_cells(row)) for row in stats.by_occupation]),
    ]
    if stats.by_slot:
        sheets.insert(1, Sheet(_("By time slot"), [_("Time slot"), _("Capacity"), *_count_header()],
                               [(slot_label(row["slot"]), row["slot"].capacity, *_count_cells(row))
                                for row in stats.by_slot]))
    answer_rows = []
    for q in stats.questions:
        if q.counts:
            answer_rows += [(q.question.label, choice, n, "", "", "") for choice, n in q.counts]
        else:
            answer_rows.append((q.question.label, _("Answered"), q.answered,
                                "" if q.mean is None else round(q.mean, 2),
                                "" if q.minimum is None else q.minimum, "" if q.maximum is None else q.maximum))
    if stats.questions:
        sheets.append(Sheet(_("Answers"), [_("Question"), _("Answer"), _("Count"), _("Mean"), _("Minimum"),
                                           _("Maximum")], answer_rows))
    return sheets
