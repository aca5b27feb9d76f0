"""People, their roles with scope, login and API tokens."""
from __future__ import annotations


def init_app(app) -> None:
    """Start-up: hand core what it asks of accounts (core imports no domain).

    The JSON API turns a bearer token into its user with ``user_for_token``; the outbox sends a
    message to its user's mobile number.  (Users meet ``core.permissions`` through its ``Principal``
    interface, which ``User`` and ``Role`` provide.)
    """
    from ..core.api import set_token_user_loader
    from ..core.outbox import set_recipient_lookup
    from .services import mobiles_by_user_id, user_for_token

    set_token_user_loader(user_for_token)
    set_recipient_lookup(mobiles_by_user_id)
