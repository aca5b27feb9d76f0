"""Read-only queries for organisers: the roster, the door search, exports and the scanner's cache.

Each is a fixed number of statements whatever the roster's size (a test counts them): one page of
rows with the person, union and slot joined in, one count, one GROUP BY for the figures.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased, contains_eager, lazyload

from ..accounts.models import Occupation, User
from ..activities.models import TimeSlot
from ..extensions import db
from ..unions.models import UnionNode
from . import rules
from .models import Registration, RegistrationState as S

PAGE_SIZE = 50
#: Most matches the door search shows (the volunteer types more to narrow it).
DOOR_RESULTS = 20
SEARCH_MAX = 40
#: Rows fetched at a time when streaming an export.
EXPORT_BATCH = 500
#: How long after an activity's end the door page's copy of its roster may stay on a phone: long enough for
#: an evening event's late check-ins and for the waiting ones to be sent the next morning, then it goes
#: (PIPL: names and mobile digits on a shared phone; docs/deploy.md, section 9).
DOOR_COPY_GRACE = timedelta(hours=12)

_Union = aliased(UnionNode, name="worker_union")

SORTS = {
    "name": lambda: User.name,
    "registered": lambda: Registration.created_at,
    "state": lambda: Registration.state,
    "slot": lambda: TimeSlot.starts_at,
    "union": lambda: _Union.name,
    "checked_in": lambda: Registration.checked_in_at,
}
DEFAULT_SORT = "registered"


@dataclass
class RosterFilters:
    q: str = ""
    state: S | None = None
    slot_id: int | None = None
    union_id: int | None = None
    occupation: Occupation | None = None
    sort: str = DEFAULT_SORT
    descending: bool = False
    page: int = 1

    def as_args(self, **changes) -> dict:
        """Query-string arguments for links (page, sort) keeping the other filters."""
        args = {"q": self.q or None, "state": self.state.value if self.state else None,
                "slot": self.slot_id, "union": self.union_id,
                "occupation": self.occupation.value if self.occupation else None,
                "sort": self.sort if self.sort != DEFAULT_SORT else None,
                "dir": "desc" if self.descending else None, "page": self.page if self.page > 1 else None}
        args.update(changes)
        return {k: v for k, v in args.items() if v not in (None, "")}


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def _enum(enum_cls, value):
    try:
        return enum_cls(value)
    except ValueError:
        return None


def parse_filters(args) -> RosterFilters:
    """Filters from a query string; anything unknown or malformed is ignored (never an error page)."""
    sort = args.get("sort") or DEFAULT_SORT
    return RosterFilters(
        q=(args.get("q") or "").strip()[:SEARCH_MAX],
        state=_enum(S, args.get("state")),
        slot_id=_int(args.get("slot")),
        union_id=_int(args.get("union")),
        occupation=_enum(Occupation, args.get("occupation")),
        sort=sort if sort in SORTS else DEFAULT_SORT,
        descending=args.get("dir") == "desc",
        page=min(_int(args.get("page")) or 1, 10**6),
    )


def _search_clause(q: str):
    digits = "".join(ch for ch in q if ch.isdigit())
    clauses = [User.name.contains(q, autoescape=True)]
    if digits and len(digits) == len(q.replace(" ", "")):
        clauses.append(User.mobile.contains(digits, autoescape=True))
    return or_(*clauses)


def _base(activity_id: int, filters: RosterFilters) -> Select:
    stmt = (select(Registration)
            .join(User, User.id == Registration.user_id)
            .outerjoin(_Union, _Union.id == User.union_id)
            .outerjoin(TimeSlot, TimeSlot.id == Registration.slot_id)
            .where(Registration.activity_id == activity_id))
    if filters.q:
        stmt = stmt.where(_search_clause(filters.q))
    if filters.state is not None:
        stmt = stmt.where(Registration.state == filters.state)
    if filters.slot_id is not None:
        stmt = stmt.where(Registration.slot_id == filters.slot_id)
    if filters.union_id is not None:
        stmt = stmt.where(User.union_id == filters.union_id)
    if filters.occupation is not None:
        stmt = stmt.where(User.occupation == filters.occupation)
    return stmt


def _loaded(stmt: Select) -> Select:
    """Person, union and slot come from the joins already made; role grants are not needed."""
    return stmt.options(
        contains_eager(Registration.user).contains_eager(User.union.of_type(_Union)),
        contains_eager(Registration.user).lazyload(User.grants),
        contains_eager(Registration.slot),
        lazyload(Registration.activity),
    )


def _ordered(stmt: Select, filters: RosterFilters) -> Select:
    column = SORTS[filters.sort]()
    key = column.desc() if filters.descending else column.asc()
    return stmt.order_by(key.nulls_last(), Registration.id.desc() if filters.descending else Registration.id)


@dataclass
class RosterPage:
    rows: list[Registration]
    total: int
    page: int
    pages: int


def roster_page(activity_id: int, filters: RosterFilters, page_size: int = PAGE_SIZE) -> RosterPage:
    base = _base(activity_id, filters)
    total = db.session.scalar(select(func.count()).select_from(base.with_only_columns(Registration.id)
                                                               .subquery())) or 0
    pages = max((total + page_size - 1) // page_size, 1)
    page = min(filters.page, pages)
    rows = db.session.scalars(_loaded(_ordered(base, filters)).limit(page_size)
                              .offset((page - 1) * page_size)).unique().all()
    return RosterPage(rows=list(rows), total=total, page=page, pages=pages)


@dataclass
class RosterFigures:
    by_state: dict[S, int] = field(default_factory=dict)

    def count(self, state: S) -> int:
        return self.by_state.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def attendance_rate(self) -> float | None:
        return rules.attendance_rate(self.count(S.ATTENDED), self.count(S.NO_SHOW))


def roster_figures(activity_id: int) -> RosterFigures:
    rows = db.session.execute(select(Registration.state, func.count(Registration.id))
                              .where(Registration.activity_id == activity_id)
                              .group_by(Registration.state)).all()
    return RosterFigures({state: n for state, n in rows})


def roster_unions(activity_id: int) -> list[tuple[int, str]]:
    """The unions of the people registered (for the filter), by name."""
    return [tuple(row) for row in db.session.execute(
        select(UnionNode.id, UnionNode.name).where(UnionNode.id.in_(
            select(User.union_id).join(Registration, Registration.user_id == User.id)
            .where(Registration.activity_id == activity_id))).order_by(UnionNode.name))]


def export_rows(activity_id: int, filters: RosterFilters) -> Iterator[Registration]:
    """Every registration matching the filters (no paging), fetched in batches."""
    stmt = _loaded(_ordered(_base(activity_id, filters), filters)).execution_options(yield_per=EXPORT_BATCH)
    yield from db.session.scalars(stmt)


def sign_in_sheet(activity_id: int) -> list[Registration]:
    """People holding a place, by slot then name."""
    filters = RosterFilters(sort="name")
    stmt = (_loaded(_base(activity_id, filters)).where(Registration.holds_place)
            .order_by(TimeSlot.starts_at.asc().nulls_first(), User.name, Registration.id))
    return list(db.session.scalars(stmt).unique())


def door_search(activity_id: int, q: str) -> list[Registration]:
    """Door search: four digits are the end of a mobile number; anything else matches names."""
    q = (q or "").strip()[:SEARCH_MAX]
    if not q:
        return []
    filters = RosterFilters(sort="name")
    stmt = _loaded(_base(activity_id, filters))
    if q.isdigit() and len(q) == 4:
        stmt = stmt.where(User.mobile.endswith(q, autoescape=True))
    else:
        stmt = stmt.where(_search_clause(q))
    stmt = stmt.order_by(User.name, Registration.id).limit(DOOR_RESULTS)
    return list(db.session.scalars(stmt).unique())


def scanner_rows(activity_id: int) -> list:
    """What an offline scanner caches: token digest, name, last four digits, state. Nothing else."""
    return db.session.execute(
        select(Registration.id, Registration.ticket_secret, User.name, User.mobile, Registration.state,
               Registration.slot_id, Registration.checked_in_at)
        .join(User, User.id == Registration.user_id)
        .where(Registration.activity_id == activity_id)
        .order_by(Registration.id)).all()


def door_copy_keep_until(ends_at: datetime) -> datetime:
    """Until when a phone may keep the door page's copy of an activity's roster (UTC): the activity's end
    plus :data:`DOOR_COPY_GRACE`. static/js/logout-guard.js removes the copy after that."""
    return ends_at + DOOR_COPY_GRACE


def answer_text(value) -> str:
    """One answer as text (lists joined, yes/no words)."""
    from flask_babel import gettext as _

    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value)


__all__ = ["DOOR_COPY_GRACE", "PAGE_SIZE", "RosterFilters", "answer_text", "door_copy_keep_until", "door_search",
           "export_rows", "parse_filters", "roster_figures", "roster_page", "roster_unions", "scanner_rows", "sign_in_sheet"]
