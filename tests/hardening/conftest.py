"""Hardening tests: Hypothesis profiles and shared helpers.

Profiles: "ci" (the default; a few dozen examples per form so the suite stays quick) and "full"
(≥500 per form, for ``make bench`` or ``HYPOTHESIS_PROFILE=full``).
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

from unionevents.extensions import db

_COMMON = dict(deadline=None, derandomize=False, print_blob=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=25, stateful_step_count=20, **_COMMON)
settings.register_profile("full", max_examples=500, stateful_step_count=60, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
FULL = os.environ.get("HYPOTHESIS_PROFILE") == "full"

CASES: dict[str, int] = {}  # test name -> generated cases (printed with -s)


def count_case(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


def row_counts() -> dict[str, int]:
    """Rows in every table: a rejected input must leave these unchanged."""
    db.session.rollback()
    tables = db.metadata.sorted_tables
    counts = db.session.execute(select(*[select(func.count()).select_from(t).scalar_subquery().label(t.name)
                                         for t in tables])).one()
    return dict(zip([t.name for t in tables], counts))


@pytest.fixture(scope="session", autouse=True)
def _report_cases():
    yield
    if CASES:
        print("\nhypothesis cases generated: " + ", ".join(f"{k}={v}" for k, v in sorted(CASES.items())))
