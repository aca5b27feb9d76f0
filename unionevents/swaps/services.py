"""Swaps: the only code that changes a swap's rule, stock, ledger or a union's library.

How the stock holds (the capacity recipe of docs/reliability.md): a donation runs in one
``write_transaction()`` (``BEGIN IMMEDIATE`` on SQLite) whose first statement locks the activity's
``swap_rule`` row (``SELECT … FOR UPDATE`` on PostgreSQL); it then reads the stock and what the
worker already received, computes the portions with ``rules.exchange`` and takes them with a
conditional ``UPDATE swap_rule SET stock = stock - :n WHERE stock >= :n``.  The CHECK
``stock >= 0`` is the last line.  Library rows are locked after the rule row, always in that order.

Decisions: a donation needs a registration of this activity that holds a place (confirmed or
attended); recording it checks a confirmed worker in through the registration engine
(``check_in_donor``, same transaction, after the rule row), since handing over books is taking part:
the officers' attended and unique-attendee figures then count every donor once.  Books are always
accepted, even when the stock is out or the worker's maximum is reached (0 portions, said plainly).
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload

from ..accounts.models import Role, User
from ..activities.models import Activity, ActivityKind
from ..core.audit import Ref, log_action
from ..core.db import is_sqlite, testing_flag, write_transaction
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.masking import mask_mobile
from ..core.permissions import in_scope_clause
from ..core.timeutil import now, utc_to_local
from ..extensions import db
from ..registrations.models import PLACE_STATES, Registration
from ..registrations.services import check_in_donor, registration_for_ticket
from ..unions.models import UnionNode
from . import rules
from .models import LibraryBook, LibraryStock, StockAdjustment, SwapDonation, SwapRule

#: Longest search text at the desk; most matches shown.
SEARCH_MAX = 60
SEARCH_LIMIT = 30


class NoExchangeRule(Conflict):
    code = "no_exchange_rule"
    default_message = _l("Set the exchange rule of this swap first.")


class NotASwap(Conflict):
    code = "not_a_swap"
    default_message = _l("Only swap activities have an exchange rule and stock.")


class StockTooLow(Conflict):
    code = "stock_too_low"
    default_message = _l("The stock cannot go below zero.")


class NoPlace(Conflict):
    code = "no_place"
    default_message = _l("This worker has no confirmed place in this swap, so no donation can be recorded.")


# --------------------------------------------------------------------------- reading

def _swap_activity(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound()
    if activity.kind != ActivityKind.SWAP:
        raise NotASwap()
    return activity


def get_rule(activity_id: int) -> SwapRule | None:
    return db.session.get(SwapRule, activity_id, populate_existing=True)


def already_given(activity_id: int, user_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(SwapDonation.portions), 0)).where(
        SwapDonation.activity_id == activity_id, SwapDonation.user_id == user_id)) or 0


def preview(activity_id: int, registration: Registration, books: int) -> rules.Exchange | None:
    """What ``books`` would earn now (the desk shows it before recording); None without a rule."""
    rule = get_rule(activity_id)
    if rule is None:
        return None
    return rules.exchange(books, rule.as_rule(), already_given(activity_id, registration.user_id), rule.stock)


def find_registrations(activity_id: int, query: str) -> list[Registration]:
    """Place holders of the activity matching a ticket token, a name, or the last 4 mobile digits."""
    query = (query or "").strip()[:SEARCH_MAX]
    if not query:
        return []
    by_ticket = registration_for_ticket(query)
    if by_ticket is not None:
        return [by_ticket] if by_ticket.activity_id == activity_id and by_ticket.holds_place else []
    clauses = [User.name.contains(query, autoescape=True)]
    if query.isdigit() and len(query) == 4:
        clauses.append(User.mobile.endswith(query))
    stmt = (select(Registration).join(User, User.id == Registration.user_id)
            .where(Registration.activity_id == activity_id, Registration.holds_place, or_(*clauses))
            .options(joinedload(Registration.user)).order_by(User.name, Registration.id).limit(SEARCH_LIMIT))
    return list(db.session.scalars(stmt))


def registration_at_desk(activity_id: int, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id, options=[joinedload(Registration.user)])
    if registration is None or registration.activity_id != activity_id:
        raise NotFound(_l("This registration does not exist."))
    return registration


# --------------------------------------------------------------------------- the rule and the stock

def set_rule(actor: User, activity_id: int, books_per_lot, portions_per_lot, per_person_cap) -> SwapRule:
    _swap_activity(activity_id)
    errors = rules.rule_errors(books_per_lot, portions_per_lot, per_person_cap)
    if errors:
        raise ValidationFailed({k: [str(m) for m in v] for k, v in errors.items()})
    with write_transaction():
        rule = db.session.get(SwapRule, activity_id, with_for_update=True, populate_existing=True)
        if rule is None:
            rule = SwapRule(activity_id=activity_id, stock=0)
            db.session.add(rule)
        rule.books_per_lot, rule.portions_per_lot = books_per_lot, portions_per_lot
        rule.per_person_cap = per_person_cap
        rule.updated_at, rule.updated_by_id = now(), actor.id
        db.session.flush()
        log_action(actor.id, "swap.rule", Ref("activity", activity_id), books_per_lot=books_per_lot,
                   portions_per_lot=portions_per_lot, per_person_cap=per_person_cap)
    return rule


def change_stock(actor: User, activity_id: int, *, delta: int | None = None, set_to: int | None = None,
                 reason: str = "") -> StockAdjustment:
    """Add to or take from the stock (``delta``), or count it afresh (``set_to``); logged with a reason."""
    _swap_activity(activity_id)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if (delta is None) == (set_to is None):
        errors["delta"] = [_("Enter a change of stock or the counted stock.")]
    elif delta is not None and (not rules.is_int(delta) or delta == 0 or abs(delta) > rules.MAX_STOCK):
        errors["delta"] = [_("Enter a whole number other than zero, e.g. 50 for a delivery or -3 for "
                             "spoiled portions.")]
    elif set_to is not None and (not rules.is_int(set_to) or not 0 <= set_to <= rules.MAX_STOCK):
        errors["set_to"] = [_("Enter the counted stock: a whole number from 0 to %(max)d.",
                              max=rules.MAX_STOCK)]
    if len(reason) > rules.REASON_MAX:
        errors["reason"] = [_("Please keep the reason within %(max)d characters.", max=rules.REASON_MAX)]
    if errors:
        raise ValidationFailed(errors)
    with write_transaction():
        rule = db.session.get(SwapRule, activity_id, with_for_update=True, populate_existing=True)
        if rule is None:
            raise NoExchangeRule()
        change = set_to - rule.stock if set_to is not None else delta
        if change == 0:
            raise ValidationFailed({"set_to": [_("The stock is already %(n)d.", n=rule.stock)]})
        claimed = db.session.execute(
            update(SwapRule).where(SwapRule.activity_id == activity_id, SwapRule.stock + change >= 0)
            .values(stock=SwapRule.stock + change).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            raise StockTooLow(_l("Only %(n)d portions are in stock; the stock cannot go below zero.",
                                 n=rule.stock))
        stock_after = db.session.scalar(select(SwapRule.stock).where(SwapRule.activity_id == activity_id))
        adjustment = StockAdjustment(activity_id=activity_id, delta=change, stock_after=stock_after,
                                     reason=reason, by_id=actor.id, at=now())
        db.session.add(adjustment)
        db.session.flush()
        log_action(actor.id, "swap.stock", adjustment, activity_id=activity_id, delta=change,
                   stock_after=stock_after)
    return adjustment


def stock_adjustments(activity_id: int) -> list[StockAdjustment]:
    return list(db.session.scalars(select(StockAdjustment).where(StockAdjustment.activity_id == activity_id)
                                   .options(joinedload(StockAdjustment.by))
                                   .order_by(StockAdjustment.at.desc(), StockAdjustment.id.desc())))


# --------------------------------------------------------------------------- a donation

@dataclass
class DonationResult:
    donation: SwapDonation
    exchange: rules.Exchange
    stock_left: int


def donation_undo_refusal(registration: Registration):
    """The door must not undo a donor's check-in: the donation rests on it (``registrations.undo_guards``)."""
    if db.session.scalar(select(SwapDonation.id).where(SwapDonation.registration_id == registration.id).limit(1)):
        return _l("This worker handed over books at the swap desk, so the check-in cannot be undone.")
    return None


