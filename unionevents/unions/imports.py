"""Importing a federation's union tree from a spreadsheet (``flask unions import FILE``).

Columns (Chinese or English headers): ``name``, ``parent`` (the parent's full name; empty only for
the top union), and optional ``code``, ``kind`` and ``district`` (docs/unions.md).  A row describes
the union with its ``code`` if one has it, else the union of that name under that parent: importing
the same file twice changes nothing, and a row may rename (by code), move (by code) or update a
union.  One file is all or nothing: every row is checked first, against the tree and the rest of the
file, and nothing is written while any row is wrong; the report names each bad row.

Fast for 10,000 unions: the tree is read once, the new unions' ids are taken up front (PostgreSQL: the
sequence; SQLite: after the highest, under the write lock) so their paths are known before one bulk
INSERT, changed unions are one bulk UPDATE, and one audit row records the counts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from ..core.audit import log_action
from ..core.db import write_transaction
from ..core.tabular import TableError, read_rows
from ..core.text import NotText, clean_text
from ..extensions import db
from .models import CODE_MAX, DISTRICT_MAX, NAME_MAX, NodeLevel, UnionNode
from .services import default_child_level, relocate_subtree

MAX_ROWS = 50_000
COLUMNS = ("name", "parent", "code", "kind", "district")
REQUIRED_COLUMNS = ("name", "parent")

COLUMN_TITLES = {
    "name": _l("Union name"),
    "parent": _l("Parent union"),
    "code": _l("Code"),
    "kind": _l("Kind"),
    "district": _l("District"),
}

#: Accepted header spellings, compared after ``_key``.
HEADER_ALIASES = {
    "name": ("name", "union", "union name", "工会名称", "工会", "名称", "单位名称", "组织名称"),
    "parent": ("parent", "parent union", "parent name", "上级工会", "上级", "上级工会名称", "上级单位",
               "上级组织"),
    "code": ("code", "union code", "编码", "代码", "工会编码", "工会代码", "组织代码"),
    "kind": ("kind", "level", "type", "类型", "层级", "级别", "工会类型", "组织类型"),
    "district": ("district", "区", "所属区", "区县", "所在区", "所属区县"),
}

#: Kind cells: the values, English words and the Chinese names federations use.
KIND_ALIASES = {
    NodeLevel.CITY: ("city", "federation", "city federation", "市总工会", "总工会", "市级", "市总", "联合会"),
    NodeLevel.DISTRICT: ("district", "district federation", "区总工会", "区县总工会", "区级", "区县", "区"),
    NodeLevel.STREET: ("street", "township", "street/township", "street federation", "街道", "乡镇", "街乡",
                       "街道总工会", "乡镇总工会", "街道乡镇", "街道/乡镇"),
    NodeLevel.INDUSTRY: ("industry", "industry union", "行业", "产业", "行业工会", "产业工会"),
    NodeLevel.WORKPLACE: ("workplace", "workplace union", "基层", "基层工会", "企业", "单位", "企业工会",
                          "联合工会"),
}


def _key(value: str) -> str:
    """Lower case without spaces, dashes, underscores, asterisks or a bracketed note."""
    value = re.sub(r"[（(][^）)]*[）)]", "", value or "")
    return re.sub(r"[\s_\-*\u3000\ufeff]", "", value).lower()


_HEADERS = {_key(alias): column for column, aliases in HEADER_ALIASES.items() for alias in aliases}
_KINDS = {_key(alias): kind for kind, aliases in KIND_ALIASES.items() for alias in aliases}


def kind_from_cell(value: str) -> NodeLevel | None:
    return _KINDS.get(_key(value))


# --------------------------------------------------------------------------- the report


@dataclass
class RowError:
    row: int | None
    column: str | None
    message: object

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(str(_l("row %(row)d", row=self.row)))
        if self.column:
            where.append(str(COLUMN_TITLES[self.column]))
        return (", ".join(where) + ": " if where else "") + str(self.message)


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, row: int | None, column: str | None, message) -> None:
        self.errors.append(RowError(row, column, message))


@dataclass
class _Row:
    number: int
    name: str
    parent: str
    code: str | None
    kind: NodeLevel | None
    district: str | None
    # Resolved: the parent (("node", id), ("row", index) or None for the top) and the union itself.
    parent_ref: tuple | None = None
    target: tuple | None = None
    bad: bool = False


@dataclass
class _Node:
    id: int
    name: str
    parent_id: int | None
    code: str | None
    level: NodeLevel
    district: str | None
    retired: bool


class _FileError(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


# --------------------------------------------------------------------------- reading

def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return cells[index] if index is not None and index < len(cells) else ""


def _text(report: ImportReport, number: int, column: str, value: str, limit: int) -> str | None:
    try:
        value = " ".join(clean_text(value).split())
    except NotText:
        report.error(number, column, _l("The text contains characters that are not allowed."))
        return None
    if len(value) > limit:
        report.error(number, column, _l("Longer than %(n)d characters.", n=limit))
        return None
    return value


def _read(data: bytes, filename: str, report: ImportReport) -> list[_Row]:
    if not data or not data.strip():
        raise _FileError(_l("The file is empty."))
    columns: dict[str, int] | None = None
    rows: list[_Row] = []
    try:
        for number, cells in read_rows(data, filename):
            if columns is None:
                columns = _header(cells)
                continue
            if len(rows) >= MAX_ROWS:
                raise _FileError(_l("The file has more than %(n)d rows. Please split it into smaller files.",
                                    n=MAX_ROWS))
            rows.append(_check_row(number, cells, columns, report))
    except TableError as error:
        raise _FileError(error.message) from error
    if columns is None or not rows:
        raise _FileError(_l("The file has no rows to import."))
    report.rows = len(rows)
    return rows


def _header(cells: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = _HEADERS.get(_key(cell))
        if column is not None and column not in columns:
            columns[column] = index
    missing = [str(COLUMN_TITLES[c]) for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise _FileError(_l("The first row must name the columns; missing: %(columns)s.",
                            columns="、".join(missing)))
    return columns


def _check_row(number: int, cells: list[str], columns: dict[str, int], report: ImportReport) -> _Row:
    before = len(report.errors)
    name = _text(report, number, "name", _cell(cells, columns, "name"), NAME_MAX) or ""
    if not name and len(report.errors) == before:
        report.error(number, "name", _l("Please enter the union's name."))
    parent = _text(report, number, "parent", _cell(cells, columns, "parent"), NAME_MAX) or ""
    code = _text(report, number, "code", _cell(cells, columns, "code"), CODE_MAX) or None
    district = _text(report, number, "district", _cell(cells, columns, "district"), DISTRICT_MAX) or None
    kind_cell = _cell(cells, columns, "kind")
    kind = kind_from_cell(kind_cell) if kind_cell else None
    if kind_cell and kind is None:
        report.error(number, "kind", _l("Unknown kind “%(value)s”: use federation, district, street/township, "
                                        "industry or workplace (or 市总工会, 区总工会, 街道, 乡镇, 行业, 基层).",
                                        value=kind_cell[:20]))
    if parent and parent == name:
        report.error(number, "parent", _l("A union cannot be its own parent."))
    return _Row(number, name, parent, code, kind, district, bad=len(report.errors) > before)


# --------------------------------------------------------------------------- checking against the tree

class _Plan:
    """The file resolved against the tree: which union each row is, and where it goes."""

    def __init__(self, rows: list[_Row], report: ImportReport):
        self.rows, self.report = rows, report
        self.nodes: dict[int, _Node] = {}
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.by_key: dict[tuple, int] = {}
        for r in db.session.execute(select(UnionNode.id, UnionNode.name, UnionNode.parent_id, UnionNode.code,
                                           UnionNode.level, UnionNode.district, UnionNode.retired_at)):
            node = _Node(r.id, r.name, r.parent_id, r.code, NodeLevel(r.level), r.district, r.retired_at is not None)
            self.nodes[node.id] = node
            if node.code:
                self.by_code[node.code] = node.id
            self.by_name.setdefault(node.name, []).append(node.id)
            self.by_key[(node.parent_id, node.name)] = node.id
        self.file_names: dict[str, list[int]] = {}
        for index, row in enumerate(rows):
            self.file_names.setdefault(row.name, []).append(index)

    def error(self, row: _Row, column: str | None, message) -> None:
        if not row.bad:
            row.bad = True
        self.report.error(row.number, column, message)

    # -- duplicates within the file
    def check_file_duplicates(self) -> None:
        seen_codes: dict[str, int] = {}
        seen_keys: dict[tuple, int] = {}
        for row in self.rows:
            if row.code:
                if row.code in seen_codes:
                    self.error(row, "code", _l("The same code is on row %(row)d.", row=seen_codes[row.code]))
                seen_codes.setdefault(row.code, row.number)
            key = (row.parent, row.name)
            if row.name and key in seen_keys:
                self.error(row, "name", _l("A union of this name under the same parent is already on row "
                                           "%(row)d.", row=seen_keys[key]))
            seen_keys.setdefault(key, row.number)

    # -- parents
    def resolve_parents(self) -> None:
        roots = [n for n in self.nodes.values() if n.parent_id is None]
        top_row = None
        for row in self.rows:
            if not row.name:
                continue
            if not row.parent:
                if top_row is not None:
                    self.error(row, "parent", _l("Only the top union may have no parent; the top union is "
                                                 "%(name)s.", name=top_row.name))
                top_row = top_row or row
                if roots and not any(n.name == row.name for n in roots) and not (
                        row.code and row.code in self.by_code and self.nodes[self.by_code[row.code]].parent_id is None):
                    self.error(row, "parent", _l("Only the top union may have no parent; the top union is "
                                                 "%(name)s.", name=roots[0].name))
                row.parent_ref = None
                continue
            in_file = self.file_names.get(row.parent, [])
            if len(in_file) > 1:
                self.error(row, "parent", _l("Several unions in the file are called %(name)s: the parent is "
                                             "ambiguous.", name=row.parent))
            elif in_file:
                row.parent_ref = ("row", in_file[0])
            else:
                known = [i for i in self.by_name.get(row.parent, []) if not self.nodes[i].retired]
                if len(known) > 1:
                    self.error(row, "parent", _l("Several unions are called %(name)s: the parent is ambiguous.",
                                                 name=row.parent))
                elif known:
                    row.parent_ref = ("node", known[0])
                elif self.by_name.get(row.parent):
                    self.error(row, "parent", _l("The parent union %(name)s has been retired.", name=row.parent))
                else:
                    self.error(row, "parent", _l("Unknown parent union: %(name)s (neither in the tree nor in "
                                                 "the file).", name=row.parent))

    # -- which union each row is
    def resolve_targets(self) -> None:
        state: dict[int, str] = {}

        def target(index: int) -> tuple | None:
            row = self.rows[index]
            if state.get(index) == "done":
                return row.target
            if state.get(index) == "visiting":
                return None  # a loop; reported by check_cycles
            state[index] = "visiting"
            if row.code and row.code in self.by_code:
                row.target = ("node", self.by_code[row.code])
            elif row.parent_ref is None and row.parent:
                row.target = None  # its parent is wrong (already reported)
            else:
                parent = self._parent_target(row, target)
                if parent is False:
                    row.target = ("new", index)
                else:
                    existing = self.by_key.get((parent, row.name))
                    row.target = ("node", existing) if existing is not None else ("new", index)
            state[index] = "done"
            return row.target

        for index in range(len(self.rows)):
            if self.rows[index].name:
                target(index)
        for row in self.rows:
            if row.target and row.target[0] == "node" and self.nodes[row.target[1]].retired:
                self.error(row, "name", _l("This union has been retired; take this row out of the file."))

    def _parent_target(self, row: _Row, target):
        """The parent's node id (None: the top), or False when the parent is new (or unresolved)."""
        if row.parent_ref is None:
            return None
        kind, value = row.parent_ref
        if kind == "node":
            return value
        resolved = target(value)
        if resolved is None or resolved[0] == "new":
            return False
        return resolved[1]

    # -- the final tree: no loops, names unique under each parent
    def final_parent(self, ref: tuple) -> tuple | None:
        """The parent ``ref`` (("node", id) or ("new", index)) has once the file is applied."""
        row = self.row_of.get(ref)
        if row is None:
            parent_id = self.nodes[ref[1]].parent_id
            return ("node", parent_id) if parent_id is not None else None
        if row.parent_ref is None:
            return None
        kind, value = row.parent_ref
        return ("node", value) if kind == "node" else self.rows[value].target

    def check_tree(self) -> None:
        self.row_of: dict[tuple, _Row] = {}
        for row in self.rows:
            if row.target is not None:
                if row.target in self.row_of and row.target[0] == "node":
                    self.error(row, "name", _l("Row %(row)d describes the same union.",
                                               row=self.row_of[row.target].number))
                    continue
                self.row_of[row.target] = row
        for row in self.rows:
            if row.target is None or row.bad:
                continue
            seen, ref = {row.target}, self.final_parent(row.target)
            while ref is not None:
                if ref in seen:
                    self.error(row, "parent", _l("The parents form a loop: a union would end up below itself."))
                    break
                seen.add(ref)
                ref = self.final_parent(ref)
        # Names under each parent, after the file: the rows', and the untouched unions'.
        names: dict[tuple, str] = {}
        for node in self.nodes.values():
            if ("node", node.id) not in self.row_of:
                names[(node.parent_id, node.name)] = "tree"
        for row in self.rows:
            if row.target is None or row.bad:
                continue
            parent = self.final_parent(row.target)
            key = (self._key_of(parent), row.name)
            if key in names:
                self.error(row, "name", _l("A union of this name already exists under the same parent union."))
            names[key] = "row"

    @staticmethod
    def _key_of(ref):
        if ref is None:
            return None
        return ref[1] if ref[0] == "node" else ("new", ref[1])


