"""Where a request's time goes: named phases, summed per request.

``with phase("commit"): ...`` adds the block's wall time to the request's ``g`` (outside a request it
does nothing).  The request log line carries the phases (``phases_ms``), and with ``SERVER_TIMING``
on (the benchmarks turn it on) the response says them in a ``Server-Timing`` header, so a load client
can split each request's latency into time in the app and time before it (connecting, queueing in
gunicorn) — where a rush's slow tail comes from.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from flask import g, has_request_context

_PHASES = "unionevents_phases"


@contextmanager
def phase(name: str) -> Iterator[None]:
    if not has_request_context():
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        phases = g.setdefault(_PHASES, {})
        phases[name] = phases.get(name, 0.0) + (time.perf_counter() - started) * 1000


def request_phases() -> dict[str, float]:
    """The phases of the current request so far, in ms (rounded to 0.1)."""
    return {name: round(ms, 1) for name, ms in g.get(_PHASES, {}).items()}


def server_timing(phases: dict[str, float], total_ms: float | None) -> str:
    """A ``Server-Timing`` header value: each phase and ``app`` (before_request to after_request)."""
    parts = [f"{name};dur={ms}" for name, ms in phases.items()]
    if total_ms is not None:
        parts.append(f"app;dur={total_ms}")
    return ", ".join(parts)
