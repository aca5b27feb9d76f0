"""The feedback form: shape only; ``rules.clean_feedback`` (via the service) checks the values."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..core.forms import BaseForm
from . import rules


def _stars():
    return [SelectChoice(str(n), _l("%(n)d stars", n=n) if n > 1 else _l("1 star"))
            for n in range(rules.RATING_MAX, rules.RATING_MIN - 1, -1)]


class FeedbackForm(BaseForm):
    rating = RadioField(_l("How was the class?"), choices=_stars, validate_choice=False)
    comment = TextAreaField(_l("Comment (optional)"), render_kw={"rows": 4, "maxlength": rules.COMMENT_MAX},
                            description=_l("At most %(max)d characters. The organiser sees it without "
                                           "your name.",
                                           max=rules.COMMENT_MAX))
    submit = SubmitField(_l("Send feedback"))
