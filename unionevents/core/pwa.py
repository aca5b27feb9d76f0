"""Installable app: the service worker script (served from a route so it may control /manage/ pages,
where the door check-in works offline) and the web app manifest's media type."""
from __future__ import annotations

import mimetypes

from flask import Blueprint, current_app, send_from_directory

from .permissions import public

mimetypes.add_type("application/manifest+json", ".webmanifest")

bp = Blueprint("phone", __name__)


@bp.route("/sw.js")
@public
def service_worker():
    """static/sw.js at the site root; ``Service-Worker-Allowed`` lets the check-in page register it for
    the /manage/ scope and a ticket page for /me/registrations/. Never cached long: a new version must
    reach the phones."""
    response = send_from_directory(current_app.static_folder or "static", "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
