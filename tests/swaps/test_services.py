"""Swaps: the rule and stock, donations at the desk, the ledger, the union library — and a stock
that never goes below zero, even with many desks at once (both engines, with a negative control)."""
from __future__ import annotations

import io
import threading

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from unionevents.accounts.models import User
from unionevents.activities.models import ActivityKind
from unionevents.core.audit import AuditLog
from unionevents.core.errors import NotFound, ValidationFailed
from unionevents.extensions import db
from unionevents.registrations import services as engine
from unionevents.swaps import services
from unionevents.swaps.models import LibraryBook, LibraryStock, SwapDonation, SwapRule


def stock(activity_id):
    return db.session.scalar(select(SwapRule.stock).where(SwapRule.activity_id == activity_id))


def given_total(activity_id):
    return db.session.scalar(select(func.coalesce(func.sum(SwapDonation.portions), 0))
                             .where(SwapDonation.activity_id == activity_id))


@pytest.fixture
def ready(organiser, swap):
    """1 book → 1 portion, at most 5 a person, 20 portions of vegetables in stock."""
    services.set_rule(organiser, swap.id, 1, 1, 5)
    services.change_stock(organiser, swap.id, delta=20, reason="蔬菜到货")
    return swap


class TestRuleAndStock:
    def test_rule_is_set_and_changed(self, organiser, swap):
        rule = services.set_rule(organiser, swap.id, 2, 1, None)
        assert (rule.books_per_lot, rule.portions_per_lot, rule.per_person_cap, rule.stock) == (2, 1, None, 0)
        rule = services.set_rule(organiser, swap.id, 1, 2, 6)
        assert (rule.books_per_lot, rule.portions_per_lot, rule.per_person_cap) == (1, 2, 6)
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "swap.rule")) == 2

    def test_bad_rule_values(self, organiser, swap):
        with pytest.raises(ValidationFailed) as error:
            services.set_rule(organiser, swap.id, 0, "bad", -1)
        assert set(error.value.errors) == {"books_per_lot", "portions_per_lot", "per_person_cap"}

    def test_only_swaps_have_rules(self, make, organiser, tree):
        course = make.activity("花卉课", kind=ActivityKind.CLASS_, node="北京建工资源公司工会")
        with pytest.raises(services.NotASwap):
            services.set_rule(organiser, course.id, 1, 1, None)

    def test_stock_is_added_taken_and_counted_with_a_log(self, organiser, ready):
        services.change_stock(organiser, ready.id, delta=-3, reason="坏了三份")
        services.change_stock(organiser, ready.id, set_to=30, reason="盘点")
        assert stock(ready.id) == 30
        log = services.stock_adjustments(ready.id)
        assert [(a.delta, a.stock_after, a.reason) for a in log] == [(13, 30, "盘点"), (-3, 17, "坏了三份"),
                                                                      (20, 20, "蔬菜到货")]
        assert all(a.by_id == organiser.id for a in log)

    def test_stock_never_goes_below_zero_by_hand(self, organiser, ready):
        with pytest.raises(services.StockTooLow):
            services.change_stock(organiser, ready.id, delta=-21)
        with pytest.raises(ValidationFailed):
            services.change_stock(organiser, ready.id, set_to=-1)
        with pytest.raises(ValidationFailed):
            services.change_stock(organiser, ready.id, delta=0)
        with pytest.raises(ValidationFailed):
            services.change_stock(organiser, ready.id, set_to=20)  # no change
        assert stock(ready.id) == 20 and len(services.stock_adjustments(ready.id)) == 1

    def test_stock_needs_a_rule(self, organiser, swap):
        with pytest.raises(services.NoExchangeRule):
            services.change_stock(organiser, swap.id, delta=5)