def record_donation(actor: User, activity_id: int, registration_id: int, books, titles_text: str = ""
                    ) -> DonationResult:
    """Record ``books`` donated by a registered worker and give the portions the rule allows.

    Raises ValidationFailed (fields ``books``, ``titles``), NotFound, NotASwap, NoExchangeRule, NoPlace.
    """
    activity = _swap_activity(activity_id)
    errors: dict[str, list[str]] = {}
    if not rules.is_int(books) or not 1 <= books <= rules.MAX_BOOKS:
        errors["books"] = [_("Enter the number of books: a whole number from 1 to %(max)d.",
                             max=rules.MAX_BOOKS)]
        entries: list[rules.BookEntry] = []
    else:
        entries, problems = rules.parse_books(titles_text, books)
        if problems:
            errors["titles"] = [str(p) for p in problems]
    if errors:
        raise ValidationFailed(errors)
    node_id, actor_id = activity.node_id, actor.id

    if testing_flag("TESTING_DISABLE_CAPACITY_GUARD"):
        return _record_naive(actor_id, activity_id, node_id, registration_id, books, entries)

    with write_transaction():
        rule = _lock_rule(activity_id)
        registration = _registration_with_place(activity_id, registration_id)
        given = already_given(activity_id, registration.user_id)
        result = rules.exchange(books, rule.as_rule(), given, rule.stock)
        _race_delay()
        if result.portions:
            taken = db.session.execute(
                update(SwapRule).where(SwapRule.activity_id == activity_id, SwapRule.stock >= result.portions)
                .values(stock=SwapRule.stock - result.portions)
                .execution_options(synchronize_session=False)).rowcount
            if taken != 1:  # cannot happen while the row is locked; the guard stays anyway
                raise StockTooLow()
        donation = _insert_donation(actor_id, activity_id, registration, books, result.portions, entries)
        _add_to_library(node_id, books, entries)
        check_in_donor(registration.id, actor_id)
        stock_left = db.session.scalar(select(SwapRule.stock).where(SwapRule.activity_id == activity_id))
    return DonationResult(donation, result, stock_left)


