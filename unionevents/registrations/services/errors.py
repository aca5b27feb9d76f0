"""The engine's domain errors and the "full" messages (one place to read what a user can be told)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ...core.errors import Conflict, DomainError, NotAllowed


class NotEligible(NotAllowed):
    code = "not_eligible"
    default_message = _l("You cannot sign up for this activity.")

    def __init__(self, message=None, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = reasons or [str(self.message)]


class SignupClosed(Conflict):
    code = "window_closed"
    default_message = _l("Sign-up for this activity is not open.")


class AlreadyRegistered(Conflict):
    code = "already_registered"
    default_message = _l("You have already signed up for this activity.")

    def __init__(self, registration_id: int, message=None):
        super().__init__(message, registration_id=registration_id)
        self.registration_id = registration_id


class ActivityFull(Conflict):
    code = "full"
    default_message = _l("Sorry, this activity is full.")

    def __init__(self, message=None, counter: str = "activity"):
        super().__init__(message)
        self.counter = counter


class IllegalTransition(Conflict):
    code = "illegal_transition"
    default_message = _l("This registration cannot be changed that way.")


class CancellationClosed(Conflict):
    code = "cancel_closed"
    default_message = _l("It is too late to cancel this registration.")


class DrawRefused(Conflict):
    code = "draw_refused"
    default_message = _l("The lottery cannot be drawn now.")


class Busy(DomainError):
    """The database stayed busy through every retry; nothing was changed."""

    http_status = 503
    code = "busy"
    retry_after = 2  # after ~1.5 s of retries here: the app tries again in a moment, not at once
    default_message = _l("Many people are signing up right now. Please try again in a moment.")


class _StaleState(Exception):
    """The registration changed between our read and our write (someone else acted first)."""


MSG_SLOT_FULL = _l("Sorry, this time slot is full. Please choose another one.")
MSG_QUOTA_FULL = _l("Sorry, your union's places for this activity are all taken.")
MSG_ACTIVITY_FULL = ActivityFull.default_message
FULL_MESSAGES = {"activity": MSG_ACTIVITY_FULL, "slot": MSG_SLOT_FULL, "quota": MSG_QUOTA_FULL}
