"""Template globals and filters: times in Asia/Shanghai, cache-busted static URLs, masking."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app, request, url_for
from markupsafe import Markup
from flask_babel import format_date, format_datetime, format_time, get_locale

from .masking import mask_mobile
from .quoting import quotable


@lru_cache(maxsize=256)
def _file_hash(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _static_url(filename: str) -> str:
    full = Path(current_app.static_folder or "static") / filename
    try:
        version = _file_hash(str(full), full.stat().st_mtime)
    except OSError:
        version = "0"
    return url_for("static", filename=filename, v=version)


def static_url(filename: str) -> str:
    """URL of a static file with its content hash, so it can be cached for a year.

    Outside debug mode the files do not change while the app runs, so each URL is worked out once
    per process (every page links five: a stat and a URL build each cost more than the page's query)."""
    if current_app.debug:
        return _static_url(filename)
    cache = current_app.extensions.setdefault("unionevents_static_urls", {})
    key = (request.script_root, filename)
    url = cache.get(key)
    if url is None:
        url = cache[key] = _static_url(filename)
    return url


def scroll_region(label) -> Markup:
    """Attributes of a wide table's scroll wrapper: ``<div class="table-wrap"{{ scroll_region(_("…")) }}>``.

    A region that scrolls sideways must be reachable by keyboard (axe ``scrollable-region-focusable``):
    it is focusable (arrow keys then scroll it), a named region, so a screen reader says what it holds.
    """
    return Markup(' tabindex="0" role="region" aria-label="{}"').format(label)


def has_endpoint(name: str) -> bool:
    """Whether a page exists in this app (a link to a part another package may not have built yet)."""
    return name in current_app.view_functions


def install_template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(static_url=static_url, get_locale=get_locale, scroll_region=scroll_region,
                                 has_endpoint=has_endpoint)
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": format_datetime(v, fmt) if v else ""
    app.jinja_env.filters["date"] = lambda v, fmt="medium": format_date(v, fmt) if v else ""
    app.jinja_env.filters["time"] = lambda v, fmt="short": format_time(v, fmt) if v else ""
    app.jinja_env.filters["mask_mobile"] = mask_mobile
    app.jinja_env.filters["quotable"] = quotable  # “{{ title|quotable }}”: no doubled quotation marks

    @app.context_processor
    def _languages():
        return {"LANGUAGES": app.config["LANGUAGES"]}

    @app.after_request
    def _static_cache(response):
        from flask import request

        if request.endpoint == "static" and request.args.get("v"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
