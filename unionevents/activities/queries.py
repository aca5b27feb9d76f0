"""Read-only queries for the worker's activity catalogue (HTML pages and the JSON API share them).

``parse_catalogue_filters`` turns query-string arguments into a :class:`CatalogueFilters`; it never
raises — a bad value is dropped and a message says so.  ``catalogue`` runs one filtered, paginated
query.

Eligibility ("only activities I can join") is expressed in SQL and mirrors
``registrations.rules.eligibility_refusals``: members-only activities need a union, an occupation list
must contain the worker's occupation, a list of eligible unions must contain the worker's union or one
of its ancestors, and a quota-mode activity needs a quota for the worker's union or an ancestor.  The
sign-up window and free places are separate filters, and an existing registration is not looked at, so
the detail page (which asks the registration engine) keeps the final word.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, Mapping, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, false, func, literal, or_, select
from sqlalchemy.orm import selectinload

from ..accounts.models import User
from ..core.db import MAX_ID
from ..core.timeutil import local_day_end, local_day_start, now
from ..extensions import db
from ..unions.models import UnionNode
from .models import (
    Activity, ActivityEligibleNode, ActivityKind, ActivityOccupation, ActivityStatus, SignupMode, UnitQuota,
    Visibility,
)

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
MAX_SEARCH_LENGTH = 60
MAX_DISTRICT_LENGTH = 40
MAX_PAGE = 10_000

_TRUE_VALUES = {"1", "true", "yes", "on", "y"}
_FALSE_VALUES = {"", "0", "false", "no", "off", "n"}


@dataclass
class CatalogueFilters:
    """What a worker asked the catalogue for; every field optional."""

    kind: ActivityKind | None = None
    node_id: int | None = None
    district: str | None = None
    date_from: date | None = None  # Asia/Shanghai calendar dates, inclusive
    date_to: date | None = None
    open_now: bool = False
    places_left: bool = False
    eligible: bool = False
    #: 我可报名 (the HTML catalogue): eligible and sign-up not closed yet.  On by default for workers
    #: (``joinable_default``): then only an explicit ``joinable=0`` turns it off.
    joinable: bool = False
    joinable_default: bool = False
    q: str = ""
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE
    #: Messages about values that were ignored (lazy strings; show them to the user).
    messages: list = field(default_factory=list, compare=False)

    @property
    def advanced_set(self) -> bool:
        """Any filter other than the title search is in use."""
        return any((self.kind, self.node_id, self.district, self.date_from, self.date_to, self.open_now,
                    self.places_left, self.eligible))

    @property
    def any_set(self) -> bool:
        return self.advanced_set or bool(self.q) or self.joinable != self.joinable_default

    def as_args(self, **overrides: Any) -> dict[str, Any]:
        """Query-string arguments that reproduce these filters (for pager links)."""
        args: dict[str, Any] = {
            "kind": self.kind.value if self.kind else None,
            "node": self.node_id,
            "district": self.district,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "open": "1" if self.open_now else None,
            "places": "1" if self.places_left else None,
            "eligible": "1" if self.eligible else None,
            "joinable": None if self.joinable == self.joinable_default else ("1" if self.joinable else "0"),
            "q": self.q or None,
            "page": self.page if self.page != 1 else None,
            "per_page": self.per_page if self.per_page != DEFAULT_PAGE_SIZE else None,
        }
        args.update(overrides)
        return {key: value for key, value in args.items() if value not in (None, "")}


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    pages: int
    per_page: int = DEFAULT_PAGE_SIZE

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _first(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    return str(value).strip()


def _parse_flag(args, name: str, filters: CatalogueFilters, label) -> bool:
    raw = _first(args, name)
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered in _TRUE_VALUES:
        return True
    if lowered not in _FALSE_VALUES:
        filters.messages.append(_l("The option “%(name)s” was not understood and is ignored.", name=label))
    return False


def _parse_int(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if -MAX_ID <= value <= MAX_ID else None  # beyond the id range: the driver would overflow


def _parse_date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def parse_catalogue_filters(args: Mapping[str, Any], *, joinable_default: bool = False) -> CatalogueFilters:
    """Read filters from query-string ``args``. Never raises: bad values are ignored with a message.

    ``joinable``: the form sends a hidden ``0`` before the checkbox's ``1``, so the last value wins."""
    filters = CatalogueFilters(joinable=joinable_default, joinable_default=joinable_default)
    msgs = filters.messages
    values = args.getlist("joinable") if hasattr(args, "getlist") else [args.get("joinable")]
    raw = str(values[-1]).strip().lower() if values and values[-1] is not None else None
    if raw in _TRUE_VALUES:
        filters.joinable = True
    elif raw in _FALSE_VALUES:
        filters.joinable = False

    raw = _first(args, "kind")
    if raw:
        try:
            filters.kind = ActivityKind(raw)
        except ValueError:
            msgs.append(_l("Unknown activity kind; showing all kinds."))

    raw = _first(args, "node")
    if raw:
        node_id = _parse_int(raw)
        if node_id is None or node_id <= 0 or db.session.get(UnionNode, node_id) is None:
            msgs.append(_l("Unknown organiser; showing all organisers."))
        else:
            filters.node_id = node_id

    raw = _first(args, "district")
    if raw:
        if len(raw) > MAX_DISTRICT_LENGTH:
            msgs.append(_l("The district name is too long and is ignored."))
        else:
            filters.district = raw

    for name, attr in (("from", "date_from"), ("to", "date_to")):
        raw = _first(args, name)
        if raw:
            value = _parse_date(raw)
            if value is None:
                msgs.append(_l("“%(value)s” is not a date (use YYYY-MM-DD) and is ignored.", value=raw[:20]))
            else:
                setattr(filters, attr, value)
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        msgs.append(_l("The end date is before the start date; the end date is ignored."))
        filters.date_to = None

    filters.open_now = _parse_flag(args, "open", filters, _l("Open for sign-up now"))
    filters.places_left = _parse_flag(args, "places", filters, _l("Places left"))
    filters.eligible = _parse_flag(args, "eligible", filters, _l("Only activities I can join"))

    raw = _first(args, "q")
    if raw:
        if len(raw) > MAX_SEARCH_LENGTH:
            msgs.append(_l("The search text was shortened to %(n)d characters.", n=MAX_SEARCH_LENGTH))
            raw = raw[:MAX_SEARCH_LENGTH]
        filters.q = raw

    raw = _first(args, "page")
    if raw:
        page = _parse_int(raw)
        if page is None or page < 1 or page > MAX_PAGE:
            msgs.append(_l("Invalid page number; showing the first page."))
        else:
            filters.page = page

    raw = _first(args, "per_page")
    if raw:
        per_page = _parse_int(raw)
        if per_page is None or per_page < 1:
            msgs.append(_l("Invalid page size; showing %(n)d per page.", n=DEFAULT_PAGE_SIZE))
        elif per_page > MAX_PAGE_SIZE:
            msgs.append(_l("At most %(n)d activities are shown per page.", n=MAX_PAGE_SIZE))
            filters.per_page = MAX_PAGE_SIZE
        else:
            filters.per_page = per_page
    return filters


