"""Short ticket codes a rider can read out at the door (pure, no database).

Eight characters from 31 that cannot be mistaken for one another: no 0/O, 1/I/L.  Random (``secrets``),
never derived from an id, so knowing one code says nothing about another; unique per activity (the
database's ``uq_registration_ticket_code``).  31⁸ ≈ 8.5 × 10¹¹ codes: with 10 000 places in one activity
a random guess hits one in about 85 million tries, and the door limits failed guesses
(``CHECKIN_CODE_GUESS_LIMIT``).
"""
from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8
#: What a typed code may carry besides its characters: spaces and dashes (the ticket shows "ABCD EFGH").
_SEPARATORS = re.compile(r"[\s\-_.·]+")
_VALID = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str | None) -> str | None:
    """The code a door volunteer typed, in its stored form, or None when it cannot be a code."""
    if not isinstance(typed, str):
        return None
    code = _SEPARATORS.sub("", typed).upper()
    return code if _VALID.match(code) else None


def looks_like_code(typed: str | None) -> bool:
    """Short enough to be a ticket code rather than the QR code's long token (43 characters)."""
    return isinstance(typed, str) and len(_SEPARATORS.sub("", typed)) <= LENGTH + 2


def display(code: str | None) -> str:
    """Two groups of four, as printed under the QR code."""
    if not code:
        return ""
    return f"{code[:4]} {code[4:]}"