class TestDonations:
    def test_books_earn_portions_up_to_the_cap(self, organiser, ready, register):
        registration = register(ready)
        first = services.record_donation(organiser, ready.id, registration.id, 3, "红楼梦 9787020002207")
        assert (first.exchange.portions, first.stock_left) == (3, 17)
        second = services.record_donation(organiser, ready.id, registration.id, 4)
        assert second.exchange.portions == 2 and second.exchange.limited_by == "cap"
        third = services.record_donation(organiser, ready.id, registration.id, 1)
        assert third.exchange.portions == 0  # books are still welcome
        assert stock(ready.id) == 15 and given_total(ready.id) == 5

    def test_stock_runs_out(self, organiser, ready, register):
        services.change_stock(organiser, ready.id, set_to=2)
        result = services.record_donation(organiser, ready.id, register(ready).id, 4)
        assert result.exchange.portions == 2 and result.exchange.limited_by == "stock"
        assert stock(ready.id) == 0
        result = services.record_donation(organiser, ready.id, register(ready, "第二位").id, 1)
        assert result.exchange.portions == 0 and stock(ready.id) == 0

    def test_bad_donations(self, organiser, ready, register):
        registration = register(ready)
        for books in (0, -1, "bad", None, 501, True):
            with pytest.raises(ValidationFailed) as error:
                services.record_donation(organiser, ready.id, registration.id, books)
            assert set(error.value.errors) == {"books"}
        with pytest.raises(ValidationFailed) as error:
            services.record_donation(organiser, ready.id, registration.id, 1, "9787020002208")
        assert set(error.value.errors) == {"titles"}
        with pytest.raises(ValidationFailed) as error:
            services.record_donation(organiser, ready.id, registration.id, 1, "三体\n活着")
        assert set(error.value.errors) == {"titles"}
        assert given_total(ready.id) == 0 and stock(ready.id) == 20
        assert db.session.scalar(select(func.count(LibraryStock.id))) == 0

    def test_only_place_holders_of_this_swap(self, make, organiser, ready, register, tree):
        registration = register(ready)
        engine.cancel(registration.id, registration.user)
        with pytest.raises(services.NoPlace):
            services.record_donation(organiser, ready.id, registration.id, 1)
        other = make.activity("另一场换书", kind=ActivityKind.SWAP, node="北京建工资源公司工会")
        elsewhere = register(other, "外场职工")
        with pytest.raises(NotFound):
            services.record_donation(organiser, ready.id, elsewhere.id, 1)

    def test_donations_need_a_rule(self, organiser, swap, register):
        with pytest.raises(services.NoExchangeRule):
            services.record_donation(organiser, swap.id, register(swap).id, 1)

    def test_audit_rows_hold_ids_and_counts_only(self, organiser, ready, register):
        registration = register(ready, "赵师傅", "13700009999")
        services.record_donation(organiser, ready.id, registration.id, 1, "我的秘密日记")
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "swap.donation"))
        assert row.data == {"activity_id": ready.id, "registration_id": registration.id, "books": 1,
                            "portions": 1}


