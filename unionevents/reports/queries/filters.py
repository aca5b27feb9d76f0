"""What a report covers: the filter (union, date range, kinds) parsed from the query string and checked
against the officer's scope, and the union-tree helpers the queries group by."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ...activities.models import ActivityKind
from ...core.db import MAX_ID
from ...core.timeutil import now, utc_to_local
from ...extensions import db
from ...unions.models import UnionNode

#: How many activities the "top activities" list shows.
TOP_ACTIVITIES = 10
#: The longest range a report covers (a typing mistake in a year should not scan decades).
MAX_RANGE_DAYS = 366 * 5


def today() -> date:
    return utc_to_local(now()).date()


def quarter_of(day: date) -> tuple[date, date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = date(day.year + (first_month + 3 > 12), (first_month + 2) % 12 + 1, 1) - timedelta(days=1)
    return start, end


def default_range(day: date) -> tuple[date, date]:
    """The range a report shows unless asked otherwise: the whole year so far and the next quarter.

    From 1 January of ``day``'s year to the end of the quarter after ``day``'s, so activities about
    to happen — a January contest whose results are already out, seen in December — are counted
    (issue 20: the quarter left them out and 获奖作品数 read 0 right after publication)."""
    _start, quarter_end = quarter_of(day)
    return date(day.year, 1, 1), quarter_of(quarter_end + timedelta(days=1))[1]


@dataclass
class ReportFilter:
    node: UnionNode
    date_from: date
    date_to: date
    kinds: list[ActivityKind] = field(default_factory=list)


# --------------------------------------------------------------------------- tree helpers

def _child_path(node: UnionNode):
    """SQL: the path of the child of ``node`` a descendant's path lies under (``node``'s own path
    for the node itself) — '/1/5/12/' under '/1/' gives '/1/5/'."""
    plen = len(node.path)
    rest = func.substr(UnionNode.path, plen + 1)
    slash = func.strpos(rest, "/") if db.session.get_bind().dialect.name == "postgresql" else func.instr(rest, "/")
    return func.substr(UnionNode.path, 1, plen + slash)


def _subtree_map(node: UnionNode):
    """Subquery (node_id, child_path) for every union in ``node``'s subtree."""
    return (select(UnionNode.id.label("node_id"), _child_path(node).label("child_path"))
            .where(UnionNode.path.startswith(node.path, autoescape=True)).subquery("subtree"))


def subtree_ids(node: UnionNode):
    return select(UnionNode.id).where(UnionNode.path.startswith(node.path, autoescape=True))


def children_of(node: UnionNode) -> list[UnionNode]:
    return list(db.session.scalars(select(UnionNode).where(UnionNode.parent_id == node.id)
                                   .order_by(UnionNode.name)))


# --------------------------------------------------------------------------- input and scope

def scope_tops(user) -> list[UnionNode]:
    from ...accounts.models import Role
    from ...core.permissions import scope_nodes

    return sorted(scope_nodes(user, Role.OFFICER), key=lambda n: n.path)


def parse_filter(args, user) -> tuple[ReportFilter, dict[str, list[str]]]:
    """The report filter from query arguments (``node``, ``from``, ``to``, ``kind`` repeated).

    Bad values give a message per field and fall back to the default (top of scope,
    ``default_range``, all kinds).  Raises NotFound for an unknown union and NotAllowed for one outside
    the user's officer scope.
    """
    from ...access import holds
    from ...accounts.models import Role
    from ...core.errors import NotAllowed, NotFound

    errors: dict[str, list[str]] = {}
    tops = scope_tops(user)
    if not tops:
        raise NotAllowed()
    node = tops[0]
    raw_node = (args.get("node") or "").strip()
    if raw_node:
        if not (raw_node.isascii() and raw_node.isdigit()) or int(raw_node) > MAX_ID:
            raise NotFound(_l("This union does not exist."))
        found = db.session.get(UnionNode, int(raw_node))
        if found is None:
            raise NotFound(_l("This union does not exist."))
        if not holds(user, [Role.OFFICER], node=found):
            raise NotAllowed(_l("This union is outside the unions you report on."))
        node = found
    default_from, default_to = default_range(today())
    dates = {}
    for name, default in (("from", default_from), ("to", default_to)):
        raw = (args.get(name) or "").strip()
        dates[name] = default
        if raw:
            try:
                dates[name] = date.fromisoformat(raw)
            except ValueError:
                errors[name] = [str(_l("Please enter a date like 2025-03-31."))]
    if dates["from"] > dates["to"]:
        errors["to"] = [str(_l("The end date must not be before the start date."))]
        dates["from"], dates["to"] = default_from, default_to
    elif (dates["to"] - dates["from"]).days > MAX_RANGE_DAYS:
        errors["to"] = [str(_l("A report can cover at most five years."))]
        dates["to"] = dates["from"] + timedelta(days=MAX_RANGE_DAYS)
    kinds = []
    raw_kinds = args.getlist("kind") if hasattr(args, "getlist") else args.get("kind") or []
    if isinstance(raw_kinds, str):
        raw_kinds = [raw_kinds]
    for raw in raw_kinds:
        for value in str(raw).split(","):
            value = value.strip()
            if not value:
                continue
            try:
                kind = ActivityKind(value)
            except ValueError:
                errors["kind"] = [str(_l("Please choose kinds of activity from the list."))]
                continue
            if kind not in kinds:
                kinds.append(kind)
    return ReportFilter(node=node, date_from=dates["from"], date_to=dates["to"], kinds=kinds), errors


def breadcrumbs(node: UnionNode, tops: list[UnionNode]) -> list[UnionNode]:
    """The node's ancestors the user may report on, top first, ending with the node (one query, none
    when they are all among ``tops``: an officer looking at the top of their scope)."""
    ids = node.ancestor_ids()
    rows = {n.id: n for n in [*tops, node] if n.id in ids}
    missing = [i for i in ids if i not in rows]
    if missing:
        rows.update((n.id, n) for n in db.session.scalars(select(UnionNode).where(UnionNode.id.in_(missing))))
    return [rows[i] for i in ids if i in rows and any(rows[i].path.startswith(t.path) for t in tops)]
