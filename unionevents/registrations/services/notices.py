"""The engine's own messages to workers (confirmed, waiting list, promoted, cancelled, lottery...),
translated into the recipient's language and queued in the outbox inside the change's transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale, gettext as _

from ...core.outbox import enqueue
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

    def enqueue(self, user_id: int, *, activity_id: int | None = None, **late) -> None:
        enqueue(user_id, self.kind, self.template % {**self.params, **late}, subject=self.subject,
                activity_id=activity_id)


def _prepare_notice(notice: str, locale: str | None, title: str, starts_at: datetime) -> _PreparedNotice:
    subject, body = NOTICES[notice]
    subject_text, template = _translated(locale, subject, body)
    return _PreparedNotice(f"registration.{notice}", subject_text, template,
                           {"title": quotable(title), "when": _when(starts_at)})


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
    }


NOTICES = _notice_texts()


def _send(notice: str, user_id: int, locale: str | None, title: str, starts_at: datetime, *,
          activity_id: int | None = None, **params) -> None:
    """Queue a notice to ``user_id`` in their language, in the current transaction."""
    _prepare_notice(notice, locale, title, starts_at).enqueue(user_id, activity_id=activity_id, **params)
