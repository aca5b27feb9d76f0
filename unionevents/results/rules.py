"""Pure rules of feedback: the rating, the comment, the average."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from flask_babel import lazy_gettext as _l

from ..activities.models import ActivityKind

#: Activity kinds whose attendees are asked for feedback.
FEEDBACK_KINDS = frozenset({ActivityKind.CLASS_})
RATING_MIN, RATING_MAX = 1, 5
COMMENT_MAX = 500

MSG_RATING = _l("Please choose a rating from %(min)d to %(max)d stars.", min=RATING_MIN, max=RATING_MAX)
MSG_COMMENT = _l("Please keep the comment within %(max)d characters.", max=COMMENT_MAX)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_feedback(rating: Any, comment: Any) -> tuple[tuple[int, str] | None, dict[str, list]]:
    errors: dict[str, list] = {}
    value = None
    if isinstance(rating, int) and not isinstance(rating, bool):
        value = rating
    elif isinstance(rating, str) and rating.strip().isascii() and rating.strip().isdigit():
        value = int(rating.strip())
    if value is None or not RATING_MIN <= value <= RATING_MAX:
        errors["rating"] = [MSG_RATING]
    text = "" if comment is None else str(comment)
    text = _CONTROL.sub("", text.replace("\r\n", "\n")).strip()
    if len(text) > COMMENT_MAX:
        errors["comment"] = [MSG_COMMENT]
    if errors:
        return None, errors
    return (value, text), {}


def average(ratings: Iterable[int]) -> Decimal | None:
    values = list(ratings)
    if not values:
        return None
    return (Decimal(sum(values)) / len(values)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def distribution(ratings: Iterable[int]) -> dict[int, int]:
    counts = {star: 0 for star in range(RATING_MAX, RATING_MIN - 1, -1)}
    for value in ratings:
        counts[value] = counts.get(value, 0) + 1
    return counts


def rate(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` as a percentage to one decimal; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
