"""Reading the unions' worker sheets (CSV or XLSX): rows of cells as text, headers by their aliases.

Reading the file itself is ``core.tabular`` (shared with the union tree's import); this module adds
what the worker sheets have in common.  Shared by the bulk import of workers (``accounts.imports``)
and enrolment on behalf of members (``registrations.enrolment``), which read the same kind of sheet: a header row naming the columns
in Chinese or English (手机号 / mobile, 姓名 / name ...), then one worker a row.  Nothing here
touches the database or decides what a row means.
"""
from __future__ import annotations

import re

from ..core.tabular import MSG_UNREADABLE, TableError, cell_text as tabular_cell_text, raw_rows

#: Accepted header spellings, compared after ``normalise_key``.
HEADER_ALIASES = {
    "mobile": ("mobile", "mobile number", "mobile phone", "phone", "phone number", "手机号", "手机号码",
               "手机", "联系电话", "电话"),
    "name": ("name", "full name", "姓名", "名字"),
    "union": ("union", "union name", "workplace union", "工会", "所属工会", "工会名称", "基层工会"),
    "occupation": ("occupation", "job", "职业", "工种"),
    "password": ("password", "initial password", "初始密码", "密码"),
}

#: The whole file cannot be read (``message`` is a lazy translated string): core's reader's error.
SheetError = TableError
UNREADABLE = MSG_UNREADABLE


def normalise_key(value: str) -> str:
    """Lower case without spaces, dashes, underscores, asterisks or a bracketed note: "手机号（必填）" → "手机号"."""
    value = re.sub(r"[（(][^）)]*[）)]", "", value or "")
    return re.sub(r"[\s_\-*\u3000\ufeff]", "", value).lower()


_HEADER_LOOKUP = {normalise_key(alias): key for key, aliases in HEADER_ALIASES.items() for alias in aliases}


def column_key(header_cell: str) -> str | None:
    """The column a header cell names (a key of ``HEADER_ALIASES``), or None for any other column."""
    return _HEADER_LOOKUP.get(normalise_key(header_cell))


#: The cells and the rows come from the one spreadsheet reader, ``core.tabular``.
cell_text = tabular_cell_text
sheet_rows = raw_rows
