"""The registration engine: the only code that creates registrations or changes their state.

How capacity holds (see docs/reliability.md):

* every write runs in ``write_transaction()`` (``BEGIN IMMEDIATE`` on SQLite), retried a bounded
  number of times when SQLite still reports "database is locked" or PostgreSQL a deadlock;
* a place is claimed by a conditional ``UPDATE … SET taken = taken + 1 WHERE taken < capacity``
  (activity, then time slot, then unit quota), whose row count says whether it worked; the CHECK
  constraints on those tables are the last line;
* one live registration per worker and activity is the partial unique index
  ``uq_registration_taking_part``: a double submit ends in IntegrityError → ``AlreadyRegistered``;
* every state change goes through ``_change_state``, which checks the transition table in
  ``rules.py``, updates the row only if it is still in the state we read (so two organisers
  cannot both act on it), and moves the place counters with it.

Decisions (documented for the views and the API):

* approval: approving when no place is left puts the registration on the waiting list when the
  activity has one (it is promoted like any other), else it is refused with ``ActivityFull``;
* a worker may give up a place until the cancellation cut-off (or the start); a pending
  application or a waiting-list entry may be withdrawn until the start; organisers may cancel
  at any time; places freed before the start are offered to the waiting list;
* quota mode: the unit's quota is a second counter claimed with the activity's places; when either
  is used up the registration goes on the waiting list (if enabled) and is promoted only when its
  unit has room again;
* an organiser entering a walk-in (``entered_by``) is not bound by the sign-up window, but every
  other rule holds; nobody is signed up for a health service by someone else (own consent).

Where each part lives (``from unionevents.registrations import services`` reaches them all):

* ``state``        the one state changer ``_change_state``, the rows it reads, the activity lock;
* ``counters``     place counters (activity, time slot, unit quota): claim and release;
* ``signup``       sign-up and places, eligibility facts, ``signup_state``;
* ``waitlist``     waiting-list order and position, promotion (automatic and by the organiser);
* ``offers``       a freed place offered with a deadline: accepting it, passing it on when it runs out;
* ``decisions``    cancel, approve, reject; cancelling the registrations of a cancelled activity;
* ``checkin``      the check-in window, check-in (door, ticket, typed code, offline), undo, no-show;
* ``walkin``       registering someone at the door by mobile number;
* ``door``         the door kit: a verdict per scanned or typed ticket, undo within minutes, walk-ins
                   admitted over capacity on an organiser's recorded reason;
* ``lottery``      the seeded draw;
* ``roster``       the organiser's bulk actions, no-shows after the start, messages to registrants;
* ``notices``      the engine's own messages to workers, translated for each recipient;
* ``own``          a worker's own registrations and tickets (read only);
* ``cards``        what each catalogue card tells the worker looking (``signup_verdict``), a page at once;
* ``erasure``      what account erasure does to registrations (``accounts.privacy`` hooks);
* ``errors``, ``transactions``: the domain errors; one write transaction with bounded retries.

Every change is announced as ``registrations.events.TRANSITION`` (``core.events``) inside its
transaction; the report counters listen, so the engine does not import ``reports``.
"""
from __future__ import annotations

# Names the single-module engine carried, still reached as ``services.X`` by tests and callers.
from ...core.errors import Conflict, DomainError, NotAllowed, NotFound, ValidationFailed  # noqa: F401
from .. import rules  # noqa: F401
from ..models import (  # noqa: F401
    PLACE_STATES, TAKING_PART_STATES, CheckInReceipt, Registration, RegistrationState as S,
)
from ..rules import Refusal  # noqa: F401
from .checkin import (
    MSG_CHECKIN_STATES, RECORDED_CLOCK_SKEW, CheckInClosed, CheckInResult, UnknownTicket, UnknownTicketCode,
    WrongActivity, check_in, check_in_code, check_in_donor, check_in_offline, check_in_registration, check_in_ticket, checkin_refusal, checkin_window,
    clean_override_reason, mark_no_show, registration_checkin_window, ticket_digest, undo_check_in,
    undo_check_in_registration, UndoRefused,
)
from .cards import card_verdicts, waitlist_positions
from .counters import _Counter
from .decisions import approve, cancel, cancel_for_activity, reject
from .errors import (
    FULL_MESSAGES, MSG_ACTIVITY_FULL, MSG_QUOTA_FULL, MSG_SLOT_FULL, ActivityFull, AlreadyRegistered, Busy,
    CancellationClosed, DrawRefused, IllegalTransition, NotEligible, SignupClosed,
)
from .lottery import DrawCheck, DrawResult, PublishedDraw, draw_lottery, published_draw, verify_draw
from .offers import MAX_OFFER_HOURS, MSG_NO_OFFER, accept_offer, expire_offers, open_offer, set_offer_hours
from .own import TICKET_LENGTH, get_own_registration, is_upcoming, my_registrations, registration_for_ticket, ticket_token
from .roster import (
    BULK_ACTIONS, BULK_LIMIT, NOTICE_ALL_STATES, NOTICE_BODY_MAX, NOTICE_SUBJECT_MAX, BulkLimitReached, BulkResult,
    NotStartedYet,
    bulk_apply, clean_ids, mark_rest_no_show, record_full_mobile_export, send_notice,
)
from .signup import SignupState, _activity_for_signup, register, register_all, signup_state
from .series_signup import open_occurrence_ids, register_for_series, series_signup_left
from .transactions import RETRY_BACKOFF, WRITE_ATTEMPTS, _in_write_transaction
from .waitlist import (
    PROMOTION_SCAN_LIMIT, fill_free_places, promote, waitlist_length, waitlist_position, waitlist_position_by_id,
)
from .walkin import WalkInResult, walk_in
from .door import (  # noqa: F401
    ADMITTED, ALREADY, REFUSED, DoorVerdict, UndoTooLate, admit_over_capacity, door_scan, undo_door_check_in,
    undo_minutes,
)

__all__ = [
    "ActivityFull", "AlreadyRegistered", "Busy", "CancellationClosed", "DrawCheck", "DrawRefused", "DrawResult",
    "IllegalTransition", "NotEligible", "SignupClosed", "SignupState", "approve", "cancel", "check_in",
    "draw_lottery", "published_draw", "PublishedDraw", "verify_draw", "get_own_registration", "mark_no_show",
    "my_registrations", "open_occurrence_ids", "register", "register_all", "register_for_series",
    "series_signup_left",
    "registration_for_ticket", "reject", "signup_state", "ticket_token", "undo_check_in",
    "waitlist_length", "waitlist_position",
    "BulkLimitReached", "BulkResult", "CheckInClosed", "CheckInResult", "NotStartedYet", "UnknownTicket",
    "WalkInResult", "WrongActivity",
    "bulk_apply", "check_in_registration", "check_in_ticket", "mark_rest_no_show", "promote",
    "record_full_mobile_export", "send_notice", "ticket_digest", "undo_check_in_registration", "walk_in",
    "check_in_offline", "cancel_for_activity", "fill_free_places",
    "accept_offer", "expire_offers", "open_offer", "set_offer_hours",
    "card_verdicts", "waitlist_positions", "is_upcoming",
]
