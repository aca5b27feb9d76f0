"""The union picker (sign-up and profile pages): a bounded list of options, whatever the tree's size.

A select of 10,000 unions is unusable on a phone and heavy to send, so when the tree is large the list
holds only the upper levels (and the person's current choice); a search step — a plain GET form, no
JavaScript needed — lists the unions whose name contains the words, each labelled with its path
(朝阳区总工会 › 奥运村街道总工会).  ``static/js/union-picker.js`` adds the same search as you type,
from ``GET /api/v1/unions``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: A tree up to this size is listed whole (indented); a larger one only to ``UPPER_DEPTH``.
LIST_ALL_UP_TO = 300
UPPER_DEPTH = 2
#: A search shows this many matches at most (the count of all is shown).
MATCHES_SHOWN = 50
QUERY_MAX = 40
PATH_SEPARATOR = " › "
INDENT = "\u3000"


@dataclass
class PickerView:
    options: list[tuple[str, str, bool]] = field(default_factory=list)  # (value, label, selected)
    query: str = ""
    matches: int = 0
    limited: bool = False  # the list leaves unions out: search to find them
    limit: int = MATCHES_SHOWN


def _depth(label: str) -> int:
    return len(label) - len(label.lstrip(INDENT))


def picker_view(select_field, query: str | None = "") -> PickerView:
    """The options to render for ``select_field`` (its choices in tree order, indented by depth, after
    any option without a union such as "not a union member"), narrowed by ``query``."""
    query = " ".join((query or "").split())[:QUERY_MAX]
    plain, unions = [], []
    stack: list[str] = []
    for value, label, selected, *_rest in select_field.iter_choices():
        value, label = "" if value is None else str(value), str(label)
        if value in ("", "None"):
            plain.append((value, label, selected))
            continue
        depth = _depth(label)
        name = label.strip(INDENT)
        del stack[depth:]
        stack.append(name)
        unions.append((value, name, depth, PATH_SEPARATOR.join(stack), selected, label))
    view = PickerView(query=query, options=list(plain))
    chosen = [u for u in unions if u[4]]
    if query:
        found = [u for u in unions if query in u[1]]
        view.matches = len(found)
        shown = found[:MATCHES_SHOWN]
        view.options += [(u[0], u[3], u[4]) for u in chosen if u not in shown]
        view.options += [(u[0], u[3], u[4]) for u in shown]
        view.limited = True
        return view
    if len(unions) <= LIST_ALL_UP_TO:
        view.options += [(u[0], u[5], u[4]) for u in unions]
        return view
    view.limited = True
    upper = [u for u in unions if u[2] <= UPPER_DEPTH]
    view.options += [(u[0], u[3], u[4]) for u in chosen if u[2] > UPPER_DEPTH]
    view.options += [(u[0], u[5], u[4]) for u in upper]
    return view
