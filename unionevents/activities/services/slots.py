"""Time slots: generating, adding and deleting them; with slots, the activity's capacity is the sum
of theirs.  A slot somebody booked cannot go."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l

from ...accounts.models import User
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...core.timeutil import utc_to_local
from ...extensions import db
from ..models import Activity, TimeSlot
from .lifecycle import MAX_CAPACITY, _ensure_changeable, _lock_activity
from .listing import slot_booking_counts


MAX_SLOTS = 300


def _slot_errors(activity: Activity, spans: list[tuple[datetime, datetime]],
                 start_field: str) -> dict[str, list[str]]:
    """Rules for new slots: inside the activity's time, not overlapping each other or existing slots."""
    errors: dict[str, list[str]] = {}
    if any(start < activity.starts_at or end > activity.ends_at for start, end in spans):
        errors[start_field] = [str(_l("Time slots must lie within the activity's time (%(start)s to %(end)s).",
                                      start=_local_text(activity.starts_at), end=_local_text(activity.ends_at)))]
        return errors
    existing = list(activity.slots)
    for start, end in spans:
        clash = next((s for s in existing if s.starts_at < end and start < s.ends_at), None)
        if clash is not None:
            errors[start_field] = [str(_l("This overlaps the existing slot %(start)s–%(end)s.",
                                          start=_local_text(clash.starts_at, time_only=True),
                                          end=_local_text(clash.ends_at, time_only=True)))]
            return errors
    if len(existing) + len(spans) > MAX_SLOTS:
        errors[start_field] = [str(_l("An activity can have at most %(n)d time slots.", n=MAX_SLOTS))]
    return errors


def _local_text(value: datetime, time_only: bool = False) -> str:
    local = utc_to_local(value)
    return local.strftime("%H:%M") if time_only else local.strftime("%Y-%m-%d %H:%M")


def _sync_capacity_with_slots(activity: Activity) -> None:
    """With slots the activity's capacity is the sum of the slots' places."""
    activity.capacity = sum(s.capacity for s in activity.slots)


def add_slots(activity: Activity, first_start: datetime, last_end: datetime, minutes: int,
              capacity_each: int) -> list[TimeSlot]:
    """Bulk-generate slots: from ``first_start`` every ``minutes`` until ``last_end``, ``capacity_each`` places.

    Slots lie inside the activity's time and overlap neither each other nor the
    slots already there; the activity's capacity becomes the sum of its slots.
    Does not commit (see ``generate_slots``).
    """
    errors: dict[str, list[str]] = {}
    if minutes <= 0:
        errors["minutes"] = [str(_l("The slot length must be at least one minute."))]
    elif last_end > first_start and first_start + timedelta(minutes=minutes) > last_end:
        errors["minutes"] = [str(_l("The time range is shorter than one slot."))]
    if capacity_each <= 0:
        errors["capacity_each"] = [str(_l("Each slot needs at least one place."))]
    elif capacity_each > MAX_CAPACITY:
        errors["capacity_each"] = [str(_l("The number of places can be at most %(n)d.", n=MAX_CAPACITY))]
    if last_end <= first_start:
        errors["last_end"] = [str(_l("The last slot must end after the first one starts."))]
    if errors:
        raise ValidationFailed(errors)
    spans = []
    start = first_start
    while start + timedelta(minutes=minutes) <= last_end and len(spans) <= MAX_SLOTS:
        spans.append((start, start + timedelta(minutes=minutes)))
        start += timedelta(minutes=minutes)
    errors = _slot_errors(activity, spans, "first_start")
    if errors:
        raise ValidationFailed(errors)
    slots = []
    for start, end in spans:
        slot = TimeSlot(activity=activity, starts_at=start, ends_at=end, capacity=capacity_each)
        db.session.add(slot)
        slots.append(slot)
    _sync_capacity_with_slots(activity)
    return slots


def _slot_of(activity: Activity, slot_id: int) -> TimeSlot:
    slot = next((s for s in activity.slots if s.id == slot_id), None)
    if slot is None:
        raise NotFound(_l("This time slot does not exist."))
    return slot


def generate_slots(actor: User, activity_id: int, first_start: datetime, last_end: datetime, minutes: int,
                   capacity_each: int) -> list[TimeSlot]:
    """E.g. 09:00–12:00 every 20 minutes with 3 places each; the capacity becomes the sum of the slots."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        slots = add_slots(activity, first_start, last_end, minutes, capacity_each)
        db.session.flush()
        log_action(actor.id, "slot.generate", activity, count=len(slots), slot_ids=[s.id for s in slots])
    return slots


def add_slot(actor: User, activity_id: int, starts_at: datetime, ends_at: datetime, capacity: int) -> TimeSlot:
    """Add one time slot; it lies inside the activity's time and overlaps no other slot."""
    errors: dict[str, list[str]] = {}
    if ends_at <= starts_at:
        errors["ends_at"] = [str(_l("The slot must end after it starts."))]
    if capacity <= 0:
        errors["capacity"] = [str(_l("Each slot needs at least one place."))]
    elif capacity > MAX_CAPACITY:
        errors["capacity"] = [str(_l("The number of places can be at most %(n)d.", n=MAX_CAPACITY))]
    if errors:
        raise ValidationFailed(errors)
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        errors = _slot_errors(activity, [(starts_at, ends_at)], "starts_at")
        if errors:
            raise ValidationFailed(errors)
        slot = TimeSlot(activity=activity, starts_at=starts_at, ends_at=ends_at, capacity=capacity)
        db.session.add(slot)
        _sync_capacity_with_slots(activity)
        db.session.flush()
        log_action(actor.id, "slot.add", slot, activity_id=activity.id)
    return slot


def delete_slot(actor: User, activity_id: int, slot_id: int) -> None:
    """Delete a time slot nobody has booked; the capacity shrinks by its places."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        slot = _slot_of(activity, slot_id)
        booked = max(slot_booking_counts(activity.id).get(slot.id, 0), slot.taken)
        if booked:
            raise Conflict(_l("%(n)d people have booked this slot, so it cannot be deleted.", n=booked))
        activity.slots.remove(slot)
        _sync_capacity_with_slots(activity)
        log_action(actor.id, "slot.delete", activity, slot_id=slot_id)
