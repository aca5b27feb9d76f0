"""The union hierarchy: a tree stored with a materialized path.

``path`` is ``/1/5/12/`` for node 12 under 5 under 1, so "this node and
everything below it" is one indexed ``LIKE '/1/5/%'`` on either engine.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, select, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.enums import LabelledEnum, enum_column_type
from ..extensions import db


class NodeLevel(LabelledEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    INDUSTRY = "industry"
    WORKPLACE = "workplace"

    __titles__ = {
        "city": _l("City federation"),
        "district": _l("District federation"),
        "street": _l("Street / township federation"),
        "industry": _l("Industry union"),
        "workplace": _l("Workplace union"),
    }


#: The longest union name, code and district an import or the admin page accepts.
NAME_MAX = 120
CODE_MAX = 40
DISTRICT_MAX = 40


class UnionNode(db.Model):
    """A union.  Its name is unique under its parent (decisions.md); a root's among the roots.

    A retired union (``retired_at``) keeps its history — activities, reports, the audit log — but
    is offered in no picker; a merged one also names the union that took over (``merged_into_id``).
    """

    __tablename__ = "union_node"
    __table_args__ = (
        CheckConstraint("depth >= 0", name="depth_not_negative"),
        UniqueConstraint("parent_id", "name", name="uq_union_node_parent_name"),
        # NULL parents are distinct in a UNIQUE constraint: the roots' names get their own index.
        Index("uq_union_node_root_name", "name", unique=True,
              sqlite_where=text("parent_id IS NULL"), postgresql_where=text("parent_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), index=True)
    #: The federation's own code for the union (optional); an import matches on it before the name.
    code: Mapped[str | None] = mapped_column(String(CODE_MAX), unique=True)
    retired_at: Mapped[datetime | None] = mapped_column()
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("union_node.id", ondelete="SET NULL"), index=True)
    level: Mapped[NodeLevel] = mapped_column(enum_column_type(NodeLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("union_node.id", ondelete="RESTRICT"), index=True)
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    depth: Mapped[int] = mapped_column(default=0)
    district: Mapped[str | None] = mapped_column(String(40))

    parent: Mapped["UnionNode | None"] = relationship(remote_side=[id], back_populates="children",
                                                      foreign_keys=[parent_id])
    children: Mapped[list["UnionNode"]] = relationship(back_populates="parent", order_by="UnionNode.name",
                                                       foreign_keys=[parent_id])

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def is_within(self, ancestor: "UnionNode") -> bool:
        """True when this node is ``ancestor`` or below it."""
        return self.path.startswith(ancestor.path)

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def subtree_ids_select(self):
        """SELECT of the ids of this node and everything below it."""
        return select(UnionNode.id).where(UnionNode.path.startswith(self.path, autoescape=True))

    def __repr__(self) -> str:
        return f"<UnionNode {self.id} {self.name}>"
