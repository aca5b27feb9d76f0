"""Other domains' figures on the officer dashboard: a registry of providers (``register_figures``),
asked by the dashboard (``extra_figures``); ``reports.figures`` registers the built-in ones."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from sqlalchemy import Select

from ...extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figure:
    """One number another domain contributes to the dashboard (e.g. contest entries)."""

    key: str
    label: Any  # a lazy string
    value: int | float
    group: Any = ""  # a lazy heading to group figures under


#: ``provider(node_ids, date_from, date_to, kinds) -> list[Figure]``; ``node_ids`` is a SELECT of the
#: union ids in the subtree (use ``Model.node_id.in_(node_ids)``), dates are local days (inclusive),
#: ``kinds`` a list of ActivityKind (empty: all).  Each provider runs a fixed number of queries.
FigureProvider = Callable[[Select, date, date, list], list[Figure]]
_PROVIDERS: dict[str, FigureProvider] = {}


def register_figures(name: str, provider: FigureProvider) -> None:
    """Add (or replace) a domain's figures, e.g. ``register_figures("contests", contest_figures)``."""
    _PROVIDERS[name] = provider


def extra_figures(node_ids: Select, date_from: date, date_to: date, kinds: list | None = None) -> list[Figure]:
    """Figures from every registered provider; a provider that fails is logged and left out."""
    figures: list[Figure] = []
    for name, provider in sorted(_PROVIDERS.items()):
        try:
            figures.extend(provider(node_ids, date_from, date_to, list(kinds or [])))
        except Exception:  # noqa: BLE001 - one domain's bug must not take the officers' dashboard down
            log.exception("report figures from %s failed", name)
            db.session.rollback()
    return figures