def _lock_rule(activity_id: int) -> SwapRule:
    rule = db.session.execute(select(SwapRule).where(SwapRule.activity_id == activity_id)
                              .with_for_update().execution_options(populate_existing=True)
                              ).scalar_one_or_none()
    if rule is None:
        raise NoExchangeRule()
    return rule


def _registration_with_place(activity_id: int, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id, populate_existing=True) \
        if isinstance(registration_id, int) else None
    if registration is None or registration.activity_id != activity_id:
        raise NotFound(_l("This registration does not exist."))
    if registration.state not in PLACE_STATES:
        raise NoPlace()
    return registration


def _insert_donation(actor_id, activity_id, registration, books, portions, entries) -> SwapDonation:
    donation = SwapDonation(activity_id=activity_id, registration_id=registration.id,
                            user_id=registration.user_id, books=books, portions=portions,
                            titles=[{"title": e.title, "isbn": e.isbn} for e in entries] or None,
                            recorded_by_id=actor_id, at=now())
    db.session.add(donation)
    db.session.flush()
    log_action(actor_id, "swap.donation", donation, activity_id=activity_id, registration_id=registration.id,
               books=books, portions=portions)
    return donation


def _race_delay() -> None:
    delay = testing_flag("TESTING_RACE_DELAY", 0) or 0
    if delay:
        time.sleep(float(delay))


