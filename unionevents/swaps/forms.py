"""Organiser forms of a swap: the exchange rule, the stock, a donation at the desk.

Numbers arrive as text and are parsed here only into "a whole number or not"; the ranges and
every other rule are the services' (their messages land on the matching field)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..core.forms import BaseForm
from . import rules
from .services import SEARCH_MAX


def whole_number(text) -> int | None | str:
    """The text as an int, None when empty, or "bad" (the service then names the field)."""
    if text is None or str(text).strip() == "":
        return None
    value = str(text).strip().replace("＋", "+").replace("－", "-")
    value = "".join(chr(ord(c) - 0xFEE0) if "０" <= c <= "９" else c for c in value)
    try:
        return int(value, 10) if len(value) <= 9 else "bad"
    except ValueError:
        return "bad"


def _numeric(label, description=None, signed=False):
    return StringField(label, description=description,
                       render_kw={"inputmode": "text" if signed else "numeric", "autocomplete": "off",
                                  "maxlength": 9})


class RuleForm(BaseForm):
    books_per_lot = _numeric(_l("Books"), _l("How many books earn one lot."))
    portions_per_lot = _numeric(_l("Portions per lot"), _l("How many portions one lot earns."))
    per_person_cap = _numeric(_l("Most portions per person"), _l("Leave empty for no limit."))
    submit = SubmitField(_l("Save the rule"))


class StockForm(BaseForm):
    mode = RadioField(_l("Stock change"), choices=[SelectChoice("delta", _l("Add or take away")),
                                                SelectChoice("set", _l("Set the counted stock"))],
                      default="delta", validate_choice=False)
    amount = _numeric(_l("Portions"),
                      _l("Add: 50. Take away (spoiled, given elsewhere): -3. Or the counted stock."),
                      signed=True)
    reason = StringField(_l("Reason"), render_kw={"maxlength": rules.REASON_MAX})
    submit = SubmitField(_l("Save the stock"))


class DonationForm(BaseForm):
    books = _numeric(_l("Number of books"))
    titles = TextAreaField(_l("Titles or ISBNs (optional)"),
                           description=_l("One book per line: a title, an ISBN, or a title followed by "
                                          "its ISBN."),
                           render_kw={"rows": 5})
    submit = SubmitField(_l("Record and give the portions"))


class DeskSearchForm(BaseForm):
    class Meta:
        csrf = False

    q = StringField(_l("Ticket code, name or the last 4 digits of the mobile number"),
                    render_kw={"maxlength": SEARCH_MAX, "autocomplete": "off", "autofocus": True})
