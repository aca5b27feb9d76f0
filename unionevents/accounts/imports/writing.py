"""Writing a checked file: initial passwords hashed, accounts inserted and updated in bulk, activation
codes queued by SMS through the outbox, one audit row with the counts."""
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
from .. import activation
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
    """Insert new accounts, update changed ones, queue activation SMS (inside the write transaction)."""
    timestamp = now()
    inserts, updates, codes = [], [], {}
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
                "activated": password_hash is not None, "activation_code_hash": None,
                "activation_failures": 0, "session_version": 1, "created_at": timestamp,
                "created_by_id": actor.id if actor else None,
            }
            if password_hash is None:
                codes[row.mobile] = activation.new_code()
                values["activation_code_hash"] = activation.code_digest(row.mobile, codes[row.mobile])
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
        if not account.activated and not account.has_password and not account.has_code:
            # An unactivated account whose code was used up or voided gets a new one.
            codes[row.mobile] = activation.new_code()
            changes["activation_code_hash"] = activation.code_digest(row.mobile, codes[row.mobile])
            changes["activation_failures"] = 0
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
    if codes:
        # The ids of new accounts, read back in one SELECT (docs/performance.md, "Why the code is
        # shaped this way").
        ids = {mobile: account.id for mobile, account in existing.items()}
        for chunk in chunks([m for m in codes if m not in ids]):
            result = db.session.execute(select(User.mobile, User.id).where(mobile_in(chunk)))
            ids.update((mobile, user_id) for mobile, user_id in result)
        message = activation.activation_message_maker()
        for chunk in chunks(list(codes.items()), WRITE_CHUNK):
            db.session.execute(insert(OutboxMessage), [
                {"user_id": ids[mobile], "channel": Channel.SMS, "kind": activation.OUTBOX_KIND, "subject": "",
                 "body": message(code), "created_at": timestamp, "attempts": 0} for mobile, code in chunk])
    report.activation_codes = len(codes)
    log_action(actor.id if actor else None, "user.import", None, rows=report.rows, created=report.created,
               updated=report.updated, unchanged=report.unchanged, activation_codes=report.activation_codes)
