"""Writing a checked file: initial passwords hashed, accounts inserted and updated in bulk, welcome
messages queued by SMS through the outbox (no code in them), one audit row with the counts."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from sqlalchemy import insert, select, update
from werkzeug.security import generate_password_hash

from ...core.audit import log_action
from ...core.outbox import Channel, OutboxMessage
from ...core.timeutil import now
from ...extensions import db
from .. import codes
from ..models import User
from ..services import hash_password
from .checks import Existing, chunks, mobile_in
from .rows import ImportReport, Row

WRITE_CHUNK = 2_000
HASH_THREADS = max(1, min(4, os.cpu_count() or 1))


def hash_passwords(passwords: list[str]) -> list[str]:
    """Hash with the configured (production: scrypt) method; hashlib releases the GIL, so threads help."""
    if len(passwords) < 8:
        return [hash_password(p) for p in passwords]
    method = current_app.config["PASSWORD_HASH_METHOD"]
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        return list(pool.map(lambda p: generate_password_hash(p, method=method), passwords, chunksize=16))


def write_accounts(rows: list[Row], existing: dict[str, Existing], hashes: dict[str, str],
                   actor: User | None, report: ImportReport) -> None:
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

    for chunk in chunks(inserts, WRITE_CHUNK):
        db.session.execute(insert(User), chunk)
    report.created = len(inserts)
    # Rows differ in which columns change, so group them: a bulk UPDATE needs the same keys per batch.
    by_keys: dict[tuple, list[dict]] = {}
    for values in updates:
        by_keys.setdefault(tuple(sorted(values)), []).append(values)
    for batch in by_keys.values():
        for chunk in chunks(batch, WRITE_CHUNK):
            db.session.execute(update(User), chunk)
    if welcomes:
        # The ids of new accounts, read back in one SELECT (docs/performance.md, "Why the code is
        # shaped this way").
        ids = {}
        for chunk in chunks(welcomes):
            result = db.session.execute(select(User.mobile, User.id).where(mobile_in(chunk)))
            ids.update((mobile, user_id) for mobile, user_id in result)
        message = codes.welcome_message()  # the same text for everyone: no code in it
        for chunk in chunks(welcomes, WRITE_CHUNK):
            db.session.execute(insert(OutboxMessage), [
                {"user_id": ids[mobile], "channel": Channel.SMS, "kind": codes.OUTBOX_KIND, "subject": "",
                 "body": message, "created_at": timestamp, "attempts": 0} for mobile in chunk])
    report.welcome_messages = len(welcomes)
    log_action(actor.id if actor else None, "user.import", None, rows=report.rows, created=report.created,
               updated=report.updated, unchanged=report.unchanged, welcome_messages=report.welcome_messages)
