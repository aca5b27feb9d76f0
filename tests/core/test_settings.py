"""Settings from the environment: one prefix (UNIONEVENTS_), typed, checked; a bad value stops the start."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from unionevents import create_app
from unionevents.config import Config, ProductionConfig
from unionevents.core.settings import LEGACY_NAMES, PREFIX, SettingError, from_environ, setting_types

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch):
    """No settings from the developer's shell; the log setup (create_app adds a handler) restored after."""
    import logging

    for key in list(os.environ):
        if key in LEGACY_NAMES or key.startswith(PREFIX):
            monkeypatch.delenv(key, raising=False)
    logger = logging.getLogger("unionevents")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield monkeypatch
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def test_every_setting_is_typed_from_its_default_or_annotation():
    types = setting_types(Config)
    assert types["PROXY_FIX_HOPS"] is int
    assert types["SESSION_COOKIE_SECURE"] is bool
    assert types["DB_PING_AFTER_IDLE_SECONDS"] is float
    assert types["LANGUAGES"] is dict
    assert types["HEALTH_RETENTION_DAYS"] is int
    assert types["DB_POOL_SIZE"] is int  # annotated int | None, default None
    assert types["REDIS_URL"] is str
    assert "ENV_NAME" not in types and "TESTING" not in types


@pytest.mark.parametrize("variable, raw, setting, value", [
    ("UNIONEVENTS_HEALTH_RETENTION_DAYS", "180", "HEALTH_RETENTION_DAYS", 180),
    ("UNIONEVENTS_LOGIN_ACCOUNT_FAILURE_LIMIT", "5 per minute", "LOGIN_ACCOUNT_FAILURE_LIMIT", "5 per minute"),
    ("UNIONEVENTS_DB_POOL_SIZE", " 3 ", "DB_POOL_SIZE", 3),
    ("UNIONEVENTS_DB_PING_AFTER_IDLE_SECONDS", "2.5", "DB_PING_AFTER_IDLE_SECONDS", 2.5),
    ("UNIONEVENTS_UPLOAD_FSYNC", "off", "UPLOAD_FSYNC", False),
    ("UNIONEVENTS_LANGUAGES", '{"zh_Hans": "中文"}', "LANGUAGES", {"zh_Hans": "中文"}),
    ("PROXY_FIX_HOPS", "1", "PROXY_FIX_HOPS", 1),
    ("DATABASE_URL", "sqlite:///x.db", "SQLALCHEMY_DATABASE_URI", "sqlite:///x.db"),
])
def test_a_setting_comes_from_the_environment_parsed_by_its_type(env, tmp_path, variable, raw, setting, value):
    env.setenv(variable, raw)
    app = create_app("development", instance_path=tmp_path)
    assert app.config[setting] == value


@pytest.mark.parametrize("variable, raw", [
    ("PROXY_FIX_HOPS", "one"),
    ("UNIONEVENTS_PROXY_FIX_HOPS", "1.5"),
    ("PROXY_FIX_HOPS", "-1"),
    ("UNIONEVENTS_HEALTH_RETENTION_DAYS", "0"),
    ("OUTBOX_RETENTION_DAYS", "ninety"),
    ("SESSION_COOKIE_SECURE", "maybe"),
    ("UNIONEVENTS_DB_PING_AFTER_IDLE_SECONDS", "nan"),
    ("UNIONEVENTS_LOGIN_ACCOUNT_FAILURE_LIMIT", "ten a minute"),
    ("OUTBOX_SENDER", "carrier-pigeon"),
    ("UNIONEVENTS_LANGUAGES", "[1, 2]"),
    ("UNIONEVENTS_HEALTH_RETENTON_DAYS", "30"),  # a typo is not silently ignored
    ("UNIONEVENTS_ENV", "prod"),
])
def test_an_invalid_value_stops_the_start_naming_the_variable(env, tmp_path, variable, raw):
    env.setenv(variable, raw)
    with pytest.raises(SettingError, match=variable):
        create_app(instance_path=tmp_path)


def test_the_prefixed_name_wins_over_the_old_unprefixed_one():
    found = from_environ(Config, {"PROXY_FIX_HOPS": "1", "UNIONEVENTS_PROXY_FIX_HOPS": "2"})
    assert found["PROXY_FIX_HOPS"] == 2


def test_empty_values_count_as_unset():
    assert from_environ(Config, {"PROXY_FIX_HOPS": "", "UNIONEVENTS_REDIS_URL": " "}) == {}


def test_secure_cookies_cover_the_remember_cookie_and_stay_on_in_production(env, tmp_path):
    env.setenv("SESSION_COOKIE_SECURE", "1")
    app = create_app("development", instance_path=tmp_path)
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
    env.setenv("SESSION_COOKIE_SECURE", "0")
    env.setenv("SECRET_KEY", "k" * 40)
    app = create_app("production", instance_path=tmp_path)
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True


def test_pool_sizes_reach_the_postgresql_engine(env, tmp_path):
    env.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    env.setenv("UNIONEVENTS_DB_POOL_SIZE", "4")
    env.setenv("UNIONEVENTS_DB_MAX_OVERFLOW", "0")
    app = create_app("development", instance_path=tmp_path)
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 4 and options["max_overflow"] == 0


def test_instance_config_values_are_checked_too(env, tmp_path):
    (tmp_path / "config.py").write_text('PROXY_FIX_HOPS = "one"\n')
    with pytest.raises(SettingError, match="PROXY_FIX_HOPS in instance/config.py"):
        create_app("development", instance_path=tmp_path)
    (tmp_path / "config.py").write_text('HEALTH_RETENTION_DAYS = "30"\nSQLITE_WRITE_LOCK_WARN_MS = True\n')
    with pytest.raises(SettingError, match="SQLITE_WRITE_LOCK_WARN_MS"):
        create_app("development", instance_path=tmp_path)
    (tmp_path / "config.py").write_text('HEALTH_RETENTION_DAYS = "30"\nOUTBOX_SENDER = "sms"\n')
    with pytest.raises(SettingError, match="OUTBOX_SENDER in instance/config.py"):
        create_app("development", instance_path=tmp_path)
    (tmp_path / "config.py").write_text('import datetime\nHEALTH_RETENTION_DAYS = "30"\n'
                                        'PERMANENT_SESSION_LIFETIME = datetime.timedelta(hours=8)\n')
    app = create_app("development", instance_path=tmp_path)
    assert app.config["HEALTH_RETENTION_DAYS"] == 30  # a string from the file, parsed
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 8 * 3600  # Flask takes a timedelta


def test_every_setting_of_production_can_come_from_the_environment():
    """No setting is left to instance/config.py only: each parses from a string of its own default."""
    import json

    for name, kind in setting_types(ProductionConfig).items():
        default = getattr(ProductionConfig, name)
        if default is None or name.startswith("TESTING_"):
            continue
        raw = json.dumps(default) if kind in (dict, list) else str(int(default) if kind is bool else default)
        assert from_environ(ProductionConfig, {PREFIX + name: raw})[name] == default, name


def test_the_app_entry_point_exits_with_one_clear_line(env):
    """gunicorn and `flask` import app.py: a bad value is one line on stderr and exit status 1."""
    environ = {k: v for k, v in os.environ.items() if k not in LEGACY_NAMES and not k.startswith(PREFIX)}
    environ.update(PROXY_FIX_HOPS="one", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=environ, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "PROXY_FIX_HOPS='one'" in result.stderr and "whole number" in result.stderr
    assert "Traceback" not in result.stderr
