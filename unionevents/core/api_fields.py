"""``marshmallow.fields`` for the JSON API, with error messages in the request's language.

API modules import it in place of marshmallow's module: ``from ..core import api_fields as fields``.
Every name of ``marshmallow.fields`` is here; the fields that read request input are subclasses
whose ``default_error_messages`` (marshmallow's documented way to change a field class's
messages) are lazy translations, so a 422 says "不是有效的整数。" by default and "Not a valid
integer." to a client whose locale is English (``core.i18n.select_locale``).

Why a ``make_error`` of our own: marshmallow formats a message only when it is a ``str`` and wraps
only a ``str`` in a list; a lazy string would reach the reply unformatted and not in a list.  Here
the lazy string becomes text when the error is made, i.e. while the request's input is read, in
that request's locale, and is then formatted with marshmallow's ``{placeholders}`` as usual.

Fields not overridden here (``Function``, ``Method``, ``Pluck``, ``Url``, ``Email``, ``IP`` ...)
are marshmallow's own, with English messages: fine in replies, but a request schema that reads one
fails ``tests/core/test_api_errors.py`` until a translated subclass is added here.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import fields as _ma
from marshmallow.exceptions import ValidationError
from marshmallow.fields import *  # noqa: F401,F403 - the same names as marshmallow.fields

from .db import MAX_ID
from .text import BIDI_CONTROL, NOT_TEXT, NotText, check_text, clean_text

# Messages keep marshmallow's English wording, so English replies read as they did before.
REQUIRED = _l("Missing data for required field.")
NULL = _l("Field may not be null.")
INVALID_VALUE = _l("Invalid value.")
ONE_OF = _l("Must be one of: {choices}.")


class TranslatedErrors:
    """Mixin first in a field's bases: lazy messages become text in the request's language."""

    default_error_messages = {"required": REQUIRED, "null": NULL, "validator_failed": INVALID_VALUE}

    def make_error(self, key: str, **kwargs) -> ValidationError:
        message = self.error_messages.get(key)
        if message is None or isinstance(message, (str, bytes)):
            return super().make_error(key, **kwargs)  # a plain message: marshmallow's own way
        return ValidationError(str(message).format(**kwargs))


class Raw(TranslatedErrors, _ma.Raw):
    pass


class String(TranslatedErrors, _ma.String):
    """Free text, read by ``core.text.clean_text``: NFC, zero-width characters removed, direction
    controls and invalid text (lone surrogates) refused.  A required value that cleaning leaves empty
    is refused as missing.  ``Password`` reads a secret as it is."""

    default_error_messages = {
        "invalid": _l("Not a valid string."),
        "invalid_utf8": _l("Not a valid utf-8 string."),
        "not_text": NOT_TEXT,
        "bidi_control": BIDI_CONTROL,
    }

    def _clean(self, text: str) -> str:
        return clean_text(text)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            cleaned = self._clean(text)
        except NotText as refused:
            raise self.make_error("bidi_control" if refused.message is BIDI_CONTROL else "not_text") from None
        if self.required and text.strip() and not cleaned.strip():
            raise self.make_error("required")
        return cleaned


class Password(String):
    """A secret (password, SMS code): refused when it is not valid text, otherwise kept exactly as sent."""

    def _clean(self, text: str) -> str:
        return check_text(text)


class Integer(TranslatedErrors, _ma.Integer):
    """An integer within the database's integer range (±2**31−1): beyond it is "Number too large.",
    not a driver overflow.  A schema that needs a wider number must say so with its own field."""

    default_error_messages = {
        "invalid": _l("Not a valid integer."),
        "too_large": _l("Number too large."),
    }

    def _validated(self, value) -> int:
        number = super()._validated(value)
        if number is not None and not -MAX_ID <= number <= MAX_ID:
            raise self.make_error("too_large", input=value)
        return number


class Float(TranslatedErrors, _ma.Float):
    default_error_messages = {
        "invalid": _l("Not a valid number."),
        "too_large": _l("Number too large."),
        "special": _l("Special numeric values (nan or infinity) are not permitted."),
    }


class Boolean(TranslatedErrors, _ma.Boolean):
    default_error_messages = {"invalid": _l("Not a valid boolean.")}


class DateTime(TranslatedErrors, _ma.DateTime):
    default_error_messages = {"invalid": _l("Not a valid datetime.")}


class Date(TranslatedErrors, _ma.Date):
    default_error_messages = {"invalid": _l("Not a valid date.")}


class Time(TranslatedErrors, _ma.Time):
    default_error_messages = {"invalid": _l("Not a valid time.")}


class UUID(TranslatedErrors, _ma.UUID):
    default_error_messages = {"invalid_uuid": _l("Not a valid UUID.")}


class Enum(TranslatedErrors, _ma.Enum):
    default_error_messages = {"unknown": ONE_OF}


class List(TranslatedErrors, _ma.List):
    default_error_messages = {"invalid": _l("Not a valid list.")}


class Dict(TranslatedErrors, _ma.Dict):
    default_error_messages = {"invalid": _l("Not a valid mapping type.")}


class Nested(TranslatedErrors, _ma.Nested):
    """The nested schema's own messages come from it: make it a ``core.api.ApiSchema`` too."""

    default_error_messages = {"type": _l("Invalid type.")}


Str = String
Int = Integer
Bool = Boolean
