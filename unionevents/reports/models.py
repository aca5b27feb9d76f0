"""Summary tables for the officer reports (see docs/reports.md).

They are kept current by ``reports.services`` in the same transaction as the change they count,
and can be recomputed from scratch with ``flask reports rebuild``.  Every counter is a function of
the current state of activities and registrations, so a recount must equal them.

* ``report_activity``: one row per activity — the key it is counted under (organising union, local
  start day, kind) and its status; written only when an activity is created or changed, read by
  the hook to find the key, and by ``sync_activity`` to move an activity's counts when it changes.
* ``report_daily``: per (day, union, kind): activities held and cancelled, registrations in each
  state, registrations by new-employment-form workers.  What the dashboard adds up over a subtree
  and a date range.
* ``report_reach``: per (union, worker, day, kind) the worker's places and attendances in the
  union's subtree — one row per level above the activity.  The source of every unique count; read
  directly only for the ragged days of a range with a choice of several (2–4) kinds.
* ``report_reach_span``: per union, the workers reached per day and the gaps between a worker's
  reach days, summed over workers, so exact unique counts over any range are a sum of a few rows;
  derived from ``report_reach`` (``services.settle_reach``).
* ``report_node_ancestor``: the tree as a closure table, for the hook and the rebuild.
* ``report_settle``: one row, when ``settle_reach`` last ran (the pages' "unique counts as of" line).
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, SmallInteger, text
from sqlalchemy.orm import Mapped, mapped_column

from ..activities.models import ActivityKind, ActivityStatus
from ..core.enums import enum_column_type
from ..extensions import db
from ..registrations.models import RegistrationState

#: The registration-state counters, one column per state, named after the state's value.
STATE_COLUMNS = tuple(state.value for state in RegistrationState)


class _StateCounters:
    """One integer column per registration state plus the new-employment-form registrations."""

    pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    confirmed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waitlisted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    not_drawn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attended: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    no_show: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: registrations (any state) made by new-employment-form workers
    nef_registrations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReportActivity(db.Model):
    __tablename__ = "report_activity"
    __table_args__ = (
        Index("ix_report_activity_day_node", "day", "node_id"),
        Index("ix_report_activity_node_day", "node_id", "day"),
        # Other domains' figures read one kind's activities in a range (reports.figures).
        Index("ix_report_activity_kind_day", "kind", "day", "node_id"),
    )

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    month: Mapped[int] = mapped_column(Integer)  # yyyymm of ``day``
    kind: Mapped[ActivityKind] = mapped_column(enum_column_type(ActivityKind))
    status: Mapped[ActivityStatus] = mapped_column(enum_column_type(ActivityStatus))


class ReportDaily(_StateCounters, db.Model):
    __tablename__ = "report_daily"
    __table_args__ = (Index("ix_report_daily_node_day", "node_id", "day"),)

    # Primary key in this order: range scans by day for any subtree.
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    node_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(enum_column_type(ActivityKind), primary_key=True)
    month: Mapped[int] = mapped_column(Integer)
    activities_held: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    activities_cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReportNodeAncestor(db.Model):
    """The union tree as a closure table: one row per (union, each of its ancestors and itself).

    Built from ``union_node.path`` (nodes are never moved); a node created later gets its rows the
    first time the hook meets it.  Lets the hook and the rebuild add a worker to every level above
    an activity with an equality join instead of prefix matching.
    """

    __tablename__ = "report_node_ancestor"
    __table_args__ = ({"sqlite_with_rowid": False},)

    node_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ancestor_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class ReportReach(db.Model):
    """Who was reached where: per (union, worker, day, kind), the worker's places and attendances in
    activities organised by that union or anywhere below it.

    Each union has its own rows, so the unique workers of a subtree over any range are the distinct
    ``user_id`` of one union's rows.  The dashboard reads them summed up in ``report_reach_span``
    (kept from these rows by ``services.settle_reach``), and reads these rows themselves only for the
    ragged days of a range with a choice of several kinds.  ``own_*`` count only the union's own activities (the "own activities"
    row of the child breakdown).
    """

    __tablename__ = "report_reach"
    __table_args__ = (
        # A worker's rows at a union over a range, with what they count: the ragged days of a kind set
        # check each worker's other days here, index-only (and erasing a worker finds their rows).
        Index("ix_report_reach_worker", "user_id", "node_id", "day", "kind", "counted"),
        # The rows ``settle_reach`` has still to carry into report_reach_span (few at any time).
        Index("ix_report_reach_pending", "node_id", "user_id",
              sqlite_where=text("pending = 1"), postgresql_where=text("pending = 1")),
        # A choice of several kinds: one union's rows of those kinds on the few ragged days of a range
        # (what report_reach_span's MONTH rows of a kind set leave out), with what they count.
        Index("ix_report_reach_scan", "node_id", "kind", "day", "user_id", "counted"),
        {"sqlite_with_rowid": False},
    )

    node_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Erasing a worker erases their rows here too.
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(enum_column_type(ActivityKind), primary_key=True)
    #: places held (confirmed or attended) in activities of this union's subtree that day
    places: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: of which attended
    attended: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the same, counting only activities organised by this union itself
    own_places: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    own_attended: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: 1 when the worker was a new-employment-form worker when first counted here
    nef: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    #: what report_reach_span counts of this row: ``ReachMeasure.bit`` of each counter counted as
    #: positive, plus ``COUNTED_NEF`` when counted as a new-employment-form worker
    counted: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    #: 1 when a counter changed since ``settle_reach`` last carried this row into report_reach_span
    pending: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class ReachMeasure(enum.IntEnum):
    """What a worker was reached with, stored in ``report_reach_span.measure``; the name (lower case)
    is the ``report_reach`` counter that says whether they were."""

    PLACES = 0
    ATTENDED = 1
    OWN_PLACES = 2
    OWN_ATTENDED = 3

    @property
    def column(self) -> str:
        return self.name.lower()

    @property
    def bit(self) -> int:
        return 1 << self.value


#: ``report_reach.counted`` bit: the row was counted as a new-employment-form worker's.
COUNTED_NEF = 1 << len(ReachMeasure)


class SpanGrain(enum.IntEnum):
    """``report_reach_span.grain``: rows per pair of days, or the same summed per pair of months."""

    DAY = 0
    MONTH = 1


#: ``report_reach_span.kinds``: every kind together (a worker reached twice on one day by two kinds
#: counts once), one kind (its code here; never renumber), or a set of two to four kinds
#: (``KIND_SET`` + the kinds' ``KIND_BITS``; MONTH rows only, see ``kinds_code``).
ALL_KINDS = 0
KIND_CODES = {ActivityKind.HEALTH: 1, ActivityKind.CLASS_: 2, ActivityKind.SWAP: 3, ActivityKind.CONTEST: 4,
              ActivityKind.MEETING: 5}
#: A kind's bit in a kind set: 1 << (its code - 1).
KIND_BITS = {kind: 1 << (code - 1) for kind, code in KIND_CODES.items()}
ALL_KIND_BITS = sum(KIND_BITS.values())
#: Added to a kind set's bits in ``report_reach_span.kinds`` (above every single kind's code).
KIND_SET = 32
#: The ``report_reach_span.kinds`` of every set of two to four kinds (25 of them).
KIND_SET_CODES = tuple(KIND_SET + bits for bits in range(1, ALL_KIND_BITS)
                       if 2 <= bin(bits).count("1") <= len(KIND_CODES) - 1)


def kinds_code(kinds) -> int:
    """The ``report_reach_span.kinds`` that answers a kind filter: ``ALL_KINDS`` for none or all of
    them, a kind's code for one, ``KIND_SET`` + their bits for two to four."""
    bits = sum(KIND_BITS[kind] for kind in set(kinds))
    if bits in (0, ALL_KIND_BITS):
        return ALL_KINDS
    if len(set(kinds)) == 1:
        return KIND_CODES[next(iter(kinds))]
    return KIND_SET + bits


