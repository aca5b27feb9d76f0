"""Unit quotas: how many delegates each invited unit may register (the “quota per unit” mode)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ...accounts.models import User
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...extensions import db
from ...registrations.models import TAKING_PART_STATES, Registration
from ...unions.models import UnionNode
from ..models import Activity, SignupMode, UnitQuota
from .lifecycle import _ensure_changeable, _lock_activity


def set_unit_quota(activity: Activity, node: UnionNode, quota: int) -> UnitQuota:
    """Set how many delegates ``node`` may register (does not commit; see ``save_unit_quota``).

    Refused when the quotas would add up to more than the activity's places, or
    when the unit has already used more than the new quota.
    """
    if quota < 0:
        raise ValidationFailed({"quota": [str(_l("A quota cannot be negative."))]})
    existing = next((row for row in activity.unit_quotas if row.node_id == node.id), None)
    others = sum(row.quota for row in activity.unit_quotas if row is not existing)
    if others + quota > activity.capacity:
        raise ValidationFailed({"quota": [str(_l(
            "The quotas would add up to %(total)d places, more than the activity's %(capacity)d. "
            "Lower a quota or raise the capacity first.", total=others + quota, capacity=activity.capacity))]})
    if existing is not None:
        if quota < existing.used:
            raise ValidationFailed({"quota": [str(_l(
                "This unit has already registered %(n)d delegates; the quota cannot be lower.",
                n=existing.used))]})
        existing.quota = quota
        return existing
    row = UnitQuota(activity=activity, node=node, quota=quota)
    db.session.add(row)
    return row


def _quota_of(activity: Activity, quota_id: int) -> UnitQuota:
    row = next((q for q in activity.unit_quotas if q.id == quota_id), None)
    if row is None:
        raise NotFound(_l("This unit quota does not exist."))
    return row


def save_unit_quota(actor: User, activity_id: int, node_id: int | None, quota: int) -> UnitQuota:
    """Give a unit (any union, usually one below the organiser) a number of delegate places, or change it."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        if activity.mode != SignupMode.QUOTA:
            raise Conflict(_l("Unit quotas only apply in the “quota per unit” sign-up mode. "
                              "Change the mode first."))
        node = db.session.get(UnionNode, node_id) if node_id else None
        if node is None:
            raise ValidationFailed({"node_id": [str(_l("Please choose a union from the list."))]})
        row = set_unit_quota(activity, node, quota)
        db.session.flush()
        log_action(actor.id, "quota.set", row, activity_id=activity.id, node_id=node.id, quota=quota)
    return row


def remove_unit_quota(actor: User, activity_id: int, quota_id: int) -> None:
    """Remove a unit's quota, unless the unit has already registered delegates."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        row = _quota_of(activity, quota_id)
        used = max(row.used, db.session.scalar(select(func.count(Registration.id)).where(
            Registration.activity_id == activity.id, Registration.unit_node_id == row.node_id,
            Registration.state.in_(TAKING_PART_STATES))) or 0)
        if used:
            raise Conflict(_l("This unit has already registered %(n)d delegates, so its quota cannot be "
                              "removed.", n=used))
        activity.unit_quotas.remove(row)
        log_action(actor.id, "quota.remove", activity, quota_id=quota_id, node_id=row.node_id)
