"""The Chinese catalog is complete, current and keeps every placeholder.

Chinese is the default language, so an untranslated string shows English to
workers.  These tests fail on:

* an empty or fuzzy zh msgstr;
* a string in the code or templates that the zh catalog lacks (extraction runs
  here, in-process, with the same method map, keywords and directory filter as
  ``make babel`` — so a new ``_("…")`` fails CI until ``make babel`` is run and
  the string translated);
* a translation that drops, adds or changes a ``%(name)s`` placeholder, a
  ``{name}`` one (the API's validation messages, formatted by marshmallow) or an
  HTML tag.

No app or database needed; the whole module runs in well under a second.
"""
from __future__ import annotations

import fnmatch
import os
import re
from collections import Counter
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
ZH_PO = ROOT / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"

# Same as babel.cfg and the `babel` target of the Makefile.
METHOD_MAP = [("unionevents/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
IGNORE_DIRS = (".*", "__pycache__")  # Makefile: --ignore-dirs ".* __pycache__"

# %(name)s, %(n)d, %s, %% … (printf-style, as Babel's python-format check reads them)
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
# {min}, {choices}, {input!r} … (str.format fields, as marshmallow fills them in the API's messages)
BRACE = re.compile(r"\{[A-Za-z_]\w*(?:![rsa])?(?::[^{}]*)?\}")
TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def _keep_dir(path: str) -> bool:
    name = os.path.basename(path)
    return not any(fnmatch.fnmatch(name, pattern) for pattern in IGNORE_DIRS)


@cache
def zh_catalog() -> Catalog:
    with ZH_PO.open("rb") as f:
        return read_po(f, locale="zh_Hans")


@cache
def source_messages() -> dict[str, str]:
    """msgid → first place it is used, for every string in the code and templates."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHOD_MAP, keywords=KEYWORDS, directory_filter=_keep_dir,
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _ids(message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def test_zh_catalog_header_is_not_fuzzy():
    catalog = zh_catalog()
    assert not catalog.fuzzy, "the zh catalog header is marked fuzzy"
    assert catalog.num_plurals == 1


def test_every_zh_message_is_translated_and_not_fuzzy():
    untranslated, fuzzy = [], []
    for message in zh_catalog():
        if not message.id:
            continue
        if not all(s.strip() for s in _strings(message)):
            untranslated.append(_ids(message)[0])
        if message.fuzzy:
            fuzzy.append(_ids(message)[0])
    problems = [f"untranslated: {msgid!r}" for msgid in untranslated] + [f"fuzzy: {msgid!r}" for msgid in fuzzy]
    assert not problems, (
        f"{len(problems)} zh message(s) need a translator ({ZH_PO.relative_to(ROOT)}):\n  "
        + "\n  ".join(problems))


def test_extraction_sees_the_templates_and_the_code():
    # Guards the guard: if extraction silently found nothing, the next test would pass vacuously.
    where = source_messages().values()
    assert any(w.startswith("unionevents/") for w in where)
    assert any(w.startswith("templates/") for w in where)
    assert any(w.startswith("templates/_macros/") for w in where), "underscore directories are skipped"


def test_every_source_string_is_in_the_zh_catalog():
    catalog = zh_catalog()
    missing = sorted(f"{msgid!r}  ({where})" for msgid, where in source_messages().items()
                     if catalog.get(msgid) is None)
    assert not missing, (
        f"{len(missing)} string(s) in the code are not in the zh catalog — run `make babel`, "
        "then translate them in translations/zh_Hans/LC_MESSAGES/messages.po:\n  " + "\n  ".join(missing))


def test_translations_keep_placeholders_and_tags():
    wrong = []
    for message in zh_catalog():
        if not message.id:
            continue
        ids = _ids(message)
        for string in _strings(message):
            if not string:
                continue  # reported by the completeness test
            for pattern, what in ((PLACEHOLDER, "placeholders"), (BRACE, "{placeholders}"), (TAG, "HTML tags")):
                # Plural msgids may drop the count in the singular; compare with the plural form.
                expected = Counter(pattern.findall(ids[-1]))
                got = Counter(pattern.findall(string))
                if expected != got:
                    wrong.append(f"{ids[0]!r}: {what} {sorted(expected.elements())} "
                                 f"→ {sorted(got.elements())} in {string!r}")
    assert not wrong, "translations change placeholders or tags:\n  " + "\n  ".join(wrong)
