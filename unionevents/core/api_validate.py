"""The ``marshmallow.validate`` validators the JSON API uses, with messages in the request's language.

API modules import it in place of marshmallow's module: ``from ..core import api_validate as validate``.
Each class is marshmallow's, given a lazily translated ``error=`` (the documented way to word a
validator's message) unless the schema passes its own.  marshmallow formats the message with
``{min}``, ``{max}``, ``{choices}`` ... when a value fails, i.e. while a request is read, so the
lazy string becomes text in that request's language then, never at import.

Only the validators below are here on purpose: one that is missing (``Regexp``, ``Equal`` ...)
would answer in English, so add it here, with its messages, before a schema uses it.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import validate as _mv

from .api_fields import ONE_OF

# The wording of marshmallow's own messages, so English replies read as they did before.
_RANGE = {
    (True, True): _l("Must be greater than or equal to {min} and less than or equal to {max}."),
    (True, False): _l("Must be greater than or equal to {min}."),
    (False, True): _l("Must be less than or equal to {max}."),
}
_LENGTH = {
    (True, True): _l("Length must be between {min} and {max}."),
    (True, False): _l("Shorter than minimum length {min}."),
    (False, True): _l("Longer than maximum length {max}."),
}
_LENGTH_EQUAL = _l("Length must be {equal}.")


class Range(_mv.Range):
    """``marshmallow.validate.Range`` with inclusive bounds (the only kind worded here)."""

    def __init__(self, min=None, max=None, *, error=None, **kwargs):  # noqa: A002 - marshmallow's names
        if error is None:
            if not kwargs.get("min_inclusive", True) or not kwargs.get("max_inclusive", True):
                raise ValueError("exclusive bounds need their own translated error=")
            error = _RANGE.get((min is not None, max is not None))
        super().__init__(min, max, error=error, **kwargs)


class Length(_mv.Length):
    def __init__(self, min=None, max=None, *, equal=None, error=None):  # noqa: A002 - marshmallow's names
        if error is None:
            error = _LENGTH_EQUAL if equal is not None else _LENGTH.get((min is not None, max is not None))
        super().__init__(min, max, equal=equal, error=error)


class OneOf(_mv.OneOf):
    default_message = ONE_OF
