"""Pure decisions of the registration engine: no database, no request, plain values in and out.

The services load facts from the database into the small dataclasses below, ask these
functions, and act on the answer.  Tests call them directly, in milliseconds.
"""
from __future__ import annotations

import enum
import math
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Sequence

from flask_babel import lazy_gettext as _l

from ..accounts.models import NEW_EMPLOYMENT_FORM, Occupation
from ..activities.models import ActivityKind, ActivityStatus, QuestionKind, SignupMode, Visibility
from ..core.text import NotText, clean_text
from ..core.timeutil import utc_to_local
from .models import PLACE_STATES, RegistrationState as S

# --------------------------------------------------------------------------- limits

#: Longest answer to a free-text question.
TEXT_ANSWER_MAX = 500
#: Numbers answered to a number question must lie within these bounds.
NUMBER_ANSWER_MIN = Decimal(-1_000_000)
NUMBER_ANSWER_MAX = Decimal(1_000_000)
#: At most this many digits after the decimal point.
NUMBER_ANSWER_MAX_DECIMALS = 4
#: Display format of times in messages (local Asia/Shanghai wall-clock time).
MESSAGE_TIME_FORMAT = "%Y-%m-%d %H:%M"


def local_time(value: datetime) -> str:
    """A naive-UTC datetime as the local wall-clock string used in messages."""
    return utc_to_local(value).strftime(MESSAGE_TIME_FORMAT)


# --------------------------------------------------------------------------- state machine

#: Every legal state change: domain.md plus decisions.md (pending → cancelled,
#: attended → confirmed to undo a check-in, no_show → attended).
TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.WAITLISTED, S.REJECTED, S.NOT_DRAWN, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.CANCELLED, S.ATTENDED, S.NO_SHOW}),
    S.WAITLISTED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.ATTENDED: frozenset({S.CONFIRMED}),
    S.NO_SHOW: frozenset({S.ATTENDED}),
    S.REJECTED: frozenset(),
    S.NOT_DRAWN: frozenset(),
    S.CANCELLED: frozenset(),
}

#: Why a registration in a given state cannot take a step, in words a worker understands.
STATE_EXPLANATIONS = {
    S.PENDING: _l("This registration is still waiting for a decision."),
    S.CONFIRMED: _l("This registration is confirmed."),
    S.WAITLISTED: _l("This registration is on the waiting list."),
    S.REJECTED: _l("This registration was rejected."),
    S.NOT_DRAWN: _l("This registration was not drawn in the lottery."),
    S.CANCELLED: _l("This registration has been cancelled."),
    S.ATTENDED: _l("This registration is already checked in."),
    S.NO_SHOW: _l("This registration was marked as a no-show."),
}


def can_transition(old: S, new: S) -> bool:
    return new in TRANSITIONS[old]


def place_delta(old: S, new: S) -> int:
    """+1 when the change takes a place, -1 when it frees one, 0 otherwise."""
    return int(new in PLACE_STATES) - int(old in PLACE_STATES)


def transition_refusal(old: S, new: S):
    """None when ``old → new`` is legal, else a message saying why not."""
    if can_transition(old, new):
        return None
    return _l("%(state)s It cannot be changed to “%(target)s”.",
              state=STATE_EXPLANATIONS[old], target=new.title)


def cancel_deadline(starts_at: datetime, cancel_cutoff_at: datetime | None) -> datetime:
    return cancel_cutoff_at or starts_at


def worker_may_cancel(state: S, at: datetime, starts_at: datetime, cancel_cutoff_at: datetime | None) -> bool:
    """A worker may give up a place until the cut-off (or the start); leaving a waiting list or
    withdrawing an application frees nobody's planning, so that stays possible until the start."""
    if state in PLACE_STATES:
        return at < cancel_deadline(starts_at, cancel_cutoff_at)
    return at < starts_at


# --------------------------------------------------------------------------- eligibility

class Refusal(str, enum.Enum):
    """Why someone cannot sign up; the service maps each to an error class."""

    NOT_LOGGED_IN = "not_logged_in"
    NOT_PUBLISHED = "not_published"
    ACTIVITY_CANCELLED = "activity_cancelled"
    NOT_OPEN_YET = "not_open_yet"
    CLOSED = "closed"
    MEMBERS_ONLY = "members_only"
    OCCUPATION = "occupation"
    NODE = "node"
    INVITATION = "invitation"
    NO_QUOTA = "no_quota"
    ALREADY_REGISTERED = "already_registered"
    FULL = "full"


class Window(str, enum.Enum):
    NOT_OPEN = "not_open"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class NodeRef:
    id: int
    path: str
    name: str = ""


