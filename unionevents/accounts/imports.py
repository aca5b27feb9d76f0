"""Bulk import of workers from a union's spreadsheet (CSV or XLSX).

One file is all or nothing: every row is checked first and nothing is written
while any row is wrong; the report then names each bad row (spreadsheet row
numbers: the header is row 1).  Importing is idempotent by mobile number: a
known account gets the file's name, union and occupation, a new one is created.
New accounts without a password start unactivated and get a welcome SMS through the
outbox; their workers log in with SMS codes (accounts.codes, decisions.md).  Organisers may
import only into the unions they organise; admins (and the command line, ``actor=None``) anywhere.

Fast enough for 10,000 rows: lookups are a few ``IN`` queries, writes are bulk
INSERT/UPDATE statements, and one audit row records the counts.  Initial
passwords are the slow part: each costs one production password hash (scrypt,
about 0.1 s), spread over a few threads.
"""
from __future__ import annotations

import csv
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Iterator

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from ..core.audit import log_action
from ..core.db import write_transaction
from ..core.errors import Conflict, NotAllowed
from ..core.outbox import Channel, OutboxMessage
from ..core.permissions import has_role
from ..core.text import NotText, clean_text
from ..core.timeutil import now
from ..extensions import db
from ..unions.models import UnionNode
from . import codes
from .models import Occupation, Role, User
from .services import MOBILE_RE, NAME_MAX_LENGTH, hash_password, normalise_mobile, password_errors

MAX_ROWS = 50_000
#: Web uploads stop at this many initial passwords: each is a production hash (scrypt, ~0.1 s of
#: one CPU and 32 MB), so more would outlast a request timeout.  The CLI has no limit.
WEB_MAX_PASSWORDS = 100
IN_CHUNK = 500
WRITE_CHUNK = 2_000
HASH_THREADS = max(1, min(4, os.cpu_count() or 1))

COLUMNS = ("mobile", "name", "union", "occupation", "password")
REQUIRED_COLUMNS = ("mobile", "name", "union", "occupation")

COLUMN_TITLES = {
    "mobile": _l("Mobile number"),
    "name": _l("Name"),
    "union": _l("Union"),
    "occupation": _l("Occupation"),
    "password": _l("Initial password"),
}

#: The header each column has in the example file (Chinese, as the unions' own sheets).
EXAMPLE_HEADERS = {"mobile": "手机号", "name": "姓名", "union": "工会", "occupation": "职业",
                   "password": "初始密码"}

#: Accepted header spellings, compared after ``_normalise_key``.
HEADER_ALIASES = {
    "mobile": ("mobile", "mobile number", "mobile phone", "phone", "phone number", "手机号", "手机号码",
               "手机", "联系电话", "电话"),
    "name": ("name", "full name", "姓名", "名字"),
    "union": ("union", "union name", "workplace union", "工会", "所属工会", "工会名称", "基层工会"),
    "occupation": ("occupation", "job", "职业", "工种"),
    "password": ("password", "initial password", "初始密码", "密码"),
}

#: Chinese display names of the occupations (first is the name used in the UI and the example
#: file; the others are spellings seen in unions' sheets).  Kept here because the message
#: catalogs are not loaded when a file is imported from the command line.
OCCUPATION_NAMES_ZH: dict[Occupation, tuple[str, ...]] = {
    Occupation.RIDER: ("外卖骑手", "骑手", "外卖员", "外卖配送员"),
    Occupation.COURIER: ("快递员", "快递小哥", "快递配送员"),
    Occupation.RIDE_HAILING_DRIVER: ("网约车司机", "网约车驾驶员"),
    Occupation.TRUCK_DRIVER: ("货车司机", "卡车司机", "货车驾驶员"),
    Occupation.DOMESTIC_WORKER: ("家政服务员", "家政工", "家政人员"),
    Occupation.OFFICE_WORKER: ("办公室职员", "职员", "企业职员"),
    Occupation.FACTORY_WORKER: ("工厂工人", "产业工人", "工人"),
    Occupation.CONSTRUCTION_WORKER: ("建筑工人",),
    Occupation.TEACHER: ("教师", "老师"),
    Occupation.MEDICAL_WORKER: ("医务人员", "医护人员"),
    Occupation.SERVICE_WORKER: ("服务业人员", "服务人员"),
    Occupation.CIVIL_SERVANT: ("公务员",),
    Occupation.OTHER: ("其他", "其它"),
}