def check_file(data: bytes, filename: str) -> tuple[ImportReport, _Plan | None]:
    """Read and check the file against the tree; nothing written."""
    report = ImportReport()
    try:
        rows = _read(data, filename, report)
    except _FileError as error:
        report.error(None, None, error.message)
        return report, None
    plan = _Plan(rows, report)
    plan.check_file_duplicates()
    plan.resolve_parents()
    plan.resolve_targets()
    plan.check_tree()
    report.errors.sort(key=lambda e: (e.row or 0))
    return report, plan


# --------------------------------------------------------------------------- writing

def import_unions(data: bytes, filename: str, actor=None) -> ImportReport:
    """Import the file: all of it, or (with errors in the report) nothing."""
    report, plan = check_file(data, filename)
    if not report.ok or plan is None:
        return report
    try:
        with write_transaction():
            _apply(plan, report)
            log_action(actor.id if actor is not None else None, "union.import", None, rows=report.rows,
                       created=report.created, updated=report.updated, moved=report.moved,
                       unchanged=report.unchanged)
    except IntegrityError:
        report.created = report.updated = report.moved = report.unchanged = 0
        report.error(None, None, _l("The tree changed while the file was imported. Please import it again."))
    return report


def _apply(plan: _Plan, report: ImportReport) -> None:
    table = UnionNode.__table__
    rows = [r for r in plan.rows if r.target is not None]
    # 1. New unions: ids taken up front, so every path is known before the one INSERT (parents first).
    new_rows = [r for r in rows if r.target[0] == "new"]
    new_ids = {id(row): new_id for row, new_id in zip(new_rows, _allocate_ids(len(new_rows)))}
    info: dict[int, tuple[str, int, NodeLevel, str | None]] = {}  # node id -> (path, depth, level, district)
    for r in db.session.execute(select(table.c.id, table.c.path, table.c.depth, table.c.level, table.c.district)):
        info[r.id] = (r.path, r.depth, NodeLevel(r.level), r.district)
    values = []
    by_depth = sorted(new_rows, key=lambda row: _final_depth(plan, row.target))
    for row in by_depth:
        new_id, parent_id = new_ids[id(row)], _parent_id(plan, row, new_ids)
        parent = info[parent_id] if parent_id is not None else None
        level = row.kind or default_child_level(parent[2] if parent else None)
        district = row.district or (parent[3] if parent else None)
        path, depth = f"{parent[0] if parent else '/'}{new_id}/", parent[1] + 1 if parent else 0
        info[new_id] = (path, depth, level, district)
        values.append({"id": new_id, "name": row.name, "parent_id": parent_id, "code": row.code, "level": level,
                       "district": district, "path": path, "depth": depth})
    for start in range(0, len(values), 5_000):
        db.session.execute(insert(table), values[start:start + 5_000])
    report.created = len(values)
    # 2. Known unions: new name, code, kind or district; then moves, shallowest final place first.
    moves, changed = [], []
    for row in rows:
        if row.target[0] != "node":
            continue
        node = plan.nodes[row.target[1]]
        changes = {}
        if row.name != node.name:
            changes["name"] = row.name
        if row.code and row.code != node.code:
            changes["code"] = row.code
        if row.kind and row.kind != node.level:
            changes["level"] = row.kind
        if row.district and row.district != node.district:
            changes["district"] = row.district
        if changes:
            changed.append({"b_id": node.id, "b_name": row.name, "b_code": row.code or node.code,
                            "b_level": row.kind or node.level, "b_district": row.district or node.district})
        parent_id = _parent_id(plan, row, new_ids)
        if parent_id != node.parent_id:
            moves.append((node.id, parent_id))
        elif changes:
            report.updated += 1
        else:
            report.unchanged += 1
    if changed:  # one executemany for every changed union
        db.session.execute(update(table).where(table.c.id == bindparam("b_id")).values(
            name=bindparam("b_name"), code=bindparam("b_code"), level=bindparam("b_level", type_=table.c.level.type),
            district=bindparam("b_district")), changed, execution_options={"synchronize_session": False})
    if moves:
        depth = {node_id: _final_depth(plan, ("node", node_id)) for node_id, _ in moves}
        for node_id, parent_id in sorted(moves, key=lambda m: depth[m[0]]):
            db.session.expire_all()
            relocate_subtree(db.session.get(UnionNode, node_id), db.session.get(UnionNode, parent_id))
        report.moved = len(moves)
    db.session.expire_all()


def _parent_id(plan: _Plan, row: _Row, new_ids: dict[int, int]):
    """The row's parent's id (None: the top); a new parent's id comes from ``new_ids``."""
    if row.parent_ref is None:
        return None
    kind, value = row.parent_ref
    if kind == "node":
        return value
    parent_row = plan.rows[value]
    if parent_row.target[0] == "node":
        return parent_row.target[1]
    return new_ids[id(parent_row)]


def _allocate_ids(count: int) -> list[int]:
    """``count`` fresh union ids.  PostgreSQL: from the table's sequence; SQLite: after the highest id
    (safe: the import runs in a write transaction, which on SQLite holds the database's write lock)."""
    if not count:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return list(db.session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence('union_node', 'id')) FROM generate_series(1, :n)"), {"n": count}))
    start = (db.session.scalar(select(func.max(UnionNode.id))) or 0) + 1
    return list(range(start, start + count))


def _final_depth(plan: _Plan, ref: tuple) -> int:
    depth = 0
    ref = plan.final_parent(ref)
    while ref is not None:
        depth += 1
        ref = plan.final_parent(ref)
    return depth