def _record_naive(actor_id, activity_id, node_id, registration_id, books, entries) -> DonationResult:
    """TEST ONLY (``TESTING_DISABLE_CAPACITY_GUARD``): read the stock, wait, write back an absolute
    value in a second transaction — the lost update the locked, conditional UPDATE prevents."""
    rule = db.session.get(SwapRule, activity_id, populate_existing=True)
    registration = _registration_with_place(activity_id, registration_id)
    given = already_given(activity_id, registration.user_id)
    result = rules.exchange(books, rule.as_rule(), given, rule.stock)
    stock_read = rule.stock
    db.session.rollback()  # end the read (nothing was written): the write below is another transaction
    _race_delay()
    with write_transaction():
        db.session.execute(update(SwapRule).where(SwapRule.activity_id == activity_id)
                           .values(stock=stock_read - result.portions)
                           .execution_options(synchronize_session=False))
        registration = db.session.get(Registration, registration_id)
        donation = _insert_donation(actor_id, activity_id, registration, books, result.portions, entries)
        _add_to_library(node_id, books, entries)
    return DonationResult(donation, result, stock_read - result.portions)


# --------------------------------------------------------------------------- the library

def _insert_ignore(model, **values):
    insert = sqlite_insert if is_sqlite() else pg_insert
    return insert(model).values(**values).on_conflict_do_nothing()


def _add_to_library(node_id: int, books: int, entries: list[rules.BookEntry]) -> None:
    """Count ``books`` into the node's library and its listed titles (locks the library row first)."""
    at = now()
    db.session.execute(_insert_ignore(LibraryStock, node_id=node_id, books_total=0, updated_at=at))
    db.session.execute(update(LibraryStock).where(LibraryStock.node_id == node_id)
                       .values(books_total=LibraryStock.books_total + books, updated_at=at)
                       .execution_options(synchronize_session=False))
    counted: dict[str, tuple[rules.BookEntry, int]] = {}
    for entry in entries:
        previous = counted.get(entry.key)
        counted[entry.key] = (previous[0] if previous and previous[0].title else entry,
                              (previous[1] if previous else 0) + 1)
    for key, (entry, copies) in counted.items():
        existing = db.session.scalar(select(LibraryBook).where(LibraryBook.node_id == node_id,
                                                               LibraryBook.key == key))
        if existing is None:
            db.session.add(LibraryBook(node_id=node_id, key=key, title=entry.title, isbn=entry.isbn,
                                       copies=copies, first_added_at=at, last_added_at=at))
        else:
            existing.copies += copies
            existing.last_added_at = at
            if not existing.title and entry.title:
                existing.title = entry.title
    db.session.flush()


@dataclass
class LibraryRow:
    node: UnionNode
    books_total: int
    titled: int
    titles: int


def library_inventory(actor: User) -> list[LibraryRow]:
    """The libraries of the unions in the organiser's scope."""
    titled = (select(LibraryBook.node_id, func.sum(LibraryBook.copies).label("copies"),
                     func.count(LibraryBook.id).label("titles")).group_by(LibraryBook.node_id).subquery())
    stmt = (select(LibraryStock, titled.c.copies, titled.c.titles)
            .outerjoin(titled, titled.c.node_id == LibraryStock.node_id)
            .join(UnionNode, UnionNode.id == LibraryStock.node_id)
            .where(in_scope_clause(actor, Role.ORGANISER, LibraryStock.node_id))
            .order_by(UnionNode.path))
    return [LibraryRow(stock.node, stock.books_total, int(copies or 0), int(count or 0))
            for stock, copies, count in db.session.execute(stmt)]


