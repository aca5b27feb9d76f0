"""A worker's rights over their data (PIPL Art. 45–47): download everything, delete the account.

Export
    Every row that references the worker is found by walking the foreign keys to ``user.id``
    in ``db.metadata``, so a table added by any domain is covered without touching this module.
    A row whose reference column is ``user_id`` or ``actor_id`` (or whose column carries
    ``info={"export": "full"}``) is *about* the worker and is exported whole.  Any other reference
    (``created_by_id``, ``granted_by_id``, ``entered_by_id`` ...) only records that the worker
    acted on someone else's row: just its key and that column are exported, never the other
    person's data.  Secrets are never exported: columns named like ``*hash*``, ``*digest*``,
    ``*secret*``, ``*password*``, or marked ``info={"secret": True}``.

Erasure
    1. Every function in ``pre_erasure_hooks`` runs with the user, before the erasure transaction,
       for changes that need their own transactions: registrations cancels live registrations
       through its engine there, so places are freed and waiting lists promoted (a registration
       past its cancellation cut-off keeps its state: the place stays taken, like a no-show).
    2. In one write transaction: every function in ``erasure_hooks`` runs (each domain wipes its
       own personal fields there: registrations keep their state, activity, slot and unit — the
       reports count them — but lose their answers and get a fresh ticket secret), the worker's
       outbox messages, API tokens and role grants are deleted, and the user row is
       anonymised: name → "Deleted account" (in the site language; ``User.display_name``
       translates it for each viewer), mobile → ``x`` + the id padded to 10 digits (unique,
       never a phone number), no password, no member card, district, locale or consent record;
       the session version is bumped, so every session and remember-me cookie ends.
    3. Kept on purpose: ``union_id`` and ``occupation`` — the officers' reports count
       participation per union and per occupation (new-employment-form workers), and neither
       identifies a person on its own — and ``created_at``.  Audit rows hold ids only.

``erasure_hooks``: another domain registers ``hook(user_id: int) -> None | Callable[[], None]`` with
``register_erasure_hook``; hooks run inside the erasure transaction (before the user row is
wiped), must only change rows through the session, and must not commit.  A hook may return a
callable that runs once the transaction has committed, for work outside the database that must not
happen if it rolls back (contests delete the photo files there).  Example (contests): entries keep
their code and scores but lose their photos, title, text and names.  ``register_pre_erasure_hook``
adds a ``hook(user: User) -> None`` run before that transaction (it may open its own).  This module
imports no domain: each registers its hooks from its ``init_app``, which the app factory calls.
"""
from __future__ import annotations

import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Callable

from flask import current_app
from flask_babel import force_locale, gettext, lazy_gettext as _l
from sqlalchemy import Column, Table, delete, select
from werkzeug.security import check_password_hash

from ..core.audit import log_action, log_read
from ..core.db import write_transaction
from ..core.errors import Conflict, ValidationFailed
from ..core.outbox import OutboxMessage
from ..core.timeutil import now
from ..extensions import db
from .models import ApiToken, RoleGrant, User

EXPORT_FORMAT = "unionevents-export/1"
#: Reference columns whose rows are about the referenced person (exported whole).
SUBJECT_COLUMNS = frozenset({"user_id", "actor_id"})
_SECRET_NAME = re.compile(r"hash|digest|secret|password", re.IGNORECASE)

DELETED_NAME = _l("Deleted account")

ErasureHook = Callable[[int], "Callable[[], None] | None"]
#: Functions run inside the erasure transaction with the user id; see the module docstring.
erasure_hooks: list[ErasureHook] = []


def register_erasure_hook(hook: ErasureHook) -> ErasureHook:
    """Add ``hook`` to ``erasure_hooks`` (usable as a decorator); adding it twice is harmless."""
    if hook not in erasure_hooks:
        erasure_hooks.append(hook)
    return hook


PreErasureHook = Callable[[User], None]
#: Functions run with the user before the erasure transaction (they may open their own).
pre_erasure_hooks: list[PreErasureHook] = []


def register_pre_erasure_hook(hook: PreErasureHook) -> PreErasureHook:
    """Add ``hook`` to ``pre_erasure_hooks`` (usable as a decorator); adding it twice is harmless."""
    if hook not in pre_erasure_hooks:
        pre_erasure_hooks.append(hook)
    return hook


class AlreadyErased(Conflict):
    code = "already_erased"
    default_message = _l("This account has already been deleted.")


# --------------------------------------------------------------------------- export

def is_secret(column: Column) -> bool:
    return bool(column.info.get("secret")) or bool(_SECRET_NAME.search(column.name))


