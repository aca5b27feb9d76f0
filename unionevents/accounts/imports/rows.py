"""The file's rows, read and checked one by one (no database), and the report that names bad rows."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from ...core.text import NotText, clean_text
from ..models import Occupation
from ..services import MOBILE_RE, NAME_MAX_LENGTH, normalise_mobile, password_errors
from ..sheets import SheetError, cell_text, column_key, sheet_rows
from .columns import COLUMN_TITLES, REQUIRED_COLUMNS, occupation_from_cell, occupation_names_zh

MAX_ROWS = 50_000


@dataclass
class RowError:
    row: int | None            # spreadsheet row number; None for the whole file
    column: str | None         # a key of COLUMNS, or None
    message: object            # a lazy translated string

    @property
    def column_title(self) -> str:
        return str(COLUMN_TITLES[self.column]) if self.column else ""

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(str(_l("row %(row)d", row=self.row)))
        if self.column:
            where.append(self.column_title)
        return (", ".join(where) + ": " if where else "") + str(self.message)


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    activation_codes: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, row: int | None, column: str | None, message) -> None:
        self.errors.append(RowError(row, column, message))


@dataclass
class Row:
    """One worker of the file, as read (``union_id`` is set once the union is found and in scope)."""

    number: int
    mobile: str
    name: str
    union_name: str
    occupation: Occupation | None
    password: str | None
    union_id: int | None = None
    union_district: str | None = None


def read_rows(data: bytes, filename: str, report: ImportReport) -> list[Row]:
    """Parse the file and check each row on its own (no database); errors go to ``report``.

    Raises ``SheetError`` when the file as a whole is wrong (unreadable, empty, no header, too long).
    """
    if not data or not data.strip():
        raise SheetError(_l("The file is empty."))
    rows_iter = iter(sheet_rows(data, filename))
    columns: dict[str, int] | None = None
    rows: list[Row] = []
    seen_mobiles: dict[str, int] = {}
    for number, raw in enumerate(rows_iter, start=1):
        cells = [cell_text(value) for value in raw]
        if not any(cells):
            continue  # blank lines and Excel's trailing empty rows
        if columns is None:
            columns = _header(cells, number)
            continue
        if len(rows) >= MAX_ROWS:
            raise SheetError(_l("The file has more than %(n)d rows. Please split it into smaller files.",
                                n=MAX_ROWS))
        rows.append(_check_row(number, cells, columns, seen_mobiles, report))
    if columns is None:
        raise SheetError(_l("The file is empty."))
    if not rows:
        raise SheetError(_l("The file has no rows to import."))
    report.rows = len(rows)
    return rows


def _header(cells: list[str], number: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = column_key(cell)
        if key is None:
            continue  # extra columns (序号, 备注 ...) are ignored
        if key in columns:
            raise SheetError(_l("The column “%(column)s” appears twice in the header row.",
                                column=COLUMN_TITLES[key]))
        columns[key] = index
    missing = [key for key in REQUIRED_COLUMNS if key not in columns]
    if missing:
        raise SheetError(_l("The header row (row %(row)d) lacks these columns: %(columns)s. Expected: "
                            "手机号 (mobile), 姓名 (name), 工会 (union), 职业 (occupation), optionally "
                            "初始密码 (password).", row=number,
                            columns="、".join(str(COLUMN_TITLES[key]) for key in missing)))
    return columns


def _check_row(number: int, cells: list[str], columns: dict[str, int], seen_mobiles: dict[str, int],
               report: ImportReport) -> Row:
    def cell(key: str) -> str:
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else ""

    raw_mobile = cell("mobile")
    mobile = normalise_mobile(raw_mobile)
    if not raw_mobile:
        report.error(number, "mobile", _l("The mobile number is missing."))
    elif not MOBILE_RE.fullmatch(mobile):
        report.error(number, "mobile", _l("“%(value)s” is not an 11-digit mainland mobile number.",
                                          value=raw_mobile[:20]))
    elif mobile in seen_mobiles:
        report.error(number, "mobile", _l("This mobile number already appears in row %(row)d.",
                                          row=seen_mobiles[mobile]))
    else:
        seen_mobiles[mobile] = number

    name = cell("name")
    try:  # the text rule of every form: NFC, no zero-width characters, no direction controls
        name = clean_text(name).strip()
    except NotText as error:
        report.error(number, "name", error.message)
    else:
        if not name:
            report.error(number, "name", _l("The name is missing."))
        elif len(name) > NAME_MAX_LENGTH:
            report.error(number, "name", _l("The name may have at most %(n)d characters.", n=NAME_MAX_LENGTH))

    union_name = cell("union")
    if not union_name:
        report.error(number, "union", _l("The union is missing."))

    raw_occupation = cell("occupation")
    occupation = occupation_from_cell(raw_occupation) if raw_occupation else None
    if not raw_occupation:
        report.error(number, "occupation", _l("The occupation is missing."))
    elif occupation is None:
        report.error(number, "occupation", _l("Unknown occupation “%(value)s”. Use one of: %(choices)s.",
                                              value=raw_occupation[:40],
                                              choices="、".join(occupation_names_zh())))

    password = cell("password") or None
    if password is not None:
        problems = password_errors(password)
        if problems:
            report.error(number, "password", _l("The initial password is too weak: %(problems)s",
                                                problems=" ".join(problems)))
    return Row(number, mobile, name, union_name, occupation, password)
