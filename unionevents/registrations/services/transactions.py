"""One write transaction, retried a bounded number of times when the database is busy."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from sqlalchemy.exc import DBAPIError, IntegrityError

from ...core.db import write_transaction
from ...extensions import db
from .errors import Busy

log = logging.getLogger(__name__)

#: Attempts of one write transaction when the database says "locked" or "deadlock".
WRITE_ATTEMPTS = 6
#: First pause between attempts (seconds); doubles each time.
RETRY_BACKOFF = 0.05


def _is_transient(error: DBAPIError) -> bool:
    orig = getattr(error, "orig", None)
    if "database is locked" in str(orig) or "database table is locked" in str(orig):
        return True
    return getattr(orig, "sqlstate", None) in ("40001", "40P01")


def _in_write_transaction(fn: Callable[..., Any], *args, **kwargs):
    """Run ``fn`` in one write transaction, retrying a few times when the database is busy.

    No "database is locked" reaches a user: after the last attempt it becomes ``Busy`` (503).
    """
    delay = RETRY_BACKOFF
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with write_transaction():
                return fn(*args, **kwargs)
        except DBAPIError as error:
            db.session.rollback()
            if isinstance(error, IntegrityError) or not _is_transient(error):
                raise
            log.warning("write transaction busy (attempt %d of %d): %s", attempt, WRITE_ATTEMPTS, error.orig)
            if attempt == WRITE_ATTEMPTS:
                raise Busy() from error
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover
