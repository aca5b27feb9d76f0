"""Shared form pieces, and ``BaseForm``: the base of every form, applying the input rules by default.

Every field of a ``BaseForm`` gets, before its own filters:

- text fields (``StringField`` and its kinds: text areas, hidden, search ...): ``core.text.clean_text``
  (NFC, zero-width characters removed, direction controls and invalid text refused as the field's
  error); a required one left empty by that is refused with "This field is required.";
- password fields: only ``core.text.check_text`` (never stripped or normalised);
- integer fields (and choices coerced with ``int``): outside the database's integer range is the
  field's error, never a driver overflow.

``tests/core/test_forms.py`` checks that every form of the package derives from ``BaseForm``.
"""
from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice

from .db import MAX_ID
from .text import NotText, check_text, clean_text

NUMBER_OUT_OF_RANGE = _l("The number is out of range.")


def text_filter(value):
    """Free text as stored (``core.text.clean_text``); a ``ValueError`` WTForms shows on the field."""
    if not isinstance(value, str):
        return value
    try:
        return clean_text(value)
    except NotText as refused:
        raise ValueError(refused.message) from None


def secret_filter(value):
    """A password: refused when it is not valid text, otherwise exactly as typed."""
    if not isinstance(value, str):
        return value
    try:
        return check_text(value)
    except NotText as refused:
        raise ValueError(refused.message) from None


def int_range_filter(value):
    """An integer (or a list of them) within the database's integer range."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if any(isinstance(v, int) and not -MAX_ID <= v <= MAX_ID for v in values):
        raise ValueError(NUMBER_OUT_OF_RANGE)
    return value


def default_filters(field_class, kwargs: dict) -> tuple:
    """The filters ``BaseForm`` puts before a field's own."""
    if issubclass(field_class, PasswordField):
        return (secret_filter,)
    if issubclass(field_class, StringField):
        return (text_filter,)
    if issubclass(field_class, IntegerField):
        return (int_range_filter,)
    choices = (SelectField, SelectMultipleField, RadioField)
    if issubclass(field_class, choices) and kwargs.get("coerce") is int:
        return (int_range_filter,)
    return ()


class BaseForm(FlaskForm):
    """The base of every form: text, password and integer fields follow the input rules by default."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            extra = default_filters(unbound_field.field_class, unbound_field.kwargs)
            if extra:
                own = tuple(unbound_field.kwargs.get("filters") or ())
                options = dict(options, filters=(*extra, *own))
            # FlaskForm makes Meta a subclass of DefaultMeta, which has bind_field; mypy sees `object`.
            return super().bind_field(form, unbound_field, options)  # type: ignore[misc]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            # InputRequired looks at what was sent: a value of only zero-width characters passed it.
            is_text = isinstance(field, StringField) and not isinstance(field, PasswordField)
            if (is_text and field.flags.required and isinstance(field.data, str) and not field.data.strip()
                    and not field.errors):
                field.errors = [*field.errors, REQUIRED_MESSAGE]
                valid = False
        return valid


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
