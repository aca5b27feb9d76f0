"""The checks that read the database: each row's union exists and is one the importer organises,
and an existing account may be changed by them.  Lookups are a few ``IN`` queries per file."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select

from ...core.permissions import has_role
from ...extensions import db
from ...unions.models import UnionNode
from ..models import Occupation, Role, User
from ..services import MOBILE_RE
from .rows import ImportReport, Row

IN_CHUNK = 500


def chunks(items: list, size: int = IN_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def mobile_in(mobiles: list[str]):
    """``user.mobile IN (...)`` with the numbers written into the SQL (they are checked 11-digit strings).

    Not bound parameters: PostgreSQL's generic plan for a long IN list scans the table
    (docs/performance.md, "Why the code is shaped this way").
    """
    if not all(MOBILE_RE.fullmatch(m) for m in mobiles):
        raise ValueError("only checked mobile numbers may be written into SQL")
    return User.mobile.in_(bindparam("mobiles", mobiles, expanding=True, literal_execute=True))


@dataclass
class Existing:
    """What the import needs to know of an account that already has the row's mobile number."""

    id: int
    name: str
    union_id: int | None
    occupation: Occupation
    district: str | None
    activated: bool
    has_password: bool
    has_code: bool


def load_existing(mobiles: list[str]) -> dict[str, Existing]:
    existing: dict[str, Existing] = {}
    for chunk in chunks(mobiles):
        result = db.session.execute(
            select(User.id, User.mobile, User.name, User.union_id, User.occupation, User.district,
                   User.activated, User.password_hash.is_not(None), User.activation_code_hash.is_not(None))
            .where(mobile_in(chunk))
        )
        for row in result:
            existing[row[1]] = Existing(row[0], row[2], row[3], row[4], row[5], bool(row[6]),
                                        bool(row[7]), bool(row[8]))
    return existing


def _load_unions(names: Iterable[str]) -> dict[str, UnionNode]:
    names = sorted(set(names))
    found: dict[str, UnionNode] = {}
    for chunk in chunks(names):
        for node in db.session.scalars(select(UnionNode).where(UnionNode.name.in_(chunk))):
            found[node.name] = node
    return found


class Scope:
    """Which unions ``actor`` may import into (None: the command line, everywhere)."""

    def __init__(self, actor: User | None):
        self.actor = actor
        self._cache: dict[int, bool] = {}

    def allows(self, node: UnionNode) -> bool:
        if self.actor is None:
            return True
        if node.id not in self._cache:
            self._cache[node.id] = has_role(self.actor, Role.ORGANISER, node=node)
        return self._cache[node.id]

    def everywhere(self) -> bool:
        """May ``actor`` place accounts that belong to no union (admins and the command line)?"""
        return self.actor is None or any(grant.role == Role.ADMIN for grant in self.actor.grants)

    def allows_node_ids(self, node_ids: set[int]) -> dict[int, bool]:
        unknown = [i for i in node_ids if i not in self._cache]
        for chunk in chunks(unknown):
            for node in db.session.scalars(select(UnionNode).where(UnionNode.id.in_(chunk))):
                self.allows(node)
        return {i: self._cache.get(i, self.actor is None) for i in node_ids}


def check_unions(rows: list[Row], scope: Scope, report: ImportReport) -> None:
    unions = _load_unions(row.union_name for row in rows if row.union_name)
    for row in rows:
        if not row.union_name:
            continue
        node = unions.get(row.union_name)
        if node is None:
            report.error(row.number, "union", _l("There is no union named “%(value)s”. Please use the "
                                                 "union's full name.", value=row.union_name[:60]))
        elif not scope.allows(node):
            report.error(row.number, "union", _l("“%(value)s” is not one of the unions you organise.",
                                                 value=row.union_name[:60]))
        else:
            row.union_id, row.union_district = node.id, node.district


def check_existing(rows: list[Row], existing: dict[str, Existing], scope: Scope,
                   report: ImportReport) -> None:
    """Organisers may update only accounts already in their scope.

    An account of a union outside the scope, or of no union at all (a worker who signed up on
    their own), belongs to nobody the organiser answers for: the row is refused with one message
    for both cases that names neither the worker nor their union.  Admins (whose scope is every
    union) and the command line may place any account.
    """
    if scope.actor is None:
        return
    current_unions = {e.union_id for e in existing.values() if e.union_id is not None}
    allowed = scope.allows_node_ids(current_unions)
    everywhere = scope.everywhere()
    for row in rows:
        account = existing.get(row.mobile)
        if account is None:
            continue
        in_scope = allowed[account.union_id] if account.union_id is not None else everywhere
        if not in_scope:
            report.error(row.number, "mobile", _l("This mobile number is already registered to a worker "
                                                  "outside the unions you organise. Ask an administrator "
                                                  "to change that account."))