def library_books(node_id: int) -> tuple[LibraryStock | None, list[LibraryBook]]:
    stock = db.session.scalar(select(LibraryStock).where(LibraryStock.node_id == node_id))
    books = list(db.session.scalars(select(LibraryBook).where(LibraryBook.node_id == node_id)
                                    .order_by(LibraryBook.copies.desc(), LibraryBook.title, LibraryBook.id)))
    return stock, books


# --------------------------------------------------------------------------- the ledger

@dataclass
class WorkerLine:
    user_id: int
    name: str
    masked_mobile: str
    donations: int
    books: int
    portions: int


@dataclass
class Ledger:
    entries: list[SwapDonation]
    by_worker: list[WorkerLine]
    books: int
    portions: int
    donors: int
    stock: int | None


def ledger(activity_id: int) -> Ledger:
    entries = list(db.session.scalars(
        select(SwapDonation).where(SwapDonation.activity_id == activity_id)
        .options(joinedload(SwapDonation.user)).order_by(SwapDonation.at, SwapDonation.id)))
    lines: dict[int, WorkerLine] = {}
    for entry in entries:
        line = lines.setdefault(entry.user_id, WorkerLine(entry.user_id, entry.user.name,
                                                          mask_mobile(entry.user.mobile), 0, 0, 0))
        line.donations += 1
        line.books += entry.books
        line.portions += entry.portions
    rule = get_rule(activity_id)
    return Ledger(entries=entries, by_worker=sorted(lines.values(), key=lambda line: (line.name, line.user_id)),
                  books=sum(e.books for e in entries), portions=sum(e.portions for e in entries),
                  donors=len(lines), stock=rule.stock if rule else None)


def totals_for_activities(activity_ids) -> dict[int, dict[str, int]]:
    """For officers' reports: ``{activity_id: {"books", "portions", "donors"}}`` (zeros when none)."""
    ids = [i for i in dict.fromkeys(activity_ids or []) if isinstance(i, int)]
    result = {i: {"books": 0, "portions": 0, "donors": 0} for i in ids}
    if ids:
        stmt = (select(SwapDonation.activity_id, func.sum(SwapDonation.books),
                       func.sum(SwapDonation.portions),
                       func.count(func.distinct(SwapDonation.user_id)))
                .where(SwapDonation.activity_id.in_(ids)).group_by(SwapDonation.activity_id))
        for activity_id, books, portions, donors in db.session.execute(stmt):
            result[activity_id] = {"books": int(books), "portions": int(portions), "donors": int(donors)}
    return result


def ledger_xlsx(activity: Activity) -> bytes:
    """The ledger as a workbook: every donation, the totals per worker, and the grand total."""
    from openpyxl import Workbook

    data = ledger(activity.id)
    book = Workbook()
    sheet = book.active
    sheet.title = _("Ledger")[:31]
    sheet.append([_("Time"), _("Name"), _("Mobile"), _("Books"), _("Portions"), _("Titles")])
    for entry in data.entries:
        titles = "; ".join(" ".join(filter(None, [t.get("title"), t.get("isbn")]))
                           for t in entry.titles or [])
        sheet.append([_local_text(entry.at), _cell(entry.user.name), mask_mobile(entry.user.mobile),
                      entry.books, entry.portions, _cell(titles)])
    sheet.append([])
    sheet.append([_("Total"), "", "", data.books, data.portions, ""])
    per_worker = book.create_sheet(_("By worker")[:31])
    per_worker.append([_("Name"), _("Mobile"), _("Donations"), _("Books"), _("Portions")])
    for line in data.by_worker:
        per_worker.append([_cell(line.name), line.masked_mobile, line.donations, line.books, line.portions])
    per_worker.append([_("Total"), _("%(n)d workers", n=data.donors), len(data.entries), data.books,
                       data.portions])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _local_text(value: datetime) -> str:
    return utc_to_local(value).strftime("%Y-%m-%d %H:%M")


def _cell(value: str) -> str:
    """Text for a spreadsheet cell that a spreadsheet will not run as a formula."""
    return "'" + value if value and value[0] in "=+-@\t\r" else value