#: English names as in the source catalog (the zh catalog may not be loaded, see above).
OCCUPATION_NAMES_EN: dict[Occupation, str] = {
    Occupation.RIDER: "Delivery rider", Occupation.COURIER: "Courier",
    Occupation.RIDE_HAILING_DRIVER: "Ride-hailing driver", Occupation.TRUCK_DRIVER: "Truck driver",
    Occupation.DOMESTIC_WORKER: "Domestic worker", Occupation.OFFICE_WORKER: "Office worker",
    Occupation.FACTORY_WORKER: "Factory worker", Occupation.CONSTRUCTION_WORKER: "Construction worker",
    Occupation.TEACHER: "Teacher", Occupation.MEDICAL_WORKER: "Medical worker",
    Occupation.SERVICE_WORKER: "Service worker", Occupation.CIVIL_SERVANT: "Civil servant",
    Occupation.OTHER: "Other",
}


def _normalise_key(value: str) -> str:
    """Lower case without spaces, dashes, underscores, asterisks or a bracketed note: "手机号（必填）" → "手机号"."""
    value = re.sub(r"[（(][^）)]*[）)]", "", value or "")
    return re.sub(r"[\s_\-*\u3000\ufeff]", "", value).lower()


_HEADER_LOOKUP = {_normalise_key(alias): key for key, aliases in HEADER_ALIASES.items() for alias in aliases}

_OCCUPATION_LOOKUP: dict[str, Occupation] = {}
for _occupation in Occupation:
    _OCCUPATION_LOOKUP[_normalise_key(_occupation.value)] = _occupation
    _OCCUPATION_LOOKUP[_normalise_key(OCCUPATION_NAMES_EN[_occupation])] = _occupation
    for _name in OCCUPATION_NAMES_ZH[_occupation]:
        _OCCUPATION_LOOKUP[_normalise_key(_name)] = _occupation


def occupation_from_cell(value: str) -> Occupation | None:
    return _OCCUPATION_LOOKUP.get(_normalise_key(value))


def occupation_names_zh() -> list[str]:
    return [names[0] for names in OCCUPATION_NAMES_ZH.values()]


# --------------------------------------------------------------------------- report


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
    welcome_messages: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, row: int | None, column: str | None, message) -> None:
        self.errors.append(RowError(row, column, message))


@dataclass
class _Row:
    number: int
    mobile: str
    name: str
    union_name: str
    occupation: Occupation | None
    password: str | None
    union_id: int | None = None          # set once the union is found and in scope
    union_district: str | None = None


@dataclass
class _Existing:
    id: int
    name: str
    union_id: int | None
    occupation: Occupation
    district: str | None
    activated: bool
    has_password: bool


