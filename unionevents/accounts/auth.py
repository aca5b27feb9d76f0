"""Flask-Login wiring: the session id carries a version so logout ends remember-me too."""
from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from sqlalchemy.orm import joinedload

from ..extensions import db
from .models import RoleGrant, User


def load_user_from_session_id(session_id: str) -> User | None:
    user_id, _, version = (session_id or "").partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    # The grants (and their unions) in the same statement: every signed-in page reads them for its menu.
    user = db.session.get(User, int(user_id), options=[joinedload(User.grants).joinedload(RoleGrant.node)])
    if user is None or user.session_version != int(version) or not user.is_active:
        return None
    return user


def init_login(app: Flask, manager: LoginManager) -> None:
    manager.init_app(app)
    manager.login_view = "accounts.login"
    manager.login_message = _l("Please log in to continue.")
    manager.login_message_category = "info"
    manager.session_protection = "basic"
    manager.user_loader(load_user_from_session_id)

    @manager.unauthorized_handler
    def _unauthorized():
        from flask import flash, redirect, request, url_for

        from ..core.api import ApiUnauthorized
        from ..core.errors import json_error

        if request.path.startswith("/api/"):
            response, status = json_error(401, ApiUnauthorized.default_message, code=ApiUnauthorized.code)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response, status
        flash(str(manager.login_message), "info")
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
