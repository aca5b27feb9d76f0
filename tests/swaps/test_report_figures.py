"""Books collected and portions given reach the officers' dashboard figures, scoped to the subtree."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.registrations.organiser_fixtures import StatementCounter
from unionevents.core.timeutil import now, utc_to_local
from unionevents.reports.figures import swap_figures
from unionevents.reports.services import Figure, extra_figures
from unionevents.reports.services.providers import _PROVIDERS, FigureProvider
from unionevents.swaps import services


def _two_donations(organiser, swap, register):
    """Two workers give 3 and 2 books at ``swap``; the dates around its day."""
    services.set_rule(organiser, swap.id, 1, 1, None)
    services.change_stock(organiser, swap.id, delta=20, reason="进货")
    for name, books in (("刘师傅", 3), ("王师傅", 2)):
        registration = register(swap, name=name)
        services.record_donation(organiser, swap.id, registration.id, books)
    day = utc_to_local(swap.starts_at).date()
    return day - timedelta(days=1), day + timedelta(days=1)


def test_swap_figures_count_books_portions_and_donors_in_scope(organiser, swap, register, tree):
    around = _two_donations(organiser, swap, register)
    inside = {f.key: f.value for f in swap_figures(tree["丰台区总工会"].subtree_ids_select(), *around, [])}
    assert (inside["books_collected"], inside["portions_given"], inside["swap_donors"]) == (5, 5, 2)

    outside = {f.key: f.value for f in swap_figures(tree["朝阳区总工会"].subtree_ids_select(), *around, [])}
    assert outside["books_collected"] == 0
    before = (utc_to_local(now()).date() - timedelta(days=400), utc_to_local(now()).date() - timedelta(days=300))
    assert {f.key: f.value for f in swap_figures(tree["丰台区总工会"].subtree_ids_select(), *before, [])}[
        "books_collected"] == 0


def test_every_registered_provider_runs_on_both_engines(tree):
    """extra_figures swallows a failing provider (the dashboard must stay up), so call each one here."""
    from unionevents.reports.services.providers import _PROVIDERS

    assert {"contests", "swaps", "health", "feedback"} <= set(_PROVIDERS)
    today = utc_to_local(now()).date()
    for name, provider in _PROVIDERS.items():
        figures = provider(tree["北京市总工会"].subtree_ids_select(), today - timedelta(days=30), today, [])
        assert figures and all(f.value == 0 for f in figures), name


def test_the_dashboard_asks_every_provider_in_one_statement(organiser, swap, register, tree):
    around = _two_donations(organiser, swap, register)
    node_ids = tree["丰台区总工会"].subtree_ids_select()
    alone = [(f.key, f.value) for _name, provider in sorted(_PROVIDERS.items())
             for f in provider(node_ids, *around, [])]
    with StatementCounter() as counter:
        together = [(f.key, f.value) for f in extra_figures(node_ids, *around, [])]
    assert counter.count == 1, counter.statements
    assert together == alone
    assert dict(together)["books_collected"] == 5 and dict(together)["health_assessed"] == 0


def test_a_failing_provider_leaves_out_only_its_own_figures(organiser, swap, register, tree, monkeypatch, caplog):
    around = _two_donations(organiser, swap, register)
    monkeypatch.setitem(_PROVIDERS, "broken", FigureProvider(
        query=lambda *_args: select(func.no_such_function(1)),
        figures=lambda row: [Figure("broken", "broken", row[0])]))
    figures = {f.key: f.value for f in extra_figures(tree["丰台区总工会"].subtree_ids_select(), *around, [])}
    assert "broken" not in figures
    assert figures["books_collected"] == 5 and "contest_entries" in figures and "class_ratings" in figures
    assert "report figures from broken failed" in caplog.text
