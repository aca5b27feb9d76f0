"""Bulk import of workers from a union's spreadsheet (CSV or XLSX).

One file is all or nothing: every row is checked first and nothing is written
while any row is wrong; the report then names each bad row (spreadsheet row
numbers: the header is row 1).  Importing is idempotent by mobile number: a
known account gets the file's name, union and occupation, a new one is created.
New accounts without a password start unactivated and get an activation code by
SMS through the outbox (decisions.md).  Organisers may import only into the
unions they organise; admins (and the command line, ``actor=None``) anywhere.

The rooms, in the order a file passes them: ``columns`` (what the file looks like),
``rows`` (read and check each row, no database; the report), ``checks`` (unions and
existing accounts, against the database and the importer's scope), ``writing`` (bulk
INSERT/UPDATE, activation codes, the audit row), ``service`` (``import_workers``, which
runs them all).  Reading the sheet itself is ``accounts.sheets``, shared with enrolment.
How fast 10,000 rows go, and why: docs/performance.md ("Why the code is shaped this way").
"""
from .columns import (COLUMN_TITLES, COLUMNS, EXAMPLE_HEADERS, OCCUPATION_NAMES_EN, OCCUPATION_NAMES_ZH,
                      REQUIRED_COLUMNS, example_csv, occupation_from_cell, occupation_names_zh)
from .rows import MAX_ROWS, ImportReport, RowError
from .service import WEB_MAX_PASSWORDS, import_workers
from ..sheets import HEADER_ALIASES

__all__ = ["COLUMNS", "COLUMN_TITLES", "EXAMPLE_HEADERS", "HEADER_ALIASES", "MAX_ROWS", "OCCUPATION_NAMES_EN",
           "OCCUPATION_NAMES_ZH", "REQUIRED_COLUMNS", "WEB_MAX_PASSWORDS", "ImportReport", "RowError",
           "example_csv", "import_workers", "occupation_from_cell", "occupation_names_zh"]
