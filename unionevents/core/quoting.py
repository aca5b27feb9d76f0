"""Titles inside quotation marks: the one helper every message, page and SMS uses.

Messages put a title between marks chosen by the language (“%(title)s”, or 《%(title)s》 for a
work in Chinese).  Titles often carry marks of their own — “凝心铸魂…”职工摄影大赛, or a whole title
typed as “职工摄影大赛” — and pasted as they are they gave ““凝心铸魂…”职工摄影大赛”.
``quotable(title)`` returns the text to put between the outer marks:

- a pair of marks around the whole title (“…”, 《…》, "…", 「…」) is dropped: the message adds its own;
- marks inside become the nested kind, as Chinese typesetting nests them: “…” → ‘…’, 《…》 → 〈…〉.
"""
from __future__ import annotations

#: Pairs that may wrap a whole title.
OUTER_PAIRS = (("“", "”"), ("《", "》"), ('"', '"'), ("「", "」"), ("『", "』"))
#: Inner marks and their nested forms.
NESTED = str.maketrans({"“": "‘", "”": "’", "《": "〈", "》": "〉"})


def _wrapped(text: str, left: str, right: str) -> bool:
    """True when ``left``…``right`` encloses the whole text (not “A”和“B”)."""
    if len(text) < 2 or not (text.startswith(left) and text.endswith(right)):
        return False
    inner = text[1:-1]
    if left == right:
        return left not in inner
    depth = 0
    for char in inner:  # the opening mark must close at the very end
        if char == left:
            depth += 1
        elif char == right:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def quotable(title) -> str:
    """The title as it should appear between a message's own quotation marks."""
    text = str(title or "").strip()
    for left, right in OUTER_PAIRS:
        if _wrapped(text, left, right):
            text = text[1:-1].strip()
            break
    return text.translate(NESTED)
