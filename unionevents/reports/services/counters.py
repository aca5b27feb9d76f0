"""The summary counters, kept in the caller's transaction.

The registration engine announces every state change (``core.events``) and ``record_transition``
counts it: one UPDATE of the activity's ``report_daily`` row and, when a place or an attendance was
gained or lost, one UPSERT of the worker's ``report_reach`` rows, which it marks ``pending`` for
``settle.settle_reach`` to carry into ``report_reach_span`` later (never on a read).  The activity
services call ``sync_activity`` after creating, editing, publishing or cancelling an activity.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable

from sqlalchemy import Integer, bindparam, case, delete, func, literal, select, tuple_, update

from ...accounts.models import NEW_EMPLOYMENT_FORM, User
from ...activities.models import Activity, ActivityKind, ActivityStatus
from ...core.timeutil import utc_to_local
from ...extensions import db
from ...registrations.models import PLACE_STATES, Registration, RegistrationState as S
from ...unions.models import UnionNode
from ..models import STATE_COLUMNS, ReportActivity, ReportDaily, ReportNodeAncestor, ReportReach

log = logging.getLogger(__name__)

#: Occupation values that make a new-employment-form worker, for SQL.
NEF_VALUES = tuple(sorted(o.value for o in NEW_EMPLOYMENT_FORM))
COUNTER_COLUMNS = STATE_COLUMNS + ("nef_registrations",)


def local_day(starts_at: datetime) -> date:
    """The day an activity counts on: its start date in Asia/Shanghai."""
    return utc_to_local(starts_at).date()


def month_of(day: date) -> int:
    return day.year * 100 + day.month


def _nef_flag(user_id_column) -> Any:
    """1 when the worker is a new-employment-form worker (a correlated scalar subquery)."""
    return (select(case((User.occupation.in_(NEF_VALUES), 1), else_=0)).where(User.id == user_id_column)
            .scalar_subquery())


# --------------------------------------------------------------------------- portable upsert

def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _insert(table):
    return _insert_for(db.session.get_bind().dialect.name, table)


def _insert_for(dialect: str, table):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _upsert_add(model, key: dict, counters: dict, extra: dict | None = None) -> None:
    """INSERT the row with ``counters`` or, when its key exists, add ``counters`` to it: one statement."""
    table = model.__table__
    stmt = _insert(table).values({**key, **counters, **(extra or {})})
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + stmt.excluded[name] for name in counters})
    db.session.execute(stmt)


# --------------------------------------------------------------------------- the hook

def record_transition(activity_id: int, old: S | None, new: S, user_id: int) -> None:
    """Count one registration of ``user_id`` moving from ``old`` (None: just created) to ``new``.

    Cheap by design, since it runs inside the sign-up transaction: one UPDATE of the day's row
    (found through the activity's key row, no read first), plus one UPSERT of the worker's
    reach rows (one statement) only when a place or an attendance was gained or lost.  An activity that was
    never counted (created before the reports existed) is counted from its registrations instead,
    which already include this change.  Both statements are built once per shape (values bound per
    call): building them cost more than running them on the sign-up path.
    """
    if old == new:
        return
    params = {"activity_id": activity_id, "user_id": user_id}
    done = db.session.execute(_daily_statement(old, new), params).rowcount
    if not done:
        _heal(activity_id)
        return
    places = (new in PLACE_STATES) - (old in PLACE_STATES)
    attended = (new == S.ATTENDED) - (old == S.ATTENDED)
    if places or attended:
        if not _reach_activity(activity_id, user_id, places, attended):
            ra = ReportActivity.__table__
            node_id = db.session.scalar(select(ra.c.node_id).where(ra.c.activity_id == activity_id))
            _ancestors(node_id)  # a union created after the closure was built: add its rows, then count
            _reach_activity(activity_id, user_id, places, attended)


@functools.cache
def _daily_statement(old: S | None, new: S):
    """UPDATE the activity's day row: one count from ``old``'s column to ``new``'s (+1 new-employment-form
    registration on creation).  Bound: ``activity_id``, ``user_id``."""
    daily, ra = ReportDaily.__table__, ReportActivity.__table__
    values: dict[str, Any] = {new.value: daily.c[new.value] + 1}
    if old is None:
        values["nef_registrations"] = daily.c.nef_registrations + _nef_flag(bindparam("user_id", type_=Integer))
    else:
        values[old.value] = daily.c[old.value] - 1
    key = select(ra.c.day, ra.c.node_id, ra.c.kind).where(ra.c.activity_id == bindparam("activity_id"))
    return update(daily).where(tuple_(daily.c.day, daily.c.node_id, daily.c.kind).in_(key)).values(values)


REACH_KEY = ["node_id", "user_id", "day", "kind"]
REACH_COLUMNS = REACH_KEY + ["places", "attended", "own_places", "own_attended", "nef", "pending"]
REACH_COUNTERS = ("places", "attended", "own_places", "own_attended")


def _reach_upsert(stmt):
    """Add to the counters, and mark the row for ``settle_reach`` (in the same statement)."""
    table = ReportReach.__table__
    return stmt.on_conflict_do_update(
        index_elements=REACH_KEY,
        set_={**{name: table.c[name] + stmt.excluded[name] for name in REACH_COUNTERS},
              "pending": literal(1)})


def _reach_activity(activity_id: int, user_id: int, places: int, attended: int) -> int:
    """Add the worker's place/attendance change to every union from the activity's organiser up
    (one INSERT … SELECT … ON CONFLICT DO UPDATE); the number of rows touched (0: no closure rows)."""
    params = {"activity_id": activity_id, "user_id": user_id, "places": places, "attended": attended}
    return db.session.execute(_reach_statement(db.session.get_bind().dialect.name), params).rowcount


@functools.cache
def _reach_statement(dialect: str):
    """The reach UPSERT for one dialect.  Bound: ``activity_id``, ``user_id``, ``places``, ``attended``."""
    ra, closure = ReportActivity.__table__, ReportNodeAncestor.__table__
    own = closure.c.ancestor_id == ra.c.node_id
    user_id = bindparam("user_id", type_=Integer)
    places, attended = bindparam("places", type_=Integer), bindparam("attended", type_=Integer)
    rows = (select(closure.c.ancestor_id, user_id, ra.c.day, ra.c.kind, places, attended,
                   case((own, places), else_=literal(0)), case((own, attended), else_=literal(0)),
                   _nef_flag(user_id), literal(1))
            .select_from(ra.join(closure, closure.c.node_id == ra.c.node_id))
            .where(ra.c.activity_id == bindparam("activity_id")))
    return _reach_upsert(_insert_for(dialect, ReportReach.__table__).from_select(REACH_COLUMNS, rows))


def _ancestors(node_id: int) -> list[int]:
    """The ids of the union and every union above it (closure rows made from its path if missing)."""
    closure = ReportNodeAncestor.__table__
    ids = list(db.session.scalars(select(closure.c.ancestor_id).where(closure.c.node_id == node_id)))
    if ids:
        return ids
    path = db.session.scalar(select(UnionNode.path).where(UnionNode.id == node_id)) or ""
    ids = [int(part) for part in path.strip("/").split("/") if part] or [node_id]
    db.session.execute(closure.insert(), [{"node_id": node_id, "ancestor_id": a} for a in ids])
    return ids


def _heal(activity_id: int) -> None:
    """The hook found no summary row for the activity: count the activity afresh."""
    if db.session.scalar(select(ReportActivity.activity_id).where(ReportActivity.activity_id == activity_id)):
        # Its key row exists but the day's row was deleted by hand: put this activity back in it.
        log.warning("report_daily row missing for activity %s; run `flask reports rebuild`", activity_id)
        row = db.session.get(ReportActivity, activity_id)
        _add_daily(_Key(row.node_id, row.day, ActivityKind(row.kind)),
                   {**_activity_counts(activity_id), **_status_counters(ActivityStatus(row.status))})
        return
    sync_activity(activity_id)


# --------------------------------------------------------------------------- activities

@dataclass(frozen=True)
class _Key:
    node_id: int
    day: date
    kind: ActivityKind

    @property
    def month(self) -> int:
        return month_of(self.day)


def _status_counters(status: ActivityStatus, sign: int = 1) -> dict[str, int]:
    return {"activities_held": sign * int(status == ActivityStatus.PUBLISHED),
            "activities_cancelled": sign * int(status == ActivityStatus.CANCELLED)}


def _activity_counts(activity_id: int) -> dict[str, int]:
    """The activity's registrations per state, and by new-employment-form workers (one query)."""
    counts = dict.fromkeys(COUNTER_COLUMNS, 0)
    rows = db.session.execute(
        select(Registration.state, func.count(Registration.id),
               func.sum(case((User.occupation.in_(NEF_VALUES), 1), else_=0)))
        .join(User, User.id == Registration.user_id)
        .where(Registration.activity_id == activity_id).group_by(Registration.state)).all()
    for state, count, nef in rows:
        counts[S(state).value] = count
        counts["nef_registrations"] += int(nef or 0)
    return counts


