"""How many unknown ticket codes one organiser may type at the door (guessing someone's place).

Counted per organiser — their session, or the API token they scan with — not per address: door
volunteers share a venue's Wi-Fi.  Only a typed short code that names nobody counts
(``g.ticket_code_miss``, set by the view that caught ``UnknownTicketCode``); QR scans are never
limited, so a volunteer who mistyped twenty codes still scans every QR code.
"""
from __future__ import annotations

import hashlib

from flask import current_app, g, request
from flask_login import current_user

from ..extensions import limiter
from . import ticket_codes

SCOPE = "checkin-code-guesses"


def _limit() -> str:
    return current_app.config["CHECKIN_CODE_GUESS_LIMIT"]


def _organiser_key() -> str:
    header = request.headers.get("Authorization", "")
    if header:  # the API: the token, the same before and after the view (no session user there)
        return "token:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:32]
    if current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return "address:" + (request.remote_addr or "")


def _typed_code() -> str | None:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return None
        code = body.get("code")
        if isinstance(code, str):
            return code
        ticket = body.get("ticket")  # the door page's scanner: a typed code counts, a QR token never
        return ticket if ticket_codes.looks_like_code(ticket) else None
    typed = request.form.get("token")
    return typed if ticket_codes.looks_like_code(typed) else None


def _not_a_code() -> bool:
    return _typed_code() is None


def note_miss() -> None:
    """The request typed a code that names no place: count it against the organiser."""
    g.ticket_code_miss = True


def _missed(_response) -> bool:
    return bool(g.get("ticket_code_miss"))


#: Decorates every view that takes a typed code (the door page's ticket form, ``POST /api/v1/checkins``).
code_guesses = limiter.shared_limit(_limit, scope=SCOPE, key_func=_organiser_key, methods=["POST"],
                                    exempt_when=_not_a_code, deduct_when=_missed)