def eligibility_clause(user: User):
    """SQL: ``user`` meets the activity's eligibility conditions (see the module docstring)."""
    # The worker's union and its ancestors: its path lists them all, so no LIKE is needed.
    own_and_above = user.union.ancestor_ids() if user.union is not None else []
    has_occupations = exists().where(ActivityOccupation.activity_id == Activity.id)
    occupation_matches = exists().where(ActivityOccupation.activity_id == Activity.id,
                                        ActivityOccupation.occupation == user.occupation)
    has_nodes = exists().where(ActivityEligibleNode.activity_id == Activity.id)
    node_matches = exists().where(ActivityEligibleNode.activity_id == Activity.id,
                                  ActivityEligibleNode.node_id.in_(own_and_above))
    has_quota = exists().where(UnitQuota.activity_id == Activity.id, UnitQuota.node_id.in_(own_and_above))
    conditions = [
        or_(~has_occupations, occupation_matches),
        or_(~has_nodes, node_matches),
        or_(Activity.mode != SignupMode.QUOTA, has_quota),
    ]
    if not own_and_above:
        conditions.append(and_(Activity.members_only.is_(False), Activity.visibility != Visibility.MEMBERS))
    return and_(*conditions)


def catalogue_statement(filters: CatalogueFilters, user: User | None = None):
    """The filtered SELECT of activities, unordered and unpaginated."""
    current = now()
    stmt = select(Activity).where(Activity.status == ActivityStatus.PUBLISHED,
                                  Activity.visibility != Visibility.INVITATION)
    if filters.kind:
        stmt = stmt.where(Activity.kind == filters.kind)
    if filters.node_id:
        node = db.session.get(UnionNode, filters.node_id)
        stmt = stmt.where(Activity.node_id.in_(node.subtree_ids_select()) if node else false())
    if filters.district:
        stmt = stmt.where(Activity.district == filters.district)
    if filters.date_from or filters.date_to:
        # Activities that overlap the asked days; past days are allowed here.
        if filters.date_from:
            stmt = stmt.where(Activity.ends_at >= local_day_start(filters.date_from))
        if filters.date_to:
            stmt = stmt.where(Activity.starts_at < local_day_end(filters.date_to))
    else:
        stmt = stmt.where(Activity.ends_at >= current)
    if filters.open_now:
        stmt = stmt.where(Activity.signup_opens_at <= current, Activity.signup_closes_at > current)
    if filters.places_left:
        stmt = stmt.where(Activity.taken < Activity.capacity)
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if (filters.eligible or filters.joinable) and signed_in:
        stmt = stmt.where(eligibility_clause(user))
    if filters.joinable and signed_in:
        stmt = stmt.where(Activity.signup_closes_at > current)
    if filters.q:
        stmt = stmt.where(Activity.title.contains(filters.q, autoescape=True))
    return stmt


