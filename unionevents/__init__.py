"""unionevents — 工会活动报名: activities of a city trade-union federation."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, g

from .config import CONFIGS, INSTANCE_DIR, PROJECT_ROOT, load_or_create_secret_key
from .extensions import api, babel, csrf, db, limiter, login_manager, migrate


def create_app(config: str | type | dict | None = None,
               instance_path: str | os.PathLike | None = None) -> Flask:
    """Build the app: config → extensions → i18n → blueprints → errors → CLI.

    ``config``: a name ("development", "production", "testing"), a config class, or a dict of
    overrides (``{"TESTING": True, ...}`` starts from the test config).  ``instance_path``
    defaults to the project's instance/ folder (config.py, secret_key, the SQLite file).
    """
    app = Flask(
        __name__,
        instance_path=str(instance_path or INSTANCE_DIR),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    _load_config(app, config)
    _bound_url_integers(app)
    _trust_proxy(app)
    _fresh_request_globals(app)  # first: before any hook caches something in g
    _guard_request_input(app)  # before CSRF and every hook that reads the body
    _configure_logging(app)
    _init_extensions(app)
    _hand_domains_to_core(app)
    _register_blueprints(app)
    _connect_domains(app)

    from .core.errors import register_error_handlers
    from .core.security import install_security_headers
    from .core.templating import install_template_helpers

    register_error_handlers(app)
    install_security_headers(app)
    install_template_helpers(app)

    from .core.metrics import install_metrics

    install_metrics(app)

    from .core.compress import install_compression

    install_compression(app)  # after_request hooks run last-registered first: bodies are final here

    from .core.sentry import init_sentry

    init_sentry(app)  # SENTRY_DSN set: errors reported, personal data scrubbed

    _register_cli(app)
    return app


def _bound_url_integers(app: Flask) -> None:
    """``<int:...>`` URL parts above the database's integer range are a 404, not a driver overflow (500).

    Ids are 32-bit on PostgreSQL; werkzeug's converter accepts any length of digits.
    """
    from werkzeug.routing import IntegerConverter

    class BoundedIntegerConverter(IntegerConverter):
        def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
            kwargs.setdefault("max", 2**31 - 1)
            super().__init__(map, *args, **kwargs)

    app.url_map.converters["int"] = BoundedIntegerConverter


def _load_config(app: Flask, config) -> None:
    overrides = config if isinstance(config, dict) else {}
    if isinstance(config, type):
        base = config
    elif isinstance(config, str):
        base = CONFIGS[config]
    elif overrides.get("TESTING"):
        base = CONFIGS["testing"]
    else:
        name = os.environ.get("UNIONEVENTS_ENV", "").strip() or "development"
        if name not in ("development", "production"):
            from .core.settings import SettingError

            raise SettingError(f"UNIONEVENTS_ENV={name!r}: must be development or production.")
        base = CONFIGS[name]
    app.config.from_object(base)
    if not app.config.get("TESTING"):
        # instance/config.py overrides the class defaults; environment variables override both.
        # Both are parsed and checked by core.settings: a bad value stops the start, naming it.
        # Tests are hermetic: they read neither.
        from flask import Config as FlaskConfig

        from .core.settings import checked_file_values, from_environ

        from_file = FlaskConfig(app.instance_path)
        from_file.from_pyfile("config.py", silent=True)
        app.config.update(checked_file_values(base, from_file, "instance/config.py"))
        app.config.update(from_environ(base, os.environ))
    app.config.update(overrides)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'unionevents.db'}"

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # An unreachable server (packets dropped, not refused) fails within seconds, so the user gets
        # the outage page (core.errors) instead of a worker killed by its timeout.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("connect_timeout", app.config.get("DB_CONNECT_TIMEOUT", 5))
        if app.config.get("DB_TRANSACTION_POOLER"):
            connect_args["prepare_threshold"] = None  # no prepared statements behind PgBouncer 1.18
        for setting, option in (("DB_POOL_SIZE", "pool_size"), ("DB_MAX_OVERFLOW", "max_overflow"),
                                ("DB_POOL_TIMEOUT", "pool_timeout")):
            if app.config.get(setting) is not None:
                options.setdefault(option, app.config[setting])
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "connect_args": connect_args}

    # Several workers must share one count: rate limits live in Redis when REDIS_URL is set.
    # (Tests stay in memory unless they pass REDIS_URL themselves: they never read the environment.)
    if app.config.get("REDIS_URL") and app.config.get("RATELIMIT_STORAGE_URI") == "memory://":
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]

    if app.config["ENV_NAME"] == "production":
        # Cookies only over HTTPS in production, whatever the environment says.
        app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = True

    if not app.config.get("SECRET_KEY"):
        if app.config["ENV_NAME"] == "production":
            raise RuntimeError("SECRET_KEY must be set in production (environment or instance/config.py).")
        app.config["SECRET_KEY"] = load_or_create_secret_key(Path(app.instance_path))

    if not app.testing:
        # Test-only switches that weaken protections must never be on outside tests.
        for key in ("TESTING_DISABLE_CAPACITY_GUARD", "TESTING_RACE_DELAY"):
            if app.config.get(key):
                raise RuntimeError(f"{key} is a test-only setting.")


def _trust_proxy(app: Flask) -> None:
    """Behind nginx, take the client address, scheme and host from PROXY_FIX_HOPS trusted proxies.

    Only as many X-Forwarded-* entries as there are proxies are believed (counted from the right),
    so a client cannot pick its own address for the per-IP login limits.
    """
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _fresh_request_globals(app: Flask) -> None:
    """Start every request with an empty ``g``.

    Flask-Login (the user), Flask-Babel (the locale), Flask-WTF (the CSRF token) and
    Flask-Limiter cache per-request state in ``g``, which lives on the app context.  A request
    made while an app context is already pushed (every test; scripts) reuses that context, so
    without this the second request would see the first one's user, language and token.
    In a normal request ``g`` is already empty and this does nothing.
    """

    @app.before_request
    def _clear_g():
        for name in list(vars(g)):
            delattr(g, name)


def _guard_request_input(app: Flask) -> None:
    from .core.input import install_input_guard

    install_input_guard(app)


def _configure_logging(app: Flask) -> None:
    from .core.logging import configure_request_logging

    configure_request_logging(app)


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    if app.config.get("REDIS_URL"):
        from .core.redis_health import redis_is_up

        redis_is_up(app.config["REDIS_URL"], app.config["REDIS_CHECK_TIMEOUT"])  # down: one ERROR line now

    from .core.i18n import select_locale, select_timezone

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    from .accounts.auth import init_login

    init_login(app, login_manager)

    # Every model module is imported so metadata is complete for migrations.
    from . import models  # noqa: F401

    with app.app_context():
        from .core.db import configure_engine, install_deferred_writes, install_idle_ping
        from .core.files import keep_sqlite_file_private

        keep_sqlite_file_private(db.engine)  # first: before the pragmas create the -wal file
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"], app.config["SQLITE_SYNCHRONOUS"])
        install_idle_ping(db.engine, app.config["DB_PING_AFTER_IDLE_SECONDS"])
    install_deferred_writes(app)


def _hand_domains_to_core(app: Flask) -> None:
    """``core`` imports no domain: the domains hand it what it asks for (the tree that scopes roles,
    the user of an API token, a message's address, the retention jobs of `flask privacy purge-all`)."""
    from . import accounts, unions
    from .health import services as _health_services  # noqa: F401 - registers the "health" retention job
    from .notifications import reminders as _reminders  # noqa: F401 - registers the "reminders" retention job

    unions.init_app(app)
    accounts.init_app(app)


def _connect_domains(app: Flask) -> None:
    """What a domain does when another acts, wired here at start-up rather than by importing: the
    report counters listen to the registration engine (``core.events``), and the domains hand
    ``accounts.privacy`` their erasure hooks."""
    from . import contests, health, notifications, registrations, reports, results, swaps

    reports.init_app(app)
    for domain in (registrations, results, health, contests, notifications, swaps):
        domain.init_app(app)


def _register_blueprints(app: Flask) -> None:
    """Every domain's pages and API endpoints (``core`` registers none of them)."""
    from .accounts.views import bp as accounts_bp
    from .activities.views import bp as activities_bp
    from .activities.manage import bp as manage_bp
    from .main import bp as main_bp
    from .registrations.views import bp as registrations_bp
    from .registrations.manage import bp as roster_bp
    from .accounts.admin import bp as admin_bp
    from .unions.admin import bp as union_admin_bp
    from .unions.views import bp as unions_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(unions_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(union_admin_bp)
    app.register_blueprint(activities_bp)
    app.register_blueprint(manage_bp)
    app.register_blueprint(registrations_bp)
    app.register_blueprint(roster_bp)
    from .contests.views import bp as contests_bp
    from .contests.manage import bp as contest_manage_bp
    app.register_blueprint(contests_bp)
    app.register_blueprint(contest_manage_bp)

    from .health.views import bp as health_bp
    app.register_blueprint(health_bp)
    from .swaps.views import bp as swaps_bp
    app.register_blueprint(swaps_bp)
    from .results.views import bp as results_bp
    app.register_blueprint(results_bp)
    from .registrations.enrol_views import bp as enrol_bp
    app.register_blueprint(enrol_bp)
    from .activities.series_views import bp as series_bp
    app.register_blueprint(series_bp)
    from .registrations.seating_views import bp as seating_bp
    app.register_blueprint(seating_bp)
    from .reports.views import bp as reports_bp
    app.register_blueprint(reports_bp)
    from .notifications.views import bp as notifications_bp
    app.register_blueprint(notifications_bp)

    from .core.pwa import bp as phone_bp
    app.register_blueprint(phone_bp)

    from .accounts.api import blp as accounts_api
    from .activities.api import blp as activities_api
    from .contests.api import blp as contests_api
    from .core.api import init_api, register_api_blueprints
    from .registrations.api import blp as registrations_api
    from .registrations.checkin_api import blp as checkin_api
    from .registrations.organiser_api import blp as organiser_api
    from .reports.api import blp as reports_api
    from .unions.api import blp as unions_api
    from .notifications.api import blp as notifications_api

    init_api(app)
    register_api_blueprints(accounts_api, activities_api, registrations_api, checkin_api, reports_api,
                            unions_api, notifications_api, contests_api, organiser_api)


def _register_cli(app: Flask) -> None:
    """Core's commands (outbox, backup, restore), then every domain's group."""
    from .accounts.cli import privacy_cli, users_cli
    from .activities.cli import activities_cli
    from .core.cli import register_cli
    from .demo import seed_demo_command
    from .health.cli import health_cli
    from .notifications.cli import notifications_cli
    from .reports.cli import reports_cli
    from .unions.cli import unions_cli

    register_cli(app)
    for command in (users_cli, privacy_cli, activities_cli, seed_demo_command, health_cli, reports_cli,
                    unions_cli, notifications_cli):
        app.cli.add_command(command)
