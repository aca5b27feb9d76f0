"""Why a check-in must not be undone at the door, asked of other domains.

Registrations know nothing of swaps: a domain whose records rest on a check-in hands over a guard at
start-up (``register_undo_guard``); the door's undo asks ``undo_refusal(registration)`` and refuses
with the first message a guard gives (a guard answers None when it has no objection).
"""
from __future__ import annotations

from typing import Any, Callable

from .models import Registration

_guards: list[Callable[[Registration], Any | None]] = []


def register_undo_guard(guard: Callable[[Registration], Any | None]) -> None:
    if guard not in _guards:
        _guards.append(guard)


def undo_refusal(registration: Registration) -> Any | None:
    for guard in _guards:
        message = guard(registration)
        if message is not None:
            return message
    return None
