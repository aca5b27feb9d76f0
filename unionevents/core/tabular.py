"""Reading a spreadsheet a union sends: CSV (UTF-8, GB18030 as saved by a Chinese Excel, or UTF-16
"Unicode text") or XLSX, as rows of trimmed text cells.  No domain knowledge: the importers map the
columns and check the cells.

``TableError`` carries a translated message for the whole file (cannot be read, not CSV or XLSX).
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Iterator

from flask_babel import lazy_gettext as _l

MSG_UNREADABLE = _l("The file could not be read. Please save it as CSV (UTF-8) or XLSX.")
MSG_NOT_A_TABLE = _l("Only CSV and XLSX files can be imported.")


class TableError(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def cell_text(value) -> str:
    """A cell as text: whole numbers without ".0", dates in ISO form, no-break and zero-width spaces gone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "").strip()


def decode_text(data: bytes) -> str:
    """CSV bytes as text: UTF-16 with a byte-order mark, else UTF-8 (with or without BOM), else GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise TableError(MSG_UNREADABLE) from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(MSG_UNREADABLE)


def _csv_rows(data: bytes) -> Iterator[list]:
    text = decode_text(data)
    if "\x00" in text:
        raise TableError(MSG_UNREADABLE)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as error:
        raise TableError(MSG_UNREADABLE) from error


def _xlsx_rows(data: bytes) -> Iterator[tuple]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # a damaged or renamed file: zip, XML or openpyxl errors alike
        raise TableError(MSG_UNREADABLE) from error
    try:
        if not workbook.worksheets:
            return
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    except Exception as error:  # a damaged sheet inside a valid zip
        raise TableError(MSG_UNREADABLE) from error
    finally:
        workbook.close()


def raw_rows(data: bytes, filename: str) -> Iterator:
    """The rows of the file's first sheet as stored (pass each cell through ``cell_text``), blank rows
    included.  The kind is chosen by the file name's extension, or by the content when it has none.
    Raises ``TableError`` for a file that is neither, or cannot be read (perhaps while iterating)."""
    name = (filename or "").lower()
    if name.endswith(".xlsx") or (not name.endswith((".csv", ".txt")) and data[:4] == b"PK\x03\x04"):
        return _xlsx_rows(data)
    if name.endswith((".csv", ".txt")) or "." not in name.rsplit("/", 1)[-1]:
        return _csv_rows(data)
    raise TableError(MSG_NOT_A_TABLE)


def read_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, text cells) for every row of the file (the first sheet of a workbook), counting
    from 1 as a spreadsheet does; blank rows left out."""
    for number, row in enumerate(raw_rows(data, filename), start=1):
        cells = [cell_text(value) for value in row]
        if any(cells):
            yield number, cells
