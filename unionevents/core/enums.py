"""String enums with translated titles, stored as their values."""
from __future__ import annotations

import enum

import sqlalchemy as sa


class LabelledEnum(str, enum.Enum):
    """An enum whose members know their translated title (``__titles__`` maps value → lazy string)."""

    @property
    def title(self) -> str:  # type: ignore[override]  # str.title() is shadowed on purpose
        titles = getattr(type(self), "__titles__", {})
        return str(titles.get(self.value, self.value))

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return self.value

    @classmethod
    def choices(cls):
        return [(member.value, member.title) for member in cls]


def enum_column_type(enum_cls: type[enum.Enum], length: int = 24) -> sa.Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, values (not names) stored."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=enum_cls.__name__.lower(),
    )
