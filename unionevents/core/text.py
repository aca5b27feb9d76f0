"""What counts as text a person typed: the one rule every form field and API string goes through.

- A string that is not valid Unicode text (a lone surrogate such as ``"\\ud800"``, which JSON can
  carry but UTF-8 cannot encode) is refused: it would break templates, exports and the database
  driver later, far from the input that caused it.
- Free text is normalised to NFC, so "é" typed two ways is one name.
- Zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF) are removed: they only hide
  differences between names that look the same.
- Direction controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) are refused: they make a
  name on a roster or in an SMS read differently from what is stored.

Passwords are only checked for valid text (``check_text``), never changed.
Pure functions: the request boundary (``core.input``), the form base (``core.forms``) and the API
fields (``core.api_fields``) call them.
"""
from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"

_ZERO_WIDTH_RE = re.compile(f"[{ZERO_WIDTH}]")
_BIDI_RE = re.compile(f"[{BIDI_CONTROLS}]")

NOT_TEXT = _l("Contains characters that are not valid text (UTF-8).")
BIDI_CONTROL = _l("Contains invisible text-direction characters; please remove them.")


class NotText(ValueError):
    """The value cannot be accepted as text; ``message`` says why (lazily translated).

    A ``ValueError``, so a WTForms filter that raises it becomes that field's error."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)


def is_text(value: str) -> bool:
    """True when ``value`` encodes as UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str) -> str:
    """``value`` unchanged when it is valid text; ``NotText`` otherwise (for passwords and tokens)."""
    if not is_text(value):
        raise NotText(NOT_TEXT)
    return value


def clean_text(value: str) -> str:
    """Free text as stored: valid text, NFC, without zero-width characters, without direction controls.

    Raises ``NotText``.  Leading and trailing spaces are left to the field (most strip them)."""
    check_text(value)
    if _BIDI_RE.search(value):
        raise NotText(BIDI_CONTROL)
    return _ZERO_WIDTH_RE.sub("", unicodedata.normalize("NFC", value))


def first_non_text(value, path: tuple = ()) -> tuple | None:
    """The path (keys and indexes) to the first string in a parsed JSON value, key or item, that is
    not valid text; None when all are."""
    if isinstance(value, str):
        return None if is_text(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not is_text(key):
                return path + ("_key",)
            found = first_non_text(item, path + (key,))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = first_non_text(item, path + (index,))
            if found is not None:
                return found
    return None