def catalogue(filters: CatalogueFilters, user: User | None = None) -> Page[Activity]:
    """One page of the catalogue, soonest first. A page past the end shows the last page."""
    if filters.eligible and (user is None or not getattr(user, "is_authenticated", False)):
        filters.eligible = False
        filters.messages.append(_l("Log in to see only the activities you can join."))
    if filters.joinable and (user is None or not getattr(user, "is_authenticated", False)):
        filters.joinable = False
    stmt = catalogue_statement(filters, user)
    page = max(1, filters.page)
    items = _catalogue_items(stmt, page, filters.per_page)
    if (items or page == 1) and len(items) < filters.per_page:
        total = (page - 1) * filters.per_page + len(items)  # the last page: no need to count
    else:
        total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        if page > max(1, math.ceil(total / filters.per_page)):
            page = max(1, math.ceil(total / filters.per_page))
            items = _catalogue_items(stmt, page, filters.per_page)
    pages = max(1, math.ceil(total / filters.per_page))
    return Page(items=items, total=total, page=page, pages=pages, per_page=filters.per_page)


def _catalogue_items(stmt, page: int, per_page: int) -> list[Activity]:
    return list(db.session.scalars(
        # Quotas and eligibility come with the page: each card shows them and judges them for the worker
        # (no statement per card).
        stmt.options(selectinload(Activity.unit_quotas), selectinload(Activity.eligible_occupations),
                     selectinload(Activity.eligible_nodes))
        .order_by(Activity.starts_at, Activity.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ))


#: The organiser filter offers unions down to this depth (city 0, district 1, street or industry 2) —
#: a city's thousands of workplace unions made the catalogue hundreds of kilobytes on a phone —
#: and the worker's own union.
ORGANISER_FILTER_DEPTH = 2


def organiser_paths(*also: int | None) -> list[str]:
    """Tree paths for the catalogue's organiser filter (``unions.services.tree_choices``, which adds the
    unions above each): the unions that organise published activities a worker may find, cut to
    ``ORGANISER_FILTER_DEPTH``, and the unions ``also`` names in full (the one a filter names, the
    worker's own).  One statement."""
    stmt = (select(UnionNode.path, literal(True)).join(Activity, Activity.node_id == UnionNode.id)
            .where(Activity.status == ActivityStatus.PUBLISHED, Activity.visibility != Visibility.INVITATION))
    named = [node_id for node_id in also if node_id]
    if named:
        stmt = stmt.union(select(UnionNode.path, literal(False)).where(UnionNode.id.in_(named)))
    else:
        stmt = stmt.distinct()
    paths = set()
    for path, organises in db.session.execute(stmt):
        ids = [part for part in path.split("/") if part]
        if organises:
            ids = ids[:ORGANISER_FILTER_DEPTH + 1]
        paths.add("/" + "/".join(ids) + "/")
    return sorted(paths)


def district_choices() -> list[str]:
    """Districts that have published activities, for the filter's select box."""
    stmt = (select(Activity.district).where(Activity.status == ActivityStatus.PUBLISHED,
                                            Activity.district.is_not(None))
            .distinct().order_by(Activity.district))
    return [d for d in db.session.scalars(stmt) if d]