class ReportReachSpan(db.Model):
    """Unique workers reached, summable over any date range.

    For one union, measure and kinds, take each worker's reach days in order, d1 < d2 < … < dn.  A
    ``DAY`` row (prev_day, day) holds, summed over workers, +1 for every reach day (prev_day = day)
    and −1 for every two consecutive reach days (prev_day = d(i), day = d(i+1)).  The workers reached
    between two dates *from* and *to* are then the sum of the rows with from <= prev_day and
    day <= to: each such worker is counted once per reach day in the range and discounted once per
    reach day in it that follows another, which leaves one.  ``MONTH`` rows hold the same sums per
    (month of prev_day, month of day), dated the first of the month, so the whole months of a range
    cost a few rows.  ``nef`` is the same sum over new-employment-form workers.

    A sum over a range needs at most the days of the range squared rows, whatever the number of
    workers; ``reports.queries`` reads whole months from the MONTH rows and only the ragged ends from
    the DAY rows.

    A set of two to four kinds (``kinds_code``) has MONTH rows only: its DAY rows would be most of
    the table (25 sets, up to days² rows each at the city), and building them would cost the rebuild
    minutes.  Its ragged days are read from ``report_reach`` instead (``queries``).
    """

    __tablename__ = "report_reach_span"
    __table_args__ = (
        # Pairs ending in a range (the range's last, ragged month), with the sums: index-only.
        Index("ix_report_reach_span_day", "node_id", "measure", "kinds", "grain", "day", "prev_day",
              "workers", "nef"),
        {"sqlite_with_rowid": False},
    )

    node_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    measure: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # ReachMeasure
    kinds: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # see kinds_code
    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # SpanGrain
    prev_day: Mapped[date] = mapped_column(Date, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    nef: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReportSettle(db.Model):
    """When ``services.settle_reach`` last carried marked ``report_reach`` rows into
    ``report_reach_span`` (one row, id 1): the unique-worker figures are as of then while rows wait."""

    __tablename__ = "report_settle"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    settled_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