@dataclass(frozen=True)
class ActivityFacts:
    """What eligibility needs to know about an activity, as plain values."""

    id: int
    title: str
    kind: ActivityKind
    mode: SignupMode
    status: ActivityStatus
    visibility: Visibility
    starts_at: datetime
    signup_opens_at: datetime
    signup_closes_at: datetime
    members_only: bool = False
    occupations: frozenset[Occupation] = frozenset()
    eligible_nodes: tuple[NodeRef, ...] = ()
    quota_nodes: tuple[NodeRef, ...] = ()  # only loaded for quota / invitation activities
    waitlist_enabled: bool = True


@dataclass(frozen=True)
class WorkerFacts:
    id: int
    union_id: int | None
    union_path: str | None
    occupation: Occupation


def window_state(at: datetime, opens_at: datetime, closes_at: datetime) -> Window:
    if at < opens_at:
        return Window.NOT_OPEN
    if at >= closes_at:
        return Window.CLOSED
    return Window.OPEN


def _join(items: Iterable[Any]) -> str:
    return str(_l(", ")).join(str(item) for item in items)


def occupation_message(occupations: frozenset[Occupation]):
    if occupations == NEW_EMPLOYMENT_FORM:
        ordered = [o for o in Occupation if o in occupations]
        return _l("This activity is only for new-employment-form workers: %(list)s.",
                  list=_join(o.title for o in ordered))
    ordered = [o for o in Occupation if o in occupations]
    return _l("This activity is only for these occupations: %(list)s.", list=_join(o.title for o in ordered))


def quota_unit(union_path: str | None, quota_nodes: Sequence[NodeRef]) -> NodeRef | None:
    """The registrant's unit: the quota node that is the worker's union or its nearest ancestor."""
    if not union_path:
        return None
    best = None
    for node in quota_nodes:
        if union_path.startswith(node.path) and (best is None or len(node.path) > len(best.path)):
            best = node
    return best


def eligibility_refusals(worker: WorkerFacts | None, activity: ActivityFacts, at: datetime,
                         *, ignore_window: bool = False) -> list[tuple[Refusal, Any]]:
    """Every reason ``worker`` may not sign up for ``activity`` at ``at``, each with its message.

    Capacity and existing registrations are not judged here (they need the database's answer).
    """
    reasons: list[tuple[Refusal, Any]] = []
    if activity.status == ActivityStatus.CANCELLED:
        return [(Refusal.ACTIVITY_CANCELLED, _l("This activity has been cancelled."))]
    if activity.status != ActivityStatus.PUBLISHED:
        return [(Refusal.NOT_PUBLISHED, _l("This activity is not open for sign-up."))]
    if worker is None:
        reasons.append((Refusal.NOT_LOGGED_IN, _l("Please log in to sign up.")))
    if not ignore_window:
        window = window_state(at, activity.signup_opens_at, activity.signup_closes_at)
        if window == Window.NOT_OPEN:
            reasons.append((Refusal.NOT_OPEN_YET, _l("Sign-up opens at %(when)s.",
                                                     when=local_time(activity.signup_opens_at))))
        elif window == Window.CLOSED:
            reasons.append((Refusal.CLOSED, _l("Sign-up closed at %(when)s.",
                                               when=local_time(activity.signup_closes_at))))
    if worker is None:
        return reasons
    if activity.members_only and worker.union_id is None:
        reasons.append((Refusal.MEMBERS_ONLY, _l("Only trade-union members can sign up for this activity. "
                                                 "Add your union in your profile first.")))
    if activity.occupations and worker.occupation not in activity.occupations:
        reasons.append((Refusal.OCCUPATION, occupation_message(activity.occupations)))
    if activity.eligible_nodes and not any(
            worker.union_path and worker.union_path.startswith(node.path) for node in activity.eligible_nodes):
        reasons.append((Refusal.NODE, _l("This activity is only for workers of these unions: %(list)s.",
                                         list=_join(n.name for n in activity.eligible_nodes))))
    unit = quota_unit(worker.union_path, activity.quota_nodes)
    if activity.visibility == Visibility.INVITATION and unit is None:
        reasons.append((Refusal.INVITATION, _l("This activity is by invitation only, and your union has "
                                               "not been given places.")))
    elif activity.mode == SignupMode.QUOTA and unit is None:
        reasons.append((Refusal.NO_QUOTA, _l("Places for this activity are shared out by union, and your "
                                             "union has no places.")))
    return reasons


def initial_state(mode: SignupMode) -> S | None:
    """The state a new registration starts in without claiming a place (None: it claims one)."""
    if mode in (SignupMode.APPROVAL, SignupMode.LOTTERY):
        return S.PENDING
    return None


def will_be_waitlisted(mode: SignupMode, places_left: int, waitlist_enabled: bool) -> bool:
    return initial_state(mode) is None and places_left <= 0 and waitlist_enabled


