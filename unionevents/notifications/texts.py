"""The notices this domain sends, as English source strings translated into each recipient's
language at queue time, kept short enough for one SMS (≤ 70 characters in Chinese where the title
allows); links are the site's own paths (``/me/registrations/12``), the shortest that work."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale, gettext as _

from ..core.timeutil import utc_to_local

#: Longer titles are cut to keep a notice in one SMS.
TITLE_MAX = 16
TIME_FORMAT = "%m-%d %H:%M"


def short_title(title: str) -> str:
    title = " ".join((title or "").split())
    return title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1] + "…"


def when(at: datetime) -> str:
    return utc_to_local(at).strftime(TIME_FORMAT)


def _texts(_l=lambda text: text):  # noqa: N807 - named _l so pybabel extracts them
    return {
        "reminder": (_l("Reminder"),
                     _l("Reminder: “%(title)s” %(when)s%(venue)s. Ticket %(ticket)s; can't go? %(release)s")),
        "activity.changed": (_l("Activity changed"),
                             _l("“%(title)s” changed: now %(when)s%(venue)s. Ticket %(ticket)s; can't go? "
                                "%(release)s")),
        "contest.won": (_l("You won an award"),
                        _l("Congratulations: you won %(award)s in “%(title)s”. Results %(link)s")),
        "contest.results": (_l("Results published"),
                            _l("The results of “%(title)s” are out. See %(link)s")),
        "health.ready": (_l("Health check results ready"),
                         _l("Your results from “%(title)s” are ready. Log in to read them: %(link)s")),
        "venue": (None, _l(", at %(venue)s")),
    }


TEXTS = _texts()


def translated(locale: str | None, *texts: str) -> list[str]:
    """``texts`` in ``locale`` (the default language when None), placeholders left alone."""
    wanted = locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    if has_request_context() and str(get_locale()) == wanted:
        return [_(text) for text in texts]
    with force_locale(wanted):
        return [_(text) for text in texts]


def compose(kind: str, locale: str | None, **params) -> tuple[str, str]:
    """(subject, body) of notice ``kind`` in ``locale``; ``venue`` (when given) becomes ", at …"."""
    subject, body = TEXTS[kind]
    subject_text, body_text, venue_text = translated(locale, subject, body, TEXTS["venue"][1])
    if "venue" in params:
        venue = " ".join((params["venue"] or "").split())[:20]
        params["venue"] = venue_text % {"venue": venue} if venue else ""
    if "title" in params:
        params["title"] = short_title(params["title"])
    return subject_text, body_text % params
