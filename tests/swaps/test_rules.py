"""Pure swap rules: the exchange, ISBN checksums and the list of donated books."""
from __future__ import annotations

import pytest

from unionevents.swaps import rules
from unionevents.swaps.rules import ExchangeRule, Limit


@pytest.fixture(autouse=True)
def _request_context():
    yield


@pytest.mark.parametrize("books, rule, given, stock, portions, limit", [
    (3, ExchangeRule(1, 1, None), 0, 100, 3, Limit.RULE),
    (5, ExchangeRule(2, 1, None), 0, 100, 2, Limit.RULE),  # 2 books a portion: the odd one earns nothing
    (4, ExchangeRule(1, 2, None), 0, 100, 8, Limit.RULE),
    (10, ExchangeRule(1, 1, 5), 0, 100, 5, Limit.CAP),
    (10, ExchangeRule(1, 1, 5), 4, 100, 1, Limit.CAP),
    (10, ExchangeRule(1, 1, 5), 5, 100, 0, Limit.CAP),
    (10, ExchangeRule(1, 1, 5), 9, 100, 0, Limit.CAP),           # over the cap already: never negative
    (10, ExchangeRule(1, 1, None), 0, 3, 3, Limit.STOCK),
    (10, ExchangeRule(1, 1, 5), 0, 2, 2, Limit.STOCK),
    (1, ExchangeRule(1, 1, None), 0, 0, 0, Limit.STOCK),
    (1, ExchangeRule(1, 1, None), 0, -4, 0, Limit.STOCK),
])
def test_portions_are_the_least_of_rule_cap_and_stock(books, rule, given, stock, portions, limit):
    result = rules.exchange(books, rule, given, stock)
    assert result.portions == portions and result.limited_by == limit
    assert 0 <= result.portions <= max(stock, 0)


def test_rule_errors():
    assert rules.rule_errors(1, 1, None) == {}
    assert set(rules.rule_errors(0, "bad", 0)) == {"books_per_lot", "portions_per_lot", "per_person_cap"}
    assert set(rules.rule_errors(True, 101, 1001)) == {"books_per_lot", "portions_per_lot", "per_person_cap"}


@pytest.mark.parametrize("text, isbn13", [
    ("9787020002207", "9787020002207"),          # 红楼梦
    ("978-7-02-000220-7", "9787020002207"),
    ("ISBN 978-7-5442-9447-8", "9787544294478"),
    ("702000220X", "9787020002207"),               # the ISBN-10 of the same book
    ("0-306-40615-2", "9780306406157"),
    ("080442957X", "9780804429573"),
    ("080442957x", "9780804429573"),
    ("９７８７０２０００２２０７", "9787020002207"),  # full-width digits
])
def test_valid_isbns_become_isbn13(text, isbn13):
    assert rules.normalise_isbn(text) == isbn13


@pytest.mark.parametrize("text", ["978702000220X", "7020002208", "1234567890123", "978702000220", "abc",
                                  "97870200022077", "X787020002207", "0804429575X"])
def test_invalid_isbns(text):
    assert rules.normalise_isbn(text) is None


def test_a_list_of_books_one_per_line():
    entries, problems = rules.parse_books(
        "红楼梦 9787020002207\n\n  平凡的世界  \n702000220X\n活着，ISBN 978-7-5442-9447-8", 5)
    assert problems == []
    assert [(e.title, e.isbn) for e in entries] == [
        ("红楼梦", "9787020002207"), ("平凡的世界", None), ("", "9787020002207"), ("活着", "9787544294478")]
    assert entries[0].key == entries[2].key == "isbn:9787020002207"
    assert rules.BookEntry("The  Old Man", None).key == rules.BookEntry("the old man", None).key


def test_bad_isbns_and_too_many_lines_are_reported_by_line():
    entries, problems = rules.parse_books("红楼梦 978702000220X\n1234567890\n三体", 2)
    texts = [str(p) for p in problems]
    assert any("978702000220X" in t and "1" in t for t in texts)
    assert any("1234567890" in t for t in texts)
    assert any("3" in t and "2" in t for t in texts)  # three lines for two books
    assert [e.title for e in entries] == ["三体"]


def test_numbers_in_titles_are_not_isbns():
    entries, problems = rules.parse_books("1984\n2001太空漫游\n三体 2", 3)
    assert problems == [] and [e.isbn for e in entries] == [None, None, None]


def test_long_titles_are_refused():
    _entries, problems = rules.parse_books("书" * (rules.TITLE_MAX + 1), 1)
    assert len(problems) == 1
