"""Login and account-creation throttling (Flask-Limiter).

Limits count per client address *and* per mobile number: riders share carrier NAT
addresses, and a guesser can change address but not the account it guesses at.
With ``REDIS_URL`` set the counts live in Redis, so every worker process shares them.
Activity sign-ups are never limited per address (a whole workplace may sign up
from one network at the same minute).
"""
from __future__ import annotations

from flask import current_app, request

from .services import normalise_mobile


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def signup_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


def mobile_key() -> str:
    """The rate-limit key for the mobile number in a form or a JSON body."""
    raw = request.form.get("mobile")
    if raw is None and request.is_json:
        body = request.get_json(silent=True)
        raw = body.get("mobile") if isinstance(body, dict) else None
    mobile = normalise_mobile(raw if isinstance(raw, str) else "")[:20]
    return "mobile:" + mobile
