"""Shared form pieces."""
from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from wtforms import ValidationError
from wtforms.fields.choices import SelectChoice

from ..accounts.services import mobile_error, normalise_mobile


class MobileNumber:
    """Validator: a mainland mobile number (spaces, dashes and +86 are tolerated and removed)."""

    def __call__(self, form, field):
        field.data = normalise_mobile(field.data)
        error = mobile_error(field.data)
        if error:
            raise ValidationError(error)


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value


REQUIRED_MESSAGE = _l("This field is required.")


def enum_choices(enum_cls) -> list[SelectChoice]:
    """A labelled enum's options. Call it per request (``choices=lambda: ...``) so the titles are in the
    request's language; a list built at import time keeps whatever language was current then."""
    return [SelectChoice(member.value, member.title) for member in enum_cls]


def select_choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """``(value, label)`` pairs, e.g. ``tree_choices()``, as options for a choice field.

    The values become strings, as a browser sends them back: an int id and its string would otherwise
    be two different values to code that compares ``choice.value``; the field's ``coerce`` still turns
    the submitted string into an int.
    """
    return [SelectChoice(str(value), label) for value, label in pairs]