class TestLedgerAndLibrary:
    def test_ledger_per_worker_and_in_total(self, organiser, ready, register):
        liu, wang = register(ready, "刘师傅"), register(ready, "王师傅")
        services.record_donation(organiser, ready.id, liu.id, 2)
        services.record_donation(organiser, ready.id, wang.id, 1)
        services.record_donation(organiser, ready.id, liu.id, 4)
        ledger = services.ledger(ready.id)
        assert [(line.name, line.donations, line.books, line.portions) for line in ledger.by_worker] == [
            ("刘师傅", 2, 6, 5), ("王师傅", 1, 1, 1)]
        assert (ledger.books, ledger.portions, ledger.donors, ledger.stock) == (7, 6, 2, 14)
        assert services.totals_for_activities([ready.id, 424242]) == {
            ready.id: {"books": 7, "portions": 6, "donors": 2},
            424242: {"books": 0, "portions": 0, "donors": 0}}

    def test_xlsx_export(self, organiser, ready, register):
        services.record_donation(organiser, ready.id, register(ready, "=cmd|' /C calc'!A0").id, 2,
                                 "红楼梦 9787020002207\n平凡的世界")
        workbook = load_workbook(io.BytesIO(services.ledger_xlsx(ready)))
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
        assert rows[1][1].startswith("'=")  # a name is never run as a formula
        assert rows[1][3:5] == (2, 2) and "9787020002207" in rows[1][5]
        assert rows[-1][3:5] == (2, 2)
        per_worker = list(workbook.worksheets[1].iter_rows(values_only=True))
        assert per_worker[-1][2:] == (1, 2, 2)
        assert "****" in rows[1][2]

    def test_books_enter_the_organising_unions_library(self, organiser, ready, register, tree):
        liu, wang = register(ready, "刘师傅"), register(ready, "王师傅")
        services.record_donation(organiser, ready.id, liu.id, 3, "红楼梦 9787020002207\n平凡的世界")
        services.record_donation(organiser, ready.id, wang.id, 2, "702000220X\n平凡的  世界")
        library = db.session.scalar(select(LibraryStock))
        assert library.node_id == ready.node_id and library.books_total == 5
        books = {b.key: (b.title, b.copies) for b in db.session.scalars(select(LibraryBook))}
        assert books == {"isbn:9787020002207": ("红楼梦", 2), "title:平凡的世界": ("平凡的世界", 2)}
        rows = services.library_inventory(organiser)
        assert [(r.node.id, r.books_total, r.titled, r.titles) for r in rows] == [(ready.node_id, 5, 4, 2)]

    def test_library_inventory_is_limited_to_scope(self, organiser, rival, ready, register):
        services.record_donation(organiser, ready.id, register(ready).id, 1)
        assert services.library_inventory(rival) == []

    def test_search_at_the_desk(self, ready, register):
        liu = register(ready, "刘师傅", "13800004321")
        register(ready, "王师傅", "13800005555")
        assert [r.id for r in services.find_registrations(ready.id, "刘")] == [liu.id]
        assert [r.id for r in services.find_registrations(ready.id, "4321")] == [liu.id]
        assert [r.id for r in services.find_registrations(ready.id, engine.ticket_token(liu))] == [liu.id]
        assert services.find_registrations(ready.id, "%") == []
        assert services.find_registrations(ready.id, "") == []


# --------------------------------------------------------------------------- concurrency

def _donate_at_once(app, activity_id, organiser_id, registration_ids):
    barrier = threading.Barrier(len(registration_ids))
    errors = []

    def desk(registration_id):
        with app.app_context(), app.test_request_context():
            try:
                actor = db.session.get(User, organiser_id)
                barrier.wait(30)
                services.record_donation(actor, activity_id, registration_id, 2)
            except Exception as error:  # collected: the test reports them
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=desk, args=(rid,)) for rid in registration_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return errors


@pytest.fixture
def crowd(app, organiser, swap, register):
    """A swap with 10 portions and 12 workers at the desks (2 books each, no cap).

    12 threads: the engine's pool holds 15 connections and the test keeps one."""
    services.set_rule(organiser, swap.id, 1, 1, None)
    services.change_stock(organiser, swap.id, delta=10)
    ids = [register(swap, f"职工{i}").id for i in range(12)]
    db.session.commit()
    return swap, ids


@pytest.mark.concurrency
def test_stock_never_goes_negative_with_many_desks(app, organiser, crowd, monkeypatch):
    swap, ids = crowd
    monkeypatch.setitem(app.config, "TESTING_RACE_DELAY", 0.02)
    errors = _donate_at_once(app, swap.id, organiser.id, ids)
    assert errors == []
    db.session.rollback()  # end the test's read snapshot (SQLite WAL) to see the threads' commits
    assert stock(swap.id) == 0
    assert given_total(swap.id) == 10  # exactly the stock: nothing oversold, nothing lost
    assert db.session.scalar(select(func.count(SwapDonation.id))) == 12
    assert db.session.scalar(select(LibraryStock.books_total)) == 24
    portions = db.session.scalars(select(SwapDonation.portions)).all()
    assert sorted(portions, reverse=True)[:5] == [2] * 5 and sum(portions) == 10


@pytest.mark.concurrency
def test_negative_control_without_the_guard_oversells(app, organiser, crowd, monkeypatch):
    swap, ids = crowd
    monkeypatch.setitem(app.config, "TESTING_DISABLE_CAPACITY_GUARD", True)
    monkeypatch.setitem(app.config, "TESTING_RACE_DELAY", 0.2)
    errors = _donate_at_once(app, swap.id, organiser.id, ids)
    assert errors == []
    db.session.rollback()  # end the test's read snapshot (SQLite WAL) to see the threads' commits
    assert given_total(swap.id) > 10, "the unguarded read-then-write should hand out more than the stock"