# --------------------------------------------------------------------------- waiting list and lottery

def waitlist_sort_key(queue_rank: int | None, created_at: datetime, reg_id: int) -> tuple:
    """Order of the waiting list: lottery rank first (unranked last), then first come, then id."""
    return (queue_rank is None, queue_rank or 0, created_at, reg_id)


def lottery_order(registration_ids: Iterable[int], seed: str) -> list[int]:
    """The drawn order: ``random.Random(seed)`` shuffles the ids sorted ascending.

    The same ids and seed give the same order on every machine and Python version
    that keeps ``random``'s documented reproducibility for string seeds.
    """
    ordered = sorted(registration_ids)
    random.Random(seed).shuffle(ordered)
    return ordered


@dataclass(frozen=True)
class DrawEntry:
    id: int
    slot_id: int | None = None


@dataclass
class DrawOutcome:
    order: list[int]
    confirmed: list[int] = field(default_factory=list)
    waitlisted: list[tuple[int, int]] = field(default_factory=list)  # (id, queue_rank)
    not_drawn: list[int] = field(default_factory=list)


def allocate_draw(entries: Sequence[DrawEntry], seed: str, places_left: int,
                  slot_places_left: dict[int, int] | None = None, waitlist_enabled: bool = True) -> DrawOutcome:
    """Walk the drawn order and confirm while places last (per slot when slotted)."""
    by_id = {e.id: e for e in entries}
    order = lottery_order(by_id, seed)
    outcome = DrawOutcome(order=order)
    slots_left = dict(slot_places_left or {})
    rank = 0
    for reg_id in order:
        entry = by_id[reg_id]
        slot_ok = entry.slot_id is None or slots_left.get(entry.slot_id, 0) > 0
        if places_left > 0 and slot_ok:
            places_left -= 1
            if entry.slot_id is not None:
                slots_left[entry.slot_id] -= 1
            outcome.confirmed.append(reg_id)
        elif waitlist_enabled:
            rank += 1
            outcome.waitlisted.append((reg_id, rank))
        else:
            outcome.not_drawn.append(reg_id)
    return outcome


# --------------------------------------------------------------------------- answers

@dataclass(frozen=True)
class QuestionSpec:
    id: int
    kind: QuestionKind
    required: bool = False
    choices: tuple[str, ...] = ()
    label: str = ""


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_YES = {"yes", "y", "true", "1", "on", "是"}
_NO = {"no", "n", "false", "0", "off", "否"}

MSG_REQUIRED = _l("Please answer this question.")


def _raw_answer(raw: dict, question_id: int):
    for key in (str(question_id), f"q{question_id}", question_id):
        if key in raw:
            return raw[key]
    return None


def _is_blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return all(_is_blank(v) for v in value)
    return False


def _clean_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None, _l("Please enter a number.")
    if isinstance(value, float) and not math.isfinite(value):
        return None, _l("Please enter a number.")
    text = str(value).strip().replace(",", "") if isinstance(value, str) else str(value)
    if len(text) > 32:
        return None, _l("Please enter a number.")
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None, _l("Please enter a number.")
    if not number.is_finite():
        return None, _l("Please enter a number.")
    if number < NUMBER_ANSWER_MIN or number > NUMBER_ANSWER_MAX:
        return None, _l("Please enter a number between %(low)s and %(high)s.",
                        low=NUMBER_ANSWER_MIN, high=NUMBER_ANSWER_MAX)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > NUMBER_ANSWER_MAX_DECIMALS and number != number.to_integral():
        return None, _l("Please use at most %(n)d decimal places.", n=NUMBER_ANSWER_MAX_DECIMALS)
    if number == number.to_integral():
        return int(number), None
    return float(number), None


def _clean_one(question: QuestionSpec, value):
    """(cleaned value, error message or None) for one non-blank answer."""
    kind = question.kind
    if kind == QuestionKind.TEXT:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return None, _l("Please enter text.")
        try:
            text = _CONTROL_CHARS.sub("", clean_text(str(value))).strip()
        except NotText as refused:
            return None, refused.message
        if len(text) > TEXT_ANSWER_MAX:
            return None, _l("Please write at most %(n)d characters.", n=TEXT_ANSWER_MAX)
        return text, None
    if kind == QuestionKind.SINGLE_CHOICE:
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str) or value not in question.choices:
            return None, _l("Please choose one of the options given.")
        return value, None
    if kind == QuestionKind.MULTIPLE_CHOICE:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            return None, _l("Please choose from the options given.")
        chosen = {v for v in values if v.strip()}
        if not chosen <= set(question.choices):
            return None, _l("Please choose only from the options given.")
        return [c for c in question.choices if c in chosen], None
    if kind == QuestionKind.NUMBER:
        return _clean_number(value)
    if kind == QuestionKind.YES_NO:
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in _YES:
            return True, None
        if isinstance(value, str) and value.strip().lower() in _NO:
            return False, None
        return None, _l("Please answer yes or no.")
    return None, _l("This question cannot be answered.")  # pragma: no cover - every kind handled above


