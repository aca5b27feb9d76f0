"""What one activity's card says to the worker looking at it: one pure rule, no database.

``verdict`` turns the registration engine's own answers — ``rules.eligibility_refusals`` (the refusals
``register`` raises), the worker's registration if any, the free places — into one status for the
card: 可报名 / 已报名 / 候补第 N 位 / 已满（可候补） / 已满 / 仅限…… / 未开始 / 已截止, or 登录后报名 for a
visitor.  The catalogue and the activity page both ask it, so a card never says "可报名" where the
sign-up would be refused for eligibility or time (a race for the last place aside).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Sequence

from flask_babel import lazy_gettext as _l

from .models import RegistrationState as S
from .rules import Refusal

#: Refusals that no waiting or trying again will lift: the worker is not among those the activity is for.
RESTRICTIONS = (Refusal.MEMBERS_ONLY, Refusal.OCCUPATION, Refusal.NODE, Refusal.INVITATION, Refusal.NO_QUOTA)


class CardStatus(str, enum.Enum):
    LOG_IN = "log_in"
    CAN_SIGN_UP = "can_sign_up"
    SIGNED_UP = "signed_up"
    APPLIED = "applied"  # pending: awaiting approval or the draw
    WAITLISTED = "waitlisted"
    FULL_WAITLIST = "full_waitlist"
    FULL = "full"
    RESTRICTED = "restricted"
    NOT_OPEN = "not_open"
    CLOSED = "closed"

    @property
    def can_act(self) -> bool:
        """The card leads to a sign-up that the engine would accept (now, for this worker)."""
        return self in (CardStatus.CAN_SIGN_UP, CardStatus.FULL_WAITLIST)


@dataclass(frozen=True)
class Verdict:
    status: CardStatus
    label: Any  # short, for the card's badge
    detail: Any = None  # the engine's full message, when there is one
    position: int | None = None  # on the waiting list
    registration_id: int | None = None


def _restriction_label(code: Refusal, names: Sequence[str]):
    if code == Refusal.NODE and names:
        return _l("Only for %(unions)s", unions=str(_l(", ")).join(names))
    if code == Refusal.MEMBERS_ONLY:
        return _l("Union members only")
    if code == Refusal.OCCUPATION:
        return _l("Not for your occupation")
    return _l("No places for your union")


def verdict(refusals: Sequence[tuple[Refusal, Any]], *, existing_state: S | None = None,
            existing_id: int | None = None, waitlist_position: int | None = None, places_left: int = 0,
            needs_place: bool = True, waitlist_enabled: bool = False,
            eligible_node_names: Sequence[str] = ()) -> Verdict:
    """The card's status.  ``refusals``: ``rules.eligibility_refusals`` for this worker (or None: a
    visitor) now; ``existing_state``: the worker's registration taking part, if any; ``places_left``:
    for this worker (a quota activity: their union's share); ``needs_place``: first come (False for
    approval and lottery, which take applications whatever the places)."""
    codes = [code for code, _message in refusals]
    messages = dict(refusals)
    if existing_state is not None:
        if existing_state == S.WAITLISTED:
            label = (_l("Waiting list: number %(n)d", n=waitlist_position) if waitlist_position
                     else _l("On the waiting list"))
            return Verdict(CardStatus.WAITLISTED, label, position=waitlist_position, registration_id=existing_id)
        if existing_state == S.PENDING:
            return Verdict(CardStatus.APPLIED, _l("Applied, awaiting the result"), registration_id=existing_id)
        return Verdict(CardStatus.SIGNED_UP, _l("You are signed up"), registration_id=existing_id)
    if Refusal.ACTIVITY_CANCELLED in codes or Refusal.NOT_PUBLISHED in codes:
        return Verdict(CardStatus.CLOSED, _l("Cancelled") if Refusal.ACTIVITY_CANCELLED in codes
                       else _l("Sign-up closed"), messages.get(codes[0]))
    for code in codes:
        if code in RESTRICTIONS:
            return Verdict(CardStatus.RESTRICTED, _restriction_label(code, eligible_node_names), messages[code])
    if Refusal.CLOSED in codes:
        return Verdict(CardStatus.CLOSED, _l("Sign-up closed"), messages[Refusal.CLOSED])
    if Refusal.NOT_OPEN_YET in codes:
        return Verdict(CardStatus.NOT_OPEN, _l("Sign-up not open yet"), messages[Refusal.NOT_OPEN_YET])
    if Refusal.NOT_LOGGED_IN in codes:
        return Verdict(CardStatus.LOG_IN, _l("Log in to sign up"))
    if needs_place and places_left <= 0:
        if waitlist_enabled:
            return Verdict(CardStatus.FULL_WAITLIST, _l("Full (waiting list open)"))
        return Verdict(CardStatus.FULL, _l("Full"))
    return Verdict(CardStatus.CAN_SIGN_UP, _l("Open to you"))
