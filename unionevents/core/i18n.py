"""Locale choice: the user's saved preference, then the language cookie, then Chinese.

Chinese is the default whatever the browser's Accept-Language says: the
federation serves Chinese-speaking workers, and an English browser on a shared
phone should not switch them away from it.
"""
from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_login import current_user

LANG_COOKIE = "lang"


def supported_locales() -> list[str]:
    return list(current_app.config["LANGUAGES"].keys())


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    for code in supported_locales():
        if value.lower() == code.lower() or value.lower().split("_")[0] == code.lower().split("_")[0]:
            return code
    return None


def select_locale() -> str:
    if not has_request_context():  # CLI commands, the outbox sender: Chinese
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and getattr(current_user, "is_authenticated", False):
        chosen = normalise_locale(getattr(current_user, "locale", None))
        if chosen:
            return chosen
    chosen = normalise_locale(request.cookies.get(LANG_COOKIE))
    return chosen or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]
