"""Site-wide pages: home, language switch, health check (the ``main`` blueprint).

Outside ``core`` because the home page lists activities and the language switch saves it on the
profile: both ask a domain.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import text

from .accounts.services import set_locale
from .activities.services import upcoming_activities
from .core.i18n import LANG_COOKIE, normalise_locale
from .core.permissions import public
from .core.security import is_safe_redirect
from .extensions import db

bp = Blueprint("main", __name__)


@bp.route("/")
@public
def home():
    return render_template("main/home.html", activities=upcoming_activities(limit=12))


@bp.route("/language", methods=["POST"])
@public
def set_language():
    """Switch the interface language; remembered in a cookie and, when logged in, on the profile."""
    locale = normalise_locale(request.form.get("locale")) or current_app.config["BABEL_DEFAULT_LOCALE"]
    target = request.form.get("next") or ""
    response = make_response(redirect(target if is_safe_redirect(target) else url_for("main.home")))
    response.set_cookie(LANG_COOKIE, locale, max_age=60 * 60 * 24 * 365, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    if current_user.is_authenticated:
        set_locale(current_user._get_current_object(), locale)
    return response


@bp.route("/healthz")
@public
def healthz():
    """For the load balancer: the database, and Redis where ``REDIS_URL`` is set (503 if either is down)."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as error:  # the database is down: say so without a traceback page
        from .core.errors import is_database_outage, note_database_outage, retry_after_seconds

        if is_database_outage(error):
            note_database_outage(error)  # once a minute, however often the load balancer asks
        else:
            current_app.logger.exception("health check failed")
        response = jsonify(status="error", database="unavailable")
        response.headers["Retry-After"] = str(retry_after_seconds())
        return response, 503
    body = {"status": "ok", "database": "ok"}
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        from .core.redis_health import redis_is_up

        body["redis"] = "ok" if redis_is_up(redis_url, current_app.config["REDIS_CHECK_TIMEOUT"]) else "down"
        if body["redis"] == "down":
            body["status"] = "error"
            return jsonify(body), 503
    return jsonify(body)
