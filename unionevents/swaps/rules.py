"""Pure rules of a swap (以物换物, e.g. 以书换蔬): the exchange, ISBNs and the list of donated books."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

#: Limits of an exchange rule and of one donation.
MAX_LOT = 100
MAX_CAP = 1000
MAX_BOOKS = 500
MAX_STOCK = 1_000_000
TITLE_MAX = 200
REASON_MAX = 200


class Limit:
    """What decided the number of portions given."""

    RULE = "rule"      # the books earned exactly this many
    CAP = "cap"        # the per-person maximum cut it
    STOCK = "stock"    # the stock ran out


@dataclass(frozen=True)
class ExchangeRule:
    """``books_per_lot`` books earn ``portions_per_lot`` portions; at most ``per_person_cap`` a person."""

    books_per_lot: int = 1
    portions_per_lot: int = 1
    per_person_cap: int | None = None


@dataclass(frozen=True)
class Exchange:
    earned: int        # by the rule alone
    portions: int      # actually given
    limited_by: str    # Limit.*
    cap_left: int | None


def exchange(books: int, rule: ExchangeRule, already_given: int, stock: int) -> Exchange:
    """portions = min(portions earned by the books, per-person cap − already given, stock), never below 0."""
    earned = (max(books, 0) // rule.books_per_lot) * rule.portions_per_lot
    portions, limited_by = earned, Limit.RULE
    cap_left = None
    if rule.per_person_cap is not None:
        cap_left = max(rule.per_person_cap - max(already_given, 0), 0)
        if cap_left < portions:
            portions, limited_by = cap_left, Limit.CAP
    if max(stock, 0) < portions:
        portions, limited_by = max(stock, 0), Limit.STOCK
    return Exchange(earned=earned, portions=portions, limited_by=limited_by, cap_left=cap_left)


def rule_errors(books_per_lot, portions_per_lot, per_person_cap) -> dict[str, list]:
    errors: dict[str, list] = {}
    for name, value in (("books_per_lot", books_per_lot), ("portions_per_lot", portions_per_lot)):
        if not is_int(value) or not 1 <= value <= MAX_LOT:
            errors[name] = [_l("Please enter a whole number from 1 to %(max)d.", max=MAX_LOT)]
    if per_person_cap is not None and (not is_int(per_person_cap) or not 1 <= per_person_cap <= MAX_CAP):
        errors["per_person_cap"] = [_l("Please enter a whole number from 1 to %(max)d, or leave it empty "
                                       "for no limit.", max=MAX_CAP)]
    return errors


def is_int(value) -> bool:
    """A whole number from JSON or a form (``True`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- ISBN

def _isbn_chars(text: str) -> str:
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text)).upper()


def looks_like_isbn(text: str) -> bool:
    """Digits (and a final X), hyphens and spaces only, with at least 9 digits: meant as an ISBN."""
    chars = _isbn_chars(text)
    if chars.startswith("ISBN"):
        chars = chars[4:].lstrip(":")
    return bool(re.fullmatch(r"[0-9]{9,}X?", chars))


def normalise_isbn(text: str) -> str | None:
    """The ISBN-13 of a valid ISBN-10 or ISBN-13 (hyphens, spaces, "ISBN" prefix allowed), else None."""
    chars = _isbn_chars(text)
    if chars.startswith("ISBN"):
        chars = chars[4:].lstrip(":")
    if re.fullmatch(r"[0-9]{9}[0-9X]", chars):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(chars))
        if total % 11:
            return None
        core = "978" + chars[:9]
        return core + _isbn13_check(core)
    if re.fullmatch(r"97[89][0-9]{10}", chars):
        return chars if _isbn13_check(chars[:12]) == chars[12] else None
    return None


def _isbn13_check(first12: str) -> str:
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


# --------------------------------------------------------------------------- the list of books

@dataclass(frozen=True)
class BookEntry:
    title: str
    isbn: str | None  # ISBN-13

    @property
    def key(self) -> str:
        """Books with the same ISBN (or, without one, the same title) are counted together."""
        if self.isbn:
            return f"isbn:{self.isbn}"
        return "title:" + "".join(unicodedata.normalize("NFKC", self.title).casefold().split())


_TRAILING_ISBN = re.compile(
    r"^(?P<title>.*?)[\s,，|｜;；/]+(?:ISBN[:：]?\s*)?(?P<isbn>[0-9][0-9\-\s]{8,}[0-9Xx])$", re.IGNORECASE)


def parse_books(text: str | None, books: int) -> tuple[list[BookEntry], list]:
    """One book per line: a title, an ISBN, or a title followed by its ISBN.

    Returns the entries and a list of messages (empty when all is well).  Every ISBN given must
    pass its checksum; there may not be more lines than books.
    """
    entries: list[BookEntry] = []
    problems: list = []
    lines = [line.strip() for line in (text or "").replace("\r\n", "\n").split("\n")]
    lines = [re.sub(r"[\x00-\x1f\x7f]", "", line) for line in lines if line.strip()]
    for number, line in enumerate(lines, start=1):
        title, isbn_text = line, None
        if looks_like_isbn(line):
            title, isbn_text = "", line
        else:
            match = _TRAILING_ISBN.match(line)
            if match and looks_like_isbn(match.group("isbn")):
                title, isbn_text = match.group("title").strip(), match.group("isbn")
        isbn = None
        if isbn_text is not None:
            isbn = normalise_isbn(isbn_text)
            if isbn is None:
                problems.append(_l("Line %(n)d: “%(isbn)s” is not a valid ISBN (check the digits).",
                                   n=number, isbn=isbn_text.strip()[:30]))
                continue
        if len(title) > TITLE_MAX:
            problems.append(_l("Line %(n)d: please keep a title within %(max)d characters.", n=number,
                               max=TITLE_MAX))
            continue
        entries.append(BookEntry(title=title, isbn=isbn))
    if len(lines) > books:
        problems.append(_l("%(lines)d books are listed but only %(books)d were given: one book per line.",
                           lines=len(lines), books=books))
    return entries, problems
