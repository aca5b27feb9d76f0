"""Activity use cases: the only code that changes an activity, its slots, questions and quotas.

Split by what an activity goes through:

- ``visibility``    which activities a worker may see (the upcoming list, invitation-only ones)
- ``lifecycle``     the common fields and their limits; create, edit, publish, unpublish, copy
- ``cancellation``  cancelling a whole activity and its live registrations
- ``listing``       the organiser's activity list and per-activity counts
- ``slots``         time slots (the capacity follows them)
- ``questions``     the sign-up form's questions
- ``quotas``        unit quotas (the "quota per unit" mode)

Callers import from here (``activities.services.X``); the names below are the package's public face.
The worker's catalogue (filters, search, pages) is ``activities.queries``.
"""
from __future__ import annotations

from .visibility import LoginNeeded, get_activity, get_visible_activity, may_see_invitation, upcoming_activities
from .lifecycle import (
    DESCRIPTION_MAX, MAX_CAPACITY, TITLE_MAX, VENUE_MAX, ActivityData, copy_activity, create_activity,
    create_managed_activity, publish, publish_problems, unpublish, update_activity, validate_activity_fields,
)
from .cancellation import CANCEL_REASON_MAX, cancel_activity, cancel_live_registrations
from .listing import (
    MANAGE_PAGE_SIZE, Page, answered_question_ids, confirmed_count, managed_activities, nodes_in_scope,
    registration_counts, slot_booking_counts, taking_part_count,
)
from .slots import MAX_SLOTS, add_slot, add_slots, delete_slot, generate_slots
from .questions import (
    CHOICE_KINDS, CHOICE_MAX, MAX_CHOICES, QUESTION_LABEL_MAX, add_question, clean_choices, create_question,
    delete_question, move_question, update_question,
)
from .quotas import remove_unit_quota, save_unit_quota, set_unit_quota
from . import series
