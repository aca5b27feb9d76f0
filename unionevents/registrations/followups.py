"""What comes after a sign-up, for activity kinds that have a next step (a contest: the entry).

Registrations know nothing of contests (contests build on registrations, not the other way round):
a domain hands over a provider at start-up (``register_followup``), and the sign-up page and the
registration page ask ``followup(registration)``.  A provider answers None for activities that are
not its own.  What a follow-up holds:

- ``steps``: a progress strip (title, done, current), shown on the registration page;
- ``action``: ``(endpoint, url values, label)`` of the next thing to do, or None; after a successful
  sign-up the worker is taken straight there, and the registration page shows it as the main button;
- ``deadline``: until when the action can be done (shown next to it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from .models import Registration


@dataclass(frozen=True)
class Step:
    title: str
    done: bool
    current: bool


@dataclass(frozen=True)
class Followup:
    steps: list[Step] = field(default_factory=list)
    stage_title: str = ""
    action: tuple[str, dict[str, Any], Any] | None = None
    deadline: datetime | None = None


_providers: list[Callable[[Registration], Followup | None]] = []


def register_followup(provider: Callable[[Registration], Followup | None]) -> None:
    if provider not in _providers:
        _providers.append(provider)


def followup(registration: Registration) -> Followup | None:
    for provider in _providers:
        found = provider(registration)
        if found is not None:
            return found
    return None