def _activity_participants(activity_id: int) -> list[dict]:
    """Per worker: places held and attended in this activity (one query)."""
    rows = db.session.execute(
        select(Registration.user_id,
               func.sum(case((Registration.state.in_(PLACE_STATES), 1), else_=0)),
               func.sum(case((Registration.state == S.ATTENDED, 1), else_=0)),
               func.max(case((User.occupation.in_(NEF_VALUES), 1), else_=0)))
        .join(User, User.id == Registration.user_id)
        .where(Registration.activity_id == activity_id, Registration.state.in_(PLACE_STATES))
        .group_by(Registration.user_id)).all()
    return [{"user_id": uid, "places": int(places), "attended": int(att), "nef": int(nef)}
            for uid, places, att, nef in rows]


def _add_participants(key: _Key, people: list[dict], sign: int) -> None:
    """Add (``sign`` +1) or take away (-1) the activity's workers at every level above its organiser."""
    rows = []
    for ancestor in _ancestors(key.node_id):
        own = ancestor == key.node_id
        rows += [{"node_id": ancestor, "user_id": p["user_id"], "day": key.day, "kind": key.kind,
                  "places": sign * p["places"], "attended": sign * p["attended"],
                  "own_places": sign * p["places"] if own else 0, "own_attended": sign * p["attended"] if own else 0,
                  "nef": p["nef"], "pending": 1} for p in people]
    if rows:
        db.session.execute(_reach_upsert(_insert(ReportReach.__table__)), rows)


