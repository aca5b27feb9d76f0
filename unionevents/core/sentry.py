"""Optional error tracking with Sentry: on when ``SENTRY_DSN`` (``UNIONEVENTS_SENTRY_DSN``) is set.

What leaves the server is scrubbed, since workers' mobile numbers and names are personal data (PIPL):

- sentry-sdk's defaults send no cookies, user or client address; no request bodies
  (``max_request_body_size="never"``) and no local variables of stack frames (``include_local_variables``
  off: they hold users, forms and rows).
- ``scrub_event`` (``before_send``), on every string of the event: mobile numbers become ``138****1234``
  (``core.masking``), e-mail addresses ``[email]``, runs of Chinese characters (names, addresses) ``[…]``,
  and SQLAlchemy's ``[parameters: ...]`` blocks (the row's values) go.  Of the request only the method, the
  URL without its query string and a few harmless headers are kept.
- Breadcrumbs (log lines before the error) are scrubbed the same way.

Each event carries the request's ``request_id`` tag: the same id as the JSON log line of that request.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask, g, has_request_context

from .masking import mask_mobile

#: A mainland mobile number, not inside a longer run of digits.
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\n|\(Background|$))", re.S)
#: Request headers worth having in an error report; every other one is dropped.
KEEP_HEADERS = frozenset({"user-agent", "accept", "accept-language", "content-type", "content-length",
                          "x-request-id", "host"})
#: Keys whose values are dropped wherever they appear in an event.
DROP_KEYS = frozenset({"cookies", "data", "query_string", "env", "user", "vars", "mobile", "password"})


def scrub_text(text: str) -> str:
    text = SQL_PARAMETERS.sub("[parameters: …]", text)
    text = MOBILE.sub(lambda match: mask_mobile(match.group(0)), text)
    text = EMAIL.sub("[email]", text)
    return CJK.sub("[…]", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: ("[Filtered]" if key in DROP_KEYS else _scrub(item)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item) for item in value]
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """``before_send``: the event without personal data (see the module's docstring)."""
    event = dict(event)
    request = event.pop("request", None)
    event.pop("user", None)
    scrubbed = _scrub(event)
    if isinstance(request, dict):
        headers = request.get("headers") or {}
        scrubbed["request"] = _scrub({
            "method": request.get("method"),
            "url": str(request.get("url") or "").split("?", 1)[0],
            "headers": {k: v for k, v in headers.items() if k.lower() in KEEP_HEADERS},
        })
    if has_request_context() and g.get("request_id"):
        scrubbed.setdefault("tags", {})["request_id"] = g.request_id
    return scrubbed


def scrub_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    return _scrub(crumb)


def init_sentry(app: Flask, *, transport: Any = None) -> bool:
    """Start the Sentry client when ``SENTRY_DSN`` is set; False when it is not.  ``transport``: tests
    pass one that records the events instead of sending them."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return False
    try:
        import sentry_sdk
        from sentry_sdk.integrations.flask import FlaskIntegration
    except ImportError as error:  # pragma: no cover - requirements.txt installs it
        raise RuntimeError("SENTRY_DSN is set but sentry-sdk is not installed (requirements.txt).") from error

    options: dict[str, Any] = {
        "dsn": dsn,
        "integrations": [FlaskIntegration()],
        "environment": app.config.get("ENV_NAME"),
        "release": app.config.get("SENTRY_RELEASE") or None,
        "include_local_variables": False,
        "max_request_body_size": "never",
        "traces_sample_rate": app.config.get("SENTRY_TRACES_SAMPLE_RATE") or 0.0,
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "before_breadcrumb": scrub_breadcrumb,
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    return True
