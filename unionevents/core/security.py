"""Response headers and redirect checks shared by every page."""
from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from flask import Flask, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; "
    "worker-src 'self'"
)


def is_safe_redirect(target: str | None) -> bool:
    """True only for a path on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target:
        return False
    if any(ch in target for ch in ("\\", "\r", "\n", "\t")) or target.startswith("//"):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        host = urlsplit(request.host_url)
        joined = urlsplit(urljoin(request.host_url, target))
        return joined.scheme in ("http", "https") and joined.netloc == host.netloc
    return target.startswith("/")


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
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
