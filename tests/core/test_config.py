"""Configuration: secrets, the instance folder, environment overrides and test-only switches."""
from __future__ import annotations

import logging
import stat

import pytest

from unionevents import create_app
from unionevents.config import ProductionConfig
from unionevents.core import db as core_db  # not `import testing_flag`: pytest would collect it

@pytest.fixture
def clean_env(monkeypatch):
    """No configuration from the developer's shell, and the log setup restored afterwards."""
    import os

    from unionevents.core.settings import LEGACY_NAMES, PREFIX

    for key in list(os.environ):
        if key in LEGACY_NAMES or key.startswith(PREFIX):
            monkeypatch.delenv(key, raising=False)
    logger = logging.getLogger("unionevents")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield monkeypatch
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def test_production_refuses_to_start_without_a_secret_key(clean_env, tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production", instance_path=tmp_path)
    assert not (tmp_path / "secret_key").exists()  # production never invents one


def test_production_takes_the_secret_key_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("SECRET_KEY", "k" * 40)
    app = create_app("production", instance_path=tmp_path)
    assert app.config["SECRET_KEY"] == "k" * 40
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_production_is_chosen_by_unionevents_env(clean_env, tmp_path):
    clean_env.setenv("UNIONEVENTS_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(instance_path=tmp_path)


def test_development_writes_a_random_secret_key_once(clean_env, tmp_path):
    app = create_app("development", instance_path=tmp_path)
    key_file = tmp_path / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app.config["SECRET_KEY"]) >= 40
    again = create_app("development", instance_path=tmp_path)
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'unionevents.db'}"


def test_instance_config_is_read_and_the_environment_wins(clean_env, tmp_path):
    (tmp_path / "config.py").write_text(
        'SECRET_KEY = "from-instance-config"\n'
        'SQLALCHEMY_DATABASE_URI = "sqlite:///instance-config.db"\n'
        'OUTBOX_SENDER = "log"\n'
    )
    app = create_app("development", instance_path=tmp_path)
    assert app.config["SECRET_KEY"] == "from-instance-config"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///instance-config.db"
    assert not (tmp_path / "secret_key").exists()

    clean_env.setenv("DATABASE_URL", "sqlite:///from-env.db")
    clean_env.setenv("SECRET_KEY", "from-env")
    app = create_app("development", instance_path=tmp_path)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///from-env.db"
    assert app.config["SECRET_KEY"] == "from-env"


def test_upload_and_backup_folders_come_from_the_environment(clean_env, tmp_path):
    assert create_app("development", instance_path=tmp_path).config["UPLOAD_DIR"] is None  # instance/uploads
    clean_env.setenv("UPLOAD_DIR", str(tmp_path / "photos"))
    clean_env.setenv("BACKUP_DIR", str(tmp_path / "backups"))
    app = create_app("development", instance_path=tmp_path)
    assert app.config["UPLOAD_DIR"] == str(tmp_path / "photos")
    assert app.config["BACKUP_DIR"] == str(tmp_path / "backups")


def test_redis_url_switches_rate_limits_to_redis(clean_env, tmp_path):
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    app = create_app("development", instance_path=tmp_path)
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"


def test_tests_ignore_the_developers_environment(clean_env, tmp_path):
    clean_env.setenv("DATABASE_URL", "postgresql+psycopg://nobody@192.0.2.1/production")
    clean_env.setenv("SECRET_KEY", "from-env")
    app = create_app({"TESTING": True}, instance_path=tmp_path)
    assert "192.0.2.1" not in app.config["SQLALCHEMY_DATABASE_URI"]
    assert app.config["SECRET_KEY"] != "from-env"


@pytest.mark.parametrize("switch, value",
                         [("TESTING_DISABLE_CAPACITY_GUARD", True), ("TESTING_RACE_DELAY", 0.5)])
def test_test_only_switches_are_refused_outside_testing(clean_env, tmp_path, switch, value):
    with pytest.raises(RuntimeError, match=switch):
        create_app({switch: value, "SECRET_KEY": "x"}, instance_path=tmp_path)
    clean_env.setenv("SECRET_KEY", "k" * 40)
    with pytest.raises(RuntimeError, match=switch):
        create_app(type("Prod", (ProductionConfig,), {switch: value}), instance_path=tmp_path)


def test_test_only_switches_work_under_testing(clean_env, tmp_path):
    app = create_app({"TESTING": True, "TESTING_DISABLE_CAPACITY_GUARD": True}, instance_path=tmp_path)
    with app.app_context():
        assert core_db.testing_flag("TESTING_DISABLE_CAPACITY_GUARD") is True


def test_testing_flag_reads_nothing_outside_testing(clean_env, tmp_path):
    app = create_app("development", instance_path=tmp_path)
    app.config["TESTING_DISABLE_CAPACITY_GUARD"] = True  # even if set after start-up
    with app.app_context():
        assert core_db.testing_flag("TESTING_DISABLE_CAPACITY_GUARD", False) is False
