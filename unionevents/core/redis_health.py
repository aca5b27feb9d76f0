"""Is Redis (the shared rate-limit storage, ``REDIS_URL``) answering?

When it is down the rate limits fall back to per-process memory: logins keep working, but each worker
counts alone.  That must not be silent: the first failed check in a process logs one ERROR naming the
server (its URL without the password), recovery logs one WARNING, and ``/healthz`` answers 503 with
``"redis": "down"`` meanwhile.  Checked at start-up and by every ``/healthz``; a check gives up after
``REDIS_CHECK_TIMEOUT`` seconds.
"""
from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("unionevents.redis")

_lock = threading.Lock()
_down: dict[str, bool] = {}  # url → last known state was "down" (for logging transitions once)
_clients: dict[str, object] = {}


def redacted(url: str) -> str:
    """``redis://:secret@host:6379/0`` → ``redis://:***@host:6379/0`` (safe for a log line)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def _client(url: str, timeout: float):
    import redis

    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                          retry_on_timeout=False)
            _clients[url] = client
    return client


def redis_is_up(url: str, timeout: float = 1.0) -> bool:
    """Ping ``url``; log the change when it goes down (ERROR, once) or comes back (WARNING, once)."""
    try:
        _client(url, timeout).ping()  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001 - any failure means the limits are not shared
        with _lock:
            was_down, _down[url] = _down.get(url, False), True
        if not was_down:
            log.error("Redis at %s is down (%s): rate limits fall back to per-process memory; "
                      "each worker now counts login failures alone", redacted(url), error)
        return False
    with _lock:
        was_down, _down[url] = _down.get(url, False), False
    if was_down:
        log.warning("Redis at %s answers again: rate limits are shared again", redacted(url))
    return True
