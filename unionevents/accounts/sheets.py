"""Reading the unions' worker sheets (CSV or XLSX): rows of cells as text, headers by their aliases.

Shared by the bulk import of workers (``accounts.imports``) and enrolment on behalf of members
(``registrations.enrolment``), which read the same kind of sheet: a header row naming the columns
in Chinese or English (手机号 / mobile, 姓名 / name ...), then one worker a row.  Nothing here
touches the database or decides what a row means.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from typing import Iterator

from flask_babel import lazy_gettext as _l

#: Accepted header spellings, compared after ``normalise_key``.
HEADER_ALIASES = {
    "mobile": ("mobile", "mobile number", "mobile phone", "phone", "phone number", "手机号", "手机号码",
               "手机", "联系电话", "电话"),
    "name": ("name", "full name", "姓名", "名字"),
    "union": ("union", "union name", "workplace union", "工会", "所属工会", "工会名称", "基层工会"),
    "occupation": ("occupation", "job", "职业", "工种"),
    "password": ("password", "initial password", "初始密码", "密码"),
}

UNREADABLE = _l("The file could not be read. Please save it as CSV (UTF-8) or XLSX.")


class SheetError(Exception):
    """The file as a whole cannot be read; ``message`` is a lazy translated string."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def normalise_key(value: str) -> str:
    """Lower case without spaces, dashes, underscores, asterisks or a bracketed note: "手机号（必填）" → "手机号"."""
    value = re.sub(r"[（(][^）)]*[）)]", "", value or "")
    return re.sub(r"[\s_\-*\u3000\ufeff]", "", value).lower()


_HEADER_LOOKUP = {normalise_key(alias): key for key, aliases in HEADER_ALIASES.items() for alias in aliases}


def column_key(header_cell: str) -> str | None:
    """The column a header cell names (a key of ``HEADER_ALIASES``), or None for any other column."""
    return _HEADER_LOOKUP.get(normalise_key(header_cell))


def cell_text(value) -> str:
    """A cell as the text a person would read in it (Excel's numbers without ``.0``, no stray spaces)."""
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
    return str(value).replace("\u00a0", " ").replace("\u200b", "").strip()


def _decode_csv(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" (UTF-16, tab separated)
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise SheetError(UNREADABLE)


def _csv_rows(data: bytes) -> Iterator[list]:
    text = _decode_csv(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as error:
        raise SheetError(UNREADABLE) from error


def _xlsx_rows(data: bytes) -> Iterator[tuple]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # a damaged or renamed file: zip, XML or openpyxl errors alike
        raise SheetError(UNREADABLE) from error
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        yield from sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


def sheet_rows(data: bytes, filename: str) -> Iterator:
    """The raw rows of the file's first sheet (cells as stored; pass each through ``cell_text``).

    Raises ``SheetError`` for a file that is neither CSV nor XLSX, or that cannot be read (the
    error may come while iterating).
    """
    name = (filename or "").lower()
    if name.endswith(".xlsx") or (not name.endswith(".csv") and data[:4] == b"PK\x03\x04"):
        return _xlsx_rows(data)
    if name.endswith(".csv") or name.endswith(".txt"):
        return _csv_rows(data)
    raise SheetError(_l("Only CSV and XLSX files can be imported."))
