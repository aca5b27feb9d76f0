"""gzip for text responses: pages, CSS, JS, JSON, SVG and the manifest — a rider's phone on a slow
network downloads a third of the bytes.

Skipped when the client does not accept gzip, for small bodies (under ``MIN_SIZE``: the header costs
more than it saves), for streamed responses (CSV exports are written row by row), for attachments
(downloads keep their exact bytes), for partial and empty responses, and when a body is already
encoded.  Static files (served as passthrough files) are read and compressed too; they are small.
"""
from __future__ import annotations

import gzip

from flask import Flask, Response, request

MIN_SIZE = 500
LEVEL = 6
TEXT_TYPES = {"application/json", "application/javascript", "text/javascript", "application/xml",
              "image/svg+xml", "application/manifest+json"}


def _compressible(response: Response) -> bool:
    mimetype = response.mimetype or ""
    if not (mimetype.startswith("text/") or mimetype in TEXT_TYPES or mimetype.endswith("+json")):
        return False
    if response.status_code < 200 or response.status_code in (204, 206) or 300 <= response.status_code < 400:
        return False
    if "Content-Encoding" in response.headers or "Content-Range" in response.headers:
        return False
    if "attachment" in response.headers.get("Content-Disposition", "").lower():
        return False
    return True


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0  # a "*" entry counts; "gzip;q=0" refuses


def compress_response(response: Response) -> Response:
    if not _compressible(response):
        return response
    if response.direct_passthrough:
        if request.endpoint != "static":
            return response
        response.direct_passthrough = False  # a static file: read it (they are small) and compress it
    elif response.is_streamed:
        return response
    response.vary.add("Accept-Encoding")
    if not _accepts_gzip():
        return response
    body = response.get_data()
    if len(body) < MIN_SIZE:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(f"{etag}-gzip", weak=bool(weak))
    return response


def install_compression(app: Flask) -> None:
    app.after_request(compress_response)
