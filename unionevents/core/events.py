"""A small in-process event registry: one domain announces what happened, others listen.

``emit(name, **kw)`` calls every listener subscribed with ``on(name, fn)``, in subscription order, in
the caller's thread — so inside the caller's transaction: a listener's writes commit or roll back with
the change that caused them.  Listeners must not commit.  Names are plain strings owned by the
domain that emits them (``registrations.events``); ``core`` knows none of them.

Subscriptions are made at start-up (each domain's ``init_app``, called by the app factory) and are
process-wide; subscribing the same function twice is harmless.  Kept this small on purpose: the
sign-up path emits once per registration (docs/performance.md, "Why the code is shaped this way").
"""
from __future__ import annotations

from typing import Callable

#: name → listeners; a tuple, replaced (never changed in place) so emit never sees a half-made list.
_listeners: dict[str, tuple[Callable[..., None], ...]] = {}


def on(name: str, listener: Callable[..., None]) -> Callable[..., None]:
    """Call ``listener(**kw)`` on every ``emit(name, **kw)`` from now on."""
    current = _listeners.get(name, ())
    if listener not in current:
        _listeners[name] = current + (listener,)
    return listener


def off(name: str, listener: Callable[..., None]) -> None:
    """Stop calling ``listener`` for ``name`` (tests)."""
    _listeners[name] = tuple(fn for fn in _listeners.get(name, ()) if fn is not listener)


def listeners(name: str) -> tuple[Callable[..., None], ...]:
    return _listeners.get(name, ())


def emit(name: str, /, **kw) -> None:
    """Announce ``name``: run its listeners now, with ``kw``."""
    for listener in _listeners.get(name, ()):
        listener(**kw)