def user_references() -> list[tuple[Table, Column]]:
    """Every (table, column) with a foreign key to ``user.id``, in a stable order."""
    user_id = User.__table__.c.id
    found = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column is user_id for fk in column.foreign_keys):
                found.append((table, column))
    return found


def _is_subject(column: Column) -> bool:
    mode = column.info.get("export")
    if mode in ("full", "reference"):
        return mode == "full"
    return column.name in SUBJECT_COLUMNS


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None  # binary blobs (never personal text here) are left out
    return value


def _rows(table: Table, columns: list[Column], where) -> list[dict[str, Any]]:
    order = list(table.primary_key.columns) or columns[:1]
    result = db.session.execute(select(*columns).where(where).order_by(*order))
    return [{key: _plain(value) for key, value in row._mapping.items()} for row in result]


def export_data(user: User) -> dict[str, Any]:
    """Everything stored about ``user``: ``{"format", "exported_at", "user_id", "tables": {name: rows}}``.

    ``tables`` has one entry per table holding rows about the worker (``"registration"``), and one
    per other reference (``"registration.entered_by_id"``) listing only the keys of those rows.
    """
    user_table = User.__table__
    tables: dict[str, list[dict[str, Any]]] = {
        "user": _rows(user_table, [c for c in user_table.columns if not is_secret(c)],
                      user_table.c.id == user.id),
    }
    for table, column in user_references():
        if _is_subject(column):
            rows = _rows(table, [c for c in table.columns if not is_secret(c)], column == user.id)
            name = table.name if table.name not in tables else f"{table.name}.{column.name}"
        else:
            keys = list(table.primary_key.columns)
            rows = _rows(table, keys + [column], column == user.id)
            name = f"{table.name}.{column.name}"
        if rows:
            tables[name] = rows
    return {"format": EXPORT_FORMAT, "exported_at": now().isoformat() + "Z", "user_id": user.id,
            "tables": tables}


def export_json(user: User) -> bytes:
    data = export_data(user)
    log_read(user.id, "privacy.export", user, format="json")
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def export_xlsx(user: User) -> bytes:
    """The same data as a workbook: one sheet per table, a header row, values as text or numbers."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    data = export_data(user)
    book = Workbook(write_only=True)
    used: set[str] = set()
    for name, rows in data["tables"].items():
        title = _sheet_title(name, used)
        sheet = book.create_sheet(title)
        headers = list(rows[0].keys())
        sheet.append(headers)
        for row in rows:
            cells = []
            for key in headers:
                value = row.get(key)
                if isinstance(value, (dict, list)):
                    value = json.dumps(value, ensure_ascii=False)
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text stays text: "=..." is never a formula
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    log_read(user.id, "privacy.export", user, format="xlsx")
    return buffer.getvalue()


def _sheet_title(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    title, n = base, 1
    while title in used:
        n += 1
        title = f"{base[:28]}~{n}"
    used.add(title)
    return title


# --------------------------------------------------------------------------- erasure

def erased_mobile(user_id: int) -> str:
    """A unique stand-in for the mobile column: never a phone number (those start with 1)."""
    return f"x{user_id:010d}"


def check_password(user: User, password: str | None) -> None:
    """The deletion form asks for the password again; ValidationFailed when it is wrong."""
    if not user.password_hash or not check_password_hash(user.password_hash, password or ""):
        raise ValidationFailed({"password": [str(_l("The password is not correct."))]})


def erase_account(user: User, actor: User | None = None) -> User:
    """Delete ``user``'s personal data and end their access; the anonymised row keeps the counts right.

    ``actor``: who asked (the worker themself, or an administrator acting on a written request).
    """
    if user.erased_at is not None:
        raise AlreadyErased()
    user_id = user.id
    actor_id = actor.id if actor is not None else user_id
    for hook in list(pre_erasure_hooks):
        hook(user)

    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        placeholder = gettext("Deleted account")
    after_commit: list[Callable[[], None]] = []
    with write_transaction():
        user = db.session.get(User, user_id, populate_existing=True)
        for hook in list(erasure_hooks):
            then = hook(user_id)
            if then is not None:
                after_commit.append(then)
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.user_id == user_id))
        db.session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
        db.session.execute(delete(RoleGrant).where(RoleGrant.user_id == user_id))
        db.session.expire(user, ["grants"])
        user.name = placeholder[:40]
        user.mobile = erased_mobile(user_id)
        user.password_hash = None
        user.activated = False
        user.activation_code_hash = None
        user.activation_failures = 0
        user.member_card_no = None
        user.district = None
        user.locale = None
        user.privacy_version = None
        user.privacy_accepted_at = None
        user.session_version += 1
        user.erased_at = now()
        log_action(actor_id, "user.erase", user)
    for then in after_commit:
        then()
    return user