def _add_daily(key: _Key, counters: dict[str, int]) -> None:
    _upsert_add(ReportDaily, {"day": key.day, "node_id": key.node_id, "kind": key.kind}, counters,
                {"month": key.month})


def sync_activity(activity: Activity | int) -> None:
    """Bring the summaries in line with the activity's organiser, day, kind and status.

    Call after creating an activity or changing any of those (publish, unpublish, cancel, edit), in
    the same transaction.  Does nothing when nothing the reports key on has changed; moves the
    activity's counts to its new key when its union, day or kind changed.
    """
    activity_id = activity if isinstance(activity, int) else activity.id
    if not isinstance(activity, int):
        db.session.flush()
    current = db.session.execute(
        select(Activity.node_id, Activity.starts_at, Activity.kind, Activity.status)
        .where(Activity.id == activity_id)).first()
    if current is None:
        return
    key = _Key(current.node_id, local_day(current.starts_at), ActivityKind(current.kind))
    status = ActivityStatus(current.status)
    row = db.session.execute(select(ReportActivity.node_id, ReportActivity.day, ReportActivity.kind,
                                    ReportActivity.status)
                             .where(ReportActivity.activity_id == activity_id)).first()
    if row is None:
        db.session.execute(ReportActivity.__table__.insert().values(
            activity_id=activity_id, node_id=key.node_id, day=key.day, month=key.month, kind=key.kind,
            status=status))
        _add_daily(key, {**_activity_counts(activity_id), **_status_counters(status)})
        _add_participants(key, _activity_participants(activity_id), +1)
        return
    old_key = _Key(row.node_id, row.day, ActivityKind(row.kind))
    old_status = ActivityStatus(row.status)
    if old_key == key and old_status == status:
        return
    if old_key == key:
        held, was = _status_counters(status), _status_counters(old_status)
        _add_daily(key, {name: held[name] - was[name] for name in held})
    else:
        counts = _activity_counts(activity_id)
        _add_daily(old_key, {**{n: -v for n, v in counts.items()}, **_status_counters(old_status, -1)})
        _add_daily(key, {**counts, **_status_counters(status)})
        people = _activity_participants(activity_id)
        _add_participants(old_key, people, -1)
        _add_participants(key, people, +1)
    db.session.execute(update(ReportActivity.__table__)
                       .where(ReportActivity.__table__.c.activity_id == activity_id)
                       .values(node_id=key.node_id, day=key.day, month=key.month, kind=key.kind, status=status))


def regroup_subtree(node_ids: list[int], change_tree: Callable[[], None]) -> None:
    """Keep the reach rows right while the unions ``node_ids`` (a whole subtree) change their place in
    the tree: ``change_tree()`` rewrites their paths (a move, or a merge's moving of children).

    The day rows are per organising union and do not change; the reach rows count a worker at every
    level above the activity, so each activity of the subtree is taken away from its old ancestors,
    the subtree's closure rows are dropped, the tree changes, and the activity is added to its new
    ancestors (the closure rows are remade from the new paths).  Same transaction as the change.
    """
    ra, closure = ReportActivity.__table__, ReportNodeAncestor.__table__
    keyed: list[tuple[_Key, list[dict]]] = []
    for start in range(0, len(node_ids), 500):
        for row in db.session.execute(select(ra.c.activity_id, ra.c.node_id, ra.c.day, ra.c.kind)
                                      .where(ra.c.node_id.in_(node_ids[start:start + 500]))):
            key = _Key(row.node_id, row.day, ActivityKind(row.kind))
            people = _activity_participants(row.activity_id)
            if people:
                keyed.append((key, people))
                _add_participants(key, people, -1)
    change_tree()
    for start in range(0, len(node_ids), 500):
        db.session.execute(delete(closure).where(closure.c.node_id.in_(node_ids[start:start + 500])))
    for key, people in keyed:
        _add_participants(key, people, +1)
