"""Other domains' figures on the officer dashboard: a registry of providers (``register_figures``),
asked by the dashboard (``extra_figures``); ``reports.figures`` registers the built-in ones.

A provider is two functions: ``query`` builds a one-row aggregate SELECT over the activities the
report covers, ``figures`` turns that row into ``Figure`` s.  The dashboard sends every provider's
query as one statement (the one-row subqueries side by side), so a new provider costs no round trip.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Sequence

from sqlalchemy import Select, select, true

from ...extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figure:
    """One number another domain contributes to the dashboard (e.g. contest entries)."""

    key: str
    label: Any  # a lazy string
    value: int | float
    group: Any = ""  # a lazy heading to group figures under


@dataclass(frozen=True)
class FigureProvider:
    """``query(node_ids, date_from, date_to, kinds) -> Select`` returns exactly one row (aggregates,
    no GROUP BY); ``node_ids`` is a SELECT of the union ids in the subtree (use
    ``Model.node_id.in_(node_ids)``), dates are local days (inclusive), ``kinds`` a list of
    ActivityKind (empty: all).  ``figures(row) -> list[Figure]`` reads that row's values in order."""

    query: Callable[[Select, date, date, list], Select]
    figures: Callable[[Sequence], list[Figure]]

    def __call__(self, node_ids: Select, date_from: date, date_to: date, kinds: list) -> list[Figure]:
        """This provider's figures alone (one statement)."""
        return self.figures(db.session.execute(self.query(node_ids, date_from, date_to, list(kinds))).one())


_PROVIDERS: dict[str, FigureProvider] = {}


def register_figures(name: str, query: Callable[[Select, date, date, list], Select],
                     figures: Callable[[Sequence], list[Figure]]) -> FigureProvider:
    """Add (or replace) a domain's figures, e.g. ``register_figures("swaps", swap_query, swap_figures)``."""
    provider = _PROVIDERS[name] = FigureProvider(query, figures)
    return provider


def extra_figures(node_ids: Select, date_from: date, date_to: date, kinds: list | None = None) -> list[Figure]:
    """Figures from every registered provider, in one statement.  If it fails, each provider is asked
    on its own, so one domain's bug leaves only its own figures out (logged)."""
    kinds = list(kinds or [])
    providers = sorted(_PROVIDERS.items())
    if not providers:
        return []
    try:
        queries = [provider.query(node_ids, date_from, date_to, kinds).subquery(f"figures_{number}")
                   for number, (_name, provider) in enumerate(providers)]
        stmt = select(*(column for query in queries for column in query.c)).select_from(queries[0])
        for query in queries[1:]:
            stmt = stmt.join(query, true())  # one row each: side by side, not a product
        row = db.session.execute(stmt).one()
        figures: list[Figure] = []
        start = 0
        for query, (_name, provider) in zip(queries, providers):
            width = len(query.c)
            figures.extend(provider.figures(row[start:start + width]))
            start += width
        return figures
    except Exception:  # noqa: BLE001 - find the provider at fault below
        log.exception("report figures: the combined statement failed; asking each provider alone")
        db.session.rollback()
    return _each_alone(providers, node_ids, date_from, date_to, kinds)


def _each_alone(providers, node_ids, date_from, date_to, kinds) -> list[Figure]:
    figures: list[Figure] = []
    for name, provider in providers:
        try:
            figures.extend(provider(node_ids, date_from, date_to, kinds))
        except Exception:  # noqa: BLE001 - one domain's bug must not take the officers' dashboard down
            log.exception("report figures from %s failed", name)
            db.session.rollback()
    return figures
