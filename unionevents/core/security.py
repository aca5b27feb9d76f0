"""Response headers and redirect checks shared by every page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from flask_login import current_user

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; "
    "worker-src 'self'"
)

# Sent with the answer to a logout: the browser drops everything this site stored (localStorage — the
# door page's roster copies and check-in lists —, IndexedDB, Cache Storage, service worker
# registrations); cookies are left alone (the session is already ended, the language stays).  Not
# "cache": every personal page is sent no-store, and in Chromium clearing the HTTP cache can hold a
# logout up for seconds on a phone with a large cache (crbug.com/40233601).
# Honoured only on secure contexts (HTTPS, or http://localhost / 127.0.0.1); static/js/logout-guard.js
# clears the door keys itself for the other cases, after making sure no check-in is still waiting.
CLEAR_SITE_DATA = '"storage"'


def is_safe_redirect(target: str | None) -> bool:
    """True only for a path on this site ("/..."): no scheme, host, protocol-relative or backslash tricks.

    Absolute URLs are refused even when they name this host: "http:evil.com" looks local to
    urljoin but a browser on an https page reads it as http://evil.com/.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def install_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CSP)
            # Pages carry personal information: never cache them in shared caches.
            headers.setdefault("Cache-Control", "no-store")
        elif request.endpoint != "static" and (request.headers.get("Authorization")
                                               or getattr(current_user, "is_authenticated", False)):
            # So do downloads and JSON for someone signed in (calendar files, data exports, /api/v1/me,
            # the scanner roster): no-store there too.
            headers.setdefault("Cache-Control", "no-store")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
