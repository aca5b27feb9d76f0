"""The engine's own messages to workers (confirmed, waiting list, promoted, cancelled, lottery...),
translated into the recipient's language and queued in the outbox inside the change's transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale, gettext as _

from ...core.outbox import Priority, enqueue
from ...core.quoting import quotable
from .. import rules


def _when(starts_at: datetime) -> str:
    return rules.local_time(starts_at)


def _translated(locale: str | None, *texts) -> list[str]:
    """The source ``texts`` translated into ``locale`` (the default language when None), not yet
    formatted (gettext without variables leaves the placeholders alone)."""
    wanted = locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    if has_request_context() and str(get_locale()) == wanted:
        # Most messages go to the worker making the request: switching the locale there and back
        # would throw away the request's cached translations for nothing.
        return [_(text) for text in texts]
    with force_locale(wanted):
        return [_(text) for text in texts]


@dataclass(frozen=True)
class _PreparedNotice:
    """A notice translated before the write transaction; only values known inside it (a waiting-list
    position) are filled in there, so the lock is not held while translating."""

    kind: str
    subject: str
    template: str
    params: dict
    release_template: str = ""

    def enqueue(self, user_id: int, *, activity_id: int | None = None, registration_id: int | None = None,
                priority: Priority = Priority.NOTICE, **late) -> None:
        """Queue it; a notice that gives a place gets the "release my place" link of
        ``registration_id`` (the short path ``/t/<id>/x``, notifications.short_release)."""
        body = self.template % {**self.params, **late}
        if registration_id is not None and self.release_template:
            body += self.release_template % {"release": release_path(registration_id)}
        enqueue(user_id, self.kind, body, subject=self.subject, activity_id=activity_id, priority=priority)


def release_path(registration_id: int) -> str:
    return f"/t/{registration_id}/x"


def accept_path(registration_id: int) -> str:
    return f"/t/{registration_id}/ok"


def _prepare_notice(notice: str, locale: str | None, title: str, starts_at: datetime) -> _PreparedNotice:
    subject, body = NOTICES[notice]
    if notice in PLACE_NOTICES:
        subject_text, template, release = _translated(locale, subject, body, RELEASE_SUFFIX)
    else:
        (subject_text, template), release = _translated(locale, subject, body), ""
    return _PreparedNotice(f"registration.{notice}", subject_text, template,
                           {"title": quotable(title), "when": _when(starts_at)}, release)


def _notice_texts(_l=lambda text: text):  # noqa: N807 - the parameter is named _l so pybabel extracts them
    """Message texts as English source strings; translated with gettext at send time in the
    recipient's language.  (The local ``_l`` only marks them for extraction.)"""
    return {
        "confirmed": (_l("Registration confirmed"),
                      _l("Your place for “%(title)s” on %(when)s is confirmed.")),
        "waitlisted": (_l("On the waiting list"),
                       _l("“%(title)s” on %(when)s is full. You are number %(position)d on the waiting "
                          "list; we will tell you when a place frees up.")),
        "promoted": (_l("A place has freed up"),
                     _l("Good news: a place has freed up and you are now confirmed for “%(title)s” "
                        "on %(when)s.")),
        "cancelled": (_l("Registration cancelled"),
                      _l("Your registration for “%(title)s” on %(when)s has been cancelled.")),
        "cancelled_by_organiser": (_l("Registration cancelled"),
                                   _l("The organiser has cancelled your registration for “%(title)s” "
                                      "on %(when)s.")),
        "approved": (_l("Application approved"),
                     _l("Your application for “%(title)s” on %(when)s has been approved: your place "
                        "is confirmed.")),
        "approved_waitlisted": (_l("Application approved"),
                                _l("Your application for “%(title)s” on %(when)s has been approved, but "
                                   "the activity is full: you are number %(position)d on the waiting list.")),
        "rejected": (_l("Application not accepted"),
                     _l("Your application for “%(title)s” on %(when)s was not accepted.")),
        "lottery_confirmed": (_l("Lottery result"),
                              _l("You were drawn in the lottery for “%(title)s” on %(when)s: your place "
                                 "is confirmed.")),
        "lottery_waitlisted": (_l("Lottery result"),
                               _l("You were not drawn for “%(title)s” on %(when)s; you are number "
                                  "%(position)d on the waiting list and will be told if a place frees up.")),
        "lottery_not_drawn": (_l("Lottery result"),
                              _l("You were not drawn in the lottery for “%(title)s” on %(when)s. "
                                 "Thank you for taking part.")),
        "offered": (_l("A place for you"),
                    _l("A place in “%(title)s” %(when)s is yours if you accept by %(deadline)s: %(accept)s")),
        "offer_accepted": (_l("Place accepted"),
                           _l("Your place in “%(title)s” on %(when)s is confirmed.")),
        "offer_expired": (_l("Offer expired"),
                          _l("Your offer for “%(title)s” ran out and passed to the next in line.")),
    }


def _release_suffix(_l=lambda text: text) -> str:  # noqa: N807 - named _l so pybabel extracts it
    return _l(" Can't go? Release your place: %(release)s")


NOTICES = _notice_texts()
#: Notices that give a place: they end with the "release my place" link.
PLACE_NOTICES = frozenset({"confirmed", "promoted", "approved", "lottery_confirmed", "offer_accepted"})
RELEASE_SUFFIX = _release_suffix()


def _send(notice: str, user_id: int, locale: str | None, title: str, starts_at: datetime, *,
          activity_id: int | None = None, registration_id: int | None = None,
          priority: Priority = Priority.NOTICE, **params) -> None:
    """Queue a notice to ``user_id`` in their language, in the current transaction."""
    _prepare_notice(notice, locale, title, starts_at).enqueue(
        user_id, activity_id=activity_id, registration_id=registration_id, priority=priority, **params)
