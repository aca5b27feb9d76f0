"""The benchmarks' accounts get passwords the account rules accept, whatever the random draw.

The invariants benchmark drew ``secrets.token_urlsafe(12)``: about one draw in 15 has no digit, and
``python -m bench`` then stopped at its first account (SQLite run at 20:29 UTC on 2026-12-07)."""
from __future__ import annotations

from bench.common import account_password
from unionevents.accounts.services import password_errors


def test_every_drawn_password_passes_the_account_rules(app):
    with app.app_context():
        drawn = {account_password() for _ in range(2000)}
        assert len(drawn) == 2000
        assert all(password_errors(password) == [] for password in drawn)
