"""Turning a registration into things a worker carries away: a QR ticket, a calendar file, readable answers.

Read-only and free of rules: which registration gets a ticket is decided by its state (``holds_place``),
the token itself comes from the registration service.
"""
from __future__ import annotations

from datetime import datetime, timezone

import segno
from flask_babel import gettext as _
from icalendar import Calendar, Event
from markupsafe import Markup

from ..activities.models import QuestionKind
from ..core.timeutil import now
from .models import Registration

PRODID = "-//unionevents//工会活动报名//ZH"


def qr_svg(payload: str, title: str) -> Markup:
    """An inline SVG QR code (no script, no style attribute: fine under our CSP)."""
    qr = segno.make(payload, error="m", micro=False)
    svg = qr.svg_inline(scale=1, border=4, dark="#000", light="#fff", title=title, svgclass="qr-code",
                        omitsize=True)
    # segno escapes the title; the payload is a URL-safe token.
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc)


def event_times(registration: Registration) -> tuple[datetime, datetime]:
    """Start and end for this registration: its time slot when it has one, else the activity."""
    if registration.slot is not None:
        return registration.slot.starts_at, registration.slot.ends_at
    return registration.activity.starts_at, registration.activity.ends_at


def calendar_bytes(registration: Registration, url: str, host: str) -> bytes:
    """An iCalendar file with one event, times in UTC."""
    activity = registration.activity
    start, end = event_times(registration)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"registration-{registration.id}@{host}")
    event.add("dtstamp", _utc(now()))
    event.add("dtstart", _utc(start))
    event.add("dtend", _utc(end))
    event.add("summary", activity.title)
    if activity.venue:
        event.add("location", activity.venue)
    event.add("description", _("Organised by %(organiser)s. Your registration: %(url)s",
                               organiser=activity.node.name, url=url))
    event.add("url", url)
    cal.add_component(event)
    return cal.to_ical()


def answer_rows(registration: Registration) -> list[tuple[str, str]]:
    """(question, answer) pairs in the form's order; unanswered questions say so."""
    answers = registration.answers or {}
    rows = []
    for question in registration.activity.questions:
        value = answers.get(str(question.id))
        if value is None or value == "" or value == []:
            shown = _("(no answer)")
        elif question.kind == QuestionKind.YES_NO:
            shown = _("Yes") if value in (True, "yes", "true", 1) else _("No")
        elif isinstance(value, list):
            shown = "、".join(str(v) for v in value)
        else:
            shown = str(value)
        rows.append((question.label, shown))
    return rows