class _FileError(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


# --------------------------------------------------------------------------- reading files


def _cell_text(value) -> str:
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
    raise _FileError(_l("The file could not be read. Please save it as CSV (UTF-8) or XLSX."))


def _csv_rows(data: bytes) -> Iterator[list]:
    text = _decode_csv(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as error:
        raise _FileError(_l("The file could not be read. Please save it as CSV (UTF-8) or XLSX.")) from error


def _xlsx_rows(data: bytes) -> Iterator[tuple]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # a damaged or renamed file: zip, XML or openpyxl errors alike
        raise _FileError(_l("The file could not be read. Please save it as CSV (UTF-8) or XLSX.")) from error
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        yield from sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


def _raw_rows(data: bytes, filename: str) -> Iterator:
    name = (filename or "").lower()
    if name.endswith(".xlsx") or (not name.endswith(".csv") and data[:4] == b"PK\x03\x04"):
        return _xlsx_rows(data)
    if name.endswith(".csv") or name.endswith(".txt"):
        return _csv_rows(data)
    raise _FileError(_l("Only CSV and XLSX files can be imported."))


def _read(data: bytes, filename: str, report: ImportReport) -> list[_Row]:
    """Parse the file and check each row on its own (no database); errors go to ``report``."""
    if not data or not data.strip():
        raise _FileError(_l("The file is empty."))
    rows_iter = iter(_raw_rows(data, filename))
    columns: dict[str, int] | None = None
    rows: list[_Row] = []
    seen_mobiles: dict[str, int] = {}
    for number, raw in enumerate(rows_iter, start=1):
        cells = [_cell_text(value) for value in raw]
        if not any(cells):
            continue  # blank lines and Excel's trailing empty rows
        if columns is None:
            columns = _header(cells, number)
            continue
        if len(rows) >= MAX_ROWS:
            raise _FileError(_l("The file has more than %(n)d rows. Please split it into smaller files.",
                                n=MAX_ROWS))
        rows.append(_check_row(number, cells, columns, seen_mobiles, report))
    if columns is None:
        raise _FileError(_l("The file is empty."))
    if not rows:
        raise _FileError(_l("The file has no rows to import."))
    report.rows = len(rows)
    return rows


def _header(cells: list[str], number: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = _HEADER_LOOKUP.get(_normalise_key(cell))
        if key is None:
            continue  # extra columns (序号, 备注 ...) are ignored
        if key in columns:
            raise _FileError(_l("The column “%(column)s” appears twice in the header row.",
                                column=COLUMN_TITLES[key]))
        columns[key] = index
    missing = [key for key in REQUIRED_COLUMNS if key not in columns]
    if missing:
        raise _FileError(_l("The header row (row %(row)d) lacks these columns: %(columns)s. Expected: "
                            "手机号 (mobile), 姓名 (name), 工会 (union), 职业 (occupation), optionally "
                            "初始密码 (password).", row=number,
                            columns="、".join(str(COLUMN_TITLES[key]) for key in missing)))
    return columns


def _check_row(number: int, cells: list[str], columns: dict[str, int], seen_mobiles: dict[str, int],
               report: ImportReport) -> _Row:
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
    return _Row(number, mobile, name, union_name, occupation, password)


# --------------------------------------------------------------------------- database checks


def _chunks(items: list, size: int = IN_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _load_unions(names: Iterable[str]) -> dict[str, UnionNode]:
    names = sorted(set(names))
    found: dict[str, UnionNode] = {}
    for chunk in _chunks(names):
        for node in db.session.scalars(select(UnionNode).where(UnionNode.name.in_(chunk))):
            found[node.name] = node
    return found


def _mobile_in(mobiles: list[str]):
    """``user.mobile IN (...)`` with the numbers written into the SQL (they are checked 11-digit strings).

    Bound parameters would let psycopg prepare the statement after a few runs, and PostgreSQL's
    generic plan for a 500-parameter IN list scans the table comparing each row with every value
    (about 60 ms a query on a freshly filled table); literals get a hashed lookup or the index.
    """
    if not all(MOBILE_RE.fullmatch(m) for m in mobiles):
        raise ValueError("only checked mobile numbers may be written into SQL")
    return User.mobile.in_(bindparam("mobiles", mobiles, expanding=True, literal_execute=True))


def _load_existing(mobiles: list[str]) -> dict[str, _Existing]:
    existing: dict[str, _Existing] = {}
    for chunk in _chunks(mobiles):
        result = db.session.execute(
            select(User.id, User.mobile, User.name, User.union_id, User.occupation, User.district,
                   User.activated, User.password_hash.is_not(None))
            .where(_mobile_in(chunk))
        )
        for row in result:
            existing[row[1]] = _Existing(row[0], row[2], row[3], row[4], row[5], bool(row[6]),
                                         bool(row[7]))
    return existing


class _Scope:
    """Which unions ``actor`` may import into (None: the command line, everywhere)."""

    def __init__(self, actor: User | None):
        self.actor = actor
        self._cache: dict[int, bool] = {}

    def allows(self, node: UnionNode) -> bool:
        if self.actor is None:
            return True
        if node.id not in self._cache:
            self._cache[node.id] = has_role(self.actor, Role.ORGANISER, node=node)
        return self._cache[node.id]

    def everywhere(self) -> bool:
        """May ``actor`` place accounts that belong to no union (admins and the command line)?"""
        return self.actor is None or any(grant.role == Role.ADMIN for grant in self.actor.grants)

    def allows_node_ids(self, node_ids: set[int]) -> dict[int, bool]:
        unknown = [i for i in node_ids if i not in self._cache]
        for chunk in _chunks(unknown):
            for node in db.session.scalars(select(UnionNode).where(UnionNode.id.in_(chunk))):
                self.allows(node)
        return {i: self._cache.get(i, self.actor is None) for i in node_ids}


def _check_unions(rows: list[_Row], scope: _Scope, report: ImportReport) -> None:
    unions = _load_unions(row.union_name for row in rows if row.union_name)
    for row in rows:
        if not row.union_name:
            continue
        node = unions.get(row.union_name)
        if node is None:
            report.error(row.number, "union", _l("There is no union named “%(value)s”. Please use the "
                                                 "union's full name.", value=row.union_name[:60]))
        elif not scope.allows(node):
            report.error(row.number, "union", _l("“%(value)s” is not one of the unions you organise.",
                                                 value=row.union_name[:60]))
        else:
            row.union_id, row.union_district = node.id, node.district


def _check_existing(rows: list[_Row], existing: dict[str, _Existing], scope: _Scope,
                    report: ImportReport) -> None:
    """Organisers may update only accounts already in their scope.

    An account of a union outside the scope, or of no union at all (a worker who signed up on
    their own), belongs to nobody the organiser answers for: the row is refused with one message
    for both cases that names neither the worker nor their union.  Admins (whose scope is every
    union) and the command line may place any account.
    """
    if scope.actor is None:
        return
    current_unions = {e.union_id for e in existing.values() if e.union_id is not None}
    allowed = scope.allows_node_ids(current_unions)
    everywhere = scope.everywhere()
    for row in rows:
        account = existing.get(row.mobile)
        if account is None:
            continue
        in_scope = allowed[account.union_id] if account.union_id is not None else everywhere
        if not in_scope:
            report.error(row.number, "mobile", _l("This mobile number is already registered to a worker "
                                                  "outside the unions you organise. Ask an administrator "
                                                  "to change that account."))


# --------------------------------------------------------------------------- writing


def _hash_passwords(passwords: list[str]) -> list[str]:
    """Hash with the configured (production: scrypt) method; hashlib releases the GIL, so threads help."""
    if len(passwords) < 8:
        return [hash_password(p) for p in passwords]
    method = current_app.config["PASSWORD_HASH_METHOD"]
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        return list(pool.map(lambda p: generate_password_hash(p, method=method), passwords, chunksize=16))


def _write(rows: list[_Row], existing: dict[str, _Existing], hashes: dict[str, str], actor: User | None,
           report: ImportReport) -> None:
    """Insert new accounts, update changed ones, queue welcome SMS (inside the write transaction)."""
    timestamp = now()
    inserts, updates, welcomes = [], [], []
    for row in rows:
        account = existing.get(row.mobile)
        union_id = row.union_id
        if account is None:
            password_hash = None
            if row.password:
                password_hash = hashes.get(row.mobile) or hash_password(row.password)
            values = {
                "mobile": row.mobile, "name": row.name, "union_id": union_id, "occupation": row.occupation,
                "district": row.union_district, "password_hash": password_hash,
                "activated": password_hash is not None, "session_version": 1, "created_at": timestamp,
                "created_by_id": actor.id if actor else None,
            }
            if password_hash is None:
                welcomes.append(row.mobile)
            inserts.append(values)
            continue
        changes = {}
        if account.name != row.name:
            changes["name"] = row.name
        if account.union_id != union_id:
            changes["union_id"] = union_id
            if row.union_district:
                changes["district"] = row.union_district
        if account.occupation != row.occupation:
            changes["occupation"] = row.occupation
        if changes:
            updates.append({"id": account.id, **changes})
            report.updated += 1
        else:
            report.unchanged += 1

    for chunk in _chunks(inserts, WRITE_CHUNK):
        db.session.execute(insert(User), chunk)
    report.created = len(inserts)
    # Rows differ in which columns change, so group them: a bulk UPDATE needs the same keys per batch.
    by_keys: dict[tuple, list[dict]] = {}
    for values in updates:
        by_keys.setdefault(tuple(sorted(values)), []).append(values)
    for batch in by_keys.values():
        for chunk in _chunks(batch, WRITE_CHUNK):
            db.session.execute(update(User), chunk)
    if welcomes:
        # The ids of new accounts: reading them back costs less than INSERT ... RETURNING on psycopg.
        ids = {}
        for chunk in _chunks(welcomes):
            result = db.session.execute(select(User.mobile, User.id).where(_mobile_in(chunk)))
            ids.update((mobile, user_id) for mobile, user_id in result)
        message = codes.welcome_message()  # the same text for everyone: no code in it
        for chunk in _chunks(welcomes, WRITE_CHUNK):
            db.session.execute(insert(OutboxMessage), [
                {"user_id": ids[mobile], "channel": Channel.SMS, "kind": codes.OUTBOX_KIND, "subject": "",
                 "body": message, "created_at": timestamp, "attempts": 0} for mobile in chunk])
    report.welcome_messages = len(welcomes)
    log_action(actor.id if actor else None, "user.import", None, rows=report.rows, created=report.created,
               updated=report.updated, unchanged=report.unchanged, welcome_messages=report.welcome_messages)


# --------------------------------------------------------------------------- the service


def import_workers(data: bytes, filename: str, actor: User | None, *,
                   max_passwords: int | None = None) -> ImportReport:
    """Import a spreadsheet of workers; see the module docstring.  ``actor=None`` is the command line.

    Returns the report; when ``report.errors`` is not empty nothing was written.
    Raises NotAllowed when ``actor`` is neither an admin nor an organiser.
    """
    if actor is not None and not has_role(actor, Role.ORGANISER):
        raise NotAllowed()
    report = ImportReport()
    try:
        rows = _read(data, filename, report)
    except _FileError as error:
        report.errors = [RowError(None, None, error.message)]
        return report
    if max_passwords is not None:
        with_password = sum(1 for row in rows if row.password)
        if with_password > max_passwords:
            report.error(None, "password", _l(
                "The file gives %(count)d initial passwords; at most %(n)d can be imported here. Leave the "
                "password column empty (workers then log in with SMS codes) or ask an administrator "
                "to import it with the command line.", count=with_password, n=max_passwords))
    scope = _Scope(actor)
    _check_unions(rows, scope, report)
    valid_mobiles = [row.mobile for row in rows if MOBILE_RE.fullmatch(row.mobile)]
    existing = _load_existing(valid_mobiles)
    _check_existing(rows, existing, scope, report)
    db.session.rollback()  # end the read snapshot before the slow part; nothing was changed
    if report.errors:
        report.errors.sort(key=lambda e: (e.row or 0, COLUMNS.index(e.column) if e.column else -1))
        return report

    new_with_password = [row for row in rows if row.password and row.mobile not in existing]
    hashes = dict(zip((row.mobile for row in new_with_password),
                      _hash_passwords([row.password for row in new_with_password])))

    try:
        with write_transaction():
            # Look again under the write lock: accounts may have appeared since the check.
            # (An account's union may also have changed, so check every row again, not just new ones.)
            current = _load_existing(valid_mobiles)
            if scope.actor is not None or current.keys() != existing.keys():
                recheck = ImportReport()
                _check_existing(rows, current, scope, recheck)
                if recheck.errors:
                    raise Conflict(_l("Accounts changed while the file was being imported. Please import "
                                      "it again."))
            _write(rows, current, hashes, actor, report)
    except IntegrityError as error:
        raise Conflict(_l("Accounts changed while the file was being imported. Please import it again.")) \
            from error
    return report


def example_csv(union_name: str = "北京建工资源公司工会") -> bytes:
    """An example file with a BOM, so Excel opens the Chinese text correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([EXAMPLE_HEADERS[key] for key in COLUMNS])
    writer.writerow(["13800000001", "张三", union_name, "快递员", ""])
    writer.writerow(["13800000002", "李四", union_name, "外卖骑手", ""])
    writer.writerow(["13800000003", "王五", union_name, "其他", "Initial2024"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
