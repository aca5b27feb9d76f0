"""``import_workers``: check the whole file, then write it in one transaction, or write nothing."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ...core.db import write_transaction
from ...core.errors import Conflict, NotAllowed
from ...core.permissions import has_role
from ...extensions import db
from ..models import Role, User
from ..services import MOBILE_RE
from ..sheets import SheetError
from .checks import Scope, check_existing, check_unions, load_existing
from .columns import COLUMNS
from .rows import ImportReport, RowError, read_rows
from .writing import hash_passwords, write_accounts

#: Web uploads stop at this many initial passwords: each is a production hash (scrypt, about 0.1 s
#: of one CPU and 32 MB), so more would outlast a request timeout.  The CLI has no limit.
WEB_MAX_PASSWORDS = 100


def import_workers(data: bytes, filename: str, actor: User | None, *,
                   max_passwords: int | None = None) -> ImportReport:
    """Import a spreadsheet of workers (see ``accounts.imports``).  ``actor=None`` is the command line.

    Returns the report; when ``report.errors`` is not empty nothing was written.
    Raises NotAllowed when ``actor`` is neither an admin nor an organiser.
    """
    if actor is not None and not has_role(actor, Role.ORGANISER):
        raise NotAllowed()
    report = ImportReport()
    try:
        rows = read_rows(data, filename, report)
    except SheetError as error:
        report.errors = [RowError(None, None, error.message)]
        return report
    if max_passwords is not None:
        with_password = sum(1 for row in rows if row.password)
        if with_password > max_passwords:
            report.error(None, "password", _l(
                "The file gives %(count)d initial passwords; at most %(n)d can be imported here. Leave the "
                "password column empty (workers then get an activation code by SMS) or ask an administrator "
                "to import it with the command line.", count=with_password, n=max_passwords))
    scope = Scope(actor)
    check_unions(rows, scope, report)
    valid_mobiles = [row.mobile for row in rows if MOBILE_RE.fullmatch(row.mobile)]
    existing = load_existing(valid_mobiles)
    check_existing(rows, existing, scope, report)
    db.session.rollback()  # end the read snapshot before the slow part; nothing was changed
    if report.errors:
        report.errors.sort(key=lambda e: (e.row or 0, COLUMNS.index(e.column) if e.column else -1))
        return report

    new_with_password = [row for row in rows if row.password and row.mobile not in existing]
    hashes = dict(zip((row.mobile for row in new_with_password),
                      hash_passwords([row.password for row in new_with_password])))

    try:
        with write_transaction():
            # Look again under the write lock: accounts may have appeared since the check.
            # (An account's union may also have changed, so check every row again, not just new ones.)
            current = load_existing(valid_mobiles)
            if scope.actor is not None or current.keys() != existing.keys():
                recheck = ImportReport()
                check_existing(rows, current, scope, recheck)
                if recheck.errors:
                    raise Conflict(_l("Accounts changed while the file was being imported. Please import "
                                      "it again."))
            write_accounts(rows, current, hashes, actor, report)
    except IntegrityError as error:
        raise Conflict(_l("Accounts changed while the file was being imported. Please import it again.")) \
            from error
    return report
