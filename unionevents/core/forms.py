"""Shared form pieces."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import ValidationError

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