def clean_answers(questions: Sequence[QuestionSpec], raw: dict | None) -> tuple[dict[str, Any], dict[str, list]]:
    """Validate ``raw`` answers (keyed by question id, "q<id>" or int) against ``questions``.

    Returns the cleaned answers keyed by ``str(question.id)`` and the errors keyed "q<id>".
    Answers to unknown questions are ignored.
    """
    raw = raw if isinstance(raw, dict) else {}
    cleaned: dict[str, Any] = {}
    errors: dict[str, list] = {}
    for question in questions:
        value = _raw_answer(raw, question.id)
        if _is_blank(value):
            if question.required:
                errors[f"q{question.id}"] = [MSG_REQUIRED]
            continue
        clean, error = _clean_one(question, value)
        if error is not None:
            errors[f"q{question.id}"] = [error]
        elif clean in ("", []):
            if question.required:
                errors[f"q{question.id}"] = [MSG_REQUIRED]
        else:
            cleaned[str(question.id)] = clean
    return cleaned, errors


# --------------------------------------------------------------------------- attendance

def attendance_rate(attended: int, no_show: int) -> float | None:
    """Share of the people who had a place when the activity ended that came: attended / (attended +
    no-show); None before anyone is marked either way."""
    decided = attended + no_show
    if decided <= 0:
        return None
    return attended / decided


# --------------------------------------------------------------------------- check-in window

#: Longest reason an organiser may give for checking someone in outside the window.
OVERRIDE_REASON_MAX = 200


@dataclass(frozen=True)
class CheckInWindow:
    """When a ticket may be checked in (naive UTC, both ends included)."""
    opens_at: datetime
    closes_at: datetime
    starts_at: datetime   # the activity's (or the slot's) own start and end, for messages
    ends_at: datetime
    slot: bool            # the window is a time slot's


def checkin_window(starts_at: datetime, ends_at: datetime, *, slot: bool, opens_before: timedelta,
                   slot_early: timedelta, grace: timedelta) -> CheckInWindow:
    """The check-in window of an activity (``slot=False``: from ``opens_before`` its start) or of a
    slot ticket (``slot=True``: from ``slot_early`` before the slot's start); both close ``grace``
    after their end."""
    early = slot_early if slot else opens_before
    return CheckInWindow(starts_at - early, ends_at + grace, starts_at, ends_at, slot)


def checkin_timing(window: CheckInWindow, at: datetime) -> str:
    """``"not_yet"``, ``"open"`` or ``"ended"``."""
    if at < window.opens_at:
        return "not_yet"
    if at > window.closes_at:
        return "ended"
    return "open"


def slot_text(starts_at: datetime, ends_at: datetime) -> str:
    """A slot as "2026-12-20 09:00–10:00" (local time; the end's date when it differs)."""
    end = local_time(ends_at)
    same_day = utc_to_local(starts_at).date() == utc_to_local(ends_at).date()
    return f"{local_time(starts_at)}–{end[-5:] if same_day else end}"


def checkin_refusal(window: CheckInWindow, at: datetime) -> tuple[str, Any] | None:
    """Why a check-in at ``at`` is refused — ``(code, message)`` — or None inside the window."""
    timing = checkin_timing(window, at)
    if timing == "open":
        return None
    if window.slot:
        slot = slot_text(window.starts_at, window.ends_at)
        if timing == "not_yet":
            return "checkin_not_open", _l("This ticket is for the %(slot)s slot; check-in for it opens at "
                                          "%(when)s.", slot=slot, when=local_time(window.opens_at))
        return "checkin_closed", _l("This ticket is for the %(slot)s slot, which has ended.", slot=slot)
    if timing == "not_yet":
        return "checkin_not_open", _l("Check-in has not opened yet; it opens at %(when)s.",
                                      when=local_time(window.opens_at))
    return "checkin_closed", _l("The activity has ended; check-in is closed.")


# --------------------------------------------------------------------------- waiting-list offers

#: The shortest time to answer an offer (unless the start is nearer still).
OFFER_MIN = timedelta(minutes=15)


def offer_deadline(at: datetime, starts_at: datetime, hours: int) -> datetime:
    """When a place offered at ``at`` passes to the next in line: ``hours`` later, but never later
    than halfway to the start (so the next in line still has time to answer), and at least
    ``OFFER_MIN`` (or the start, when that is nearer)."""
    full = at + timedelta(hours=hours)
    halfway = at + (starts_at - at) / 2
    return max(min(full, halfway), min(at + OFFER_MIN, starts_at))
