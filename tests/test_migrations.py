"""The migrations build exactly the models' schema, go down and up again, and have one head.

Two views of the same promise: pytest-alembic's standard checks (one head, upgrade from empty,
model definitions match the DDL, every step down and up again), and our own round trip that also
checks which tables exist at each end.  Both run on SQLite and on PostgreSQL (TEST_DATABASE_URL).
"""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from pytest_alembic import Config as AlembicConfig
from pytest_alembic.plugin.fixtures import alembic_runner  # noqa: F401  (the plugin is not loaded)
from pytest_alembic.tests import (  # noqa: F401  (collected from here)
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import create_engine, inspect

from unionevents import create_app
from unionevents.extensions import db

from .conftest import worker_database_url


@pytest.fixture(scope="module")
def migrated_app(worker_id, tmp_path_factory):
    """An app on its own, empty database (not the shared test database, which create_all builds)."""
    url = worker_database_url(worker_id, tmp_path_factory.mktemp("mig"), suffix="_mig")
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def alembic_config():
    return AlembicConfig(config_options={"file": "migrations/alembic.ini", "script_location": "migrations"})


@pytest.fixture
def alembic_engine(migrated_app, worker_id, tmp_path):
    """A fresh, empty database per pytest-alembic check; env.py reads the models from the app."""
    engine = create_engine(worker_database_url(worker_id, tmp_path, suffix="_pa"))
    with migrated_app.app_context():
        yield engine
    engine.dispose()


def _differences():
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"render_as_batch": True, "compare_type": True})
        return compare_metadata(context, db.metadata)


def _tables():
    return set(inspect(db.engine).get_table_names())


def test_upgrade_matches_models_and_downgrade_upgrade_round_trips(migrated_app):
    with migrated_app.app_context():
        upgrade()
        assert _differences() == []
        assert {"user", "union_node", "activity", "registration"} <= _tables()

        downgrade(revision="base")
        db.engine.dispose()  # SQLite batch operations leave cached table info behind
        assert _tables() == {"alembic_version"}

        upgrade()
        assert _differences() == []


def test_single_migration_head(migrated_app):
    with migrated_app.app_context():
        config = migrated_app.extensions["migrate"].migrate.get_config()
        heads = ScriptDirectory.from_config(config).get_heads()
        assert len(heads) == 1, f"several migration heads: {heads}"


def test_every_step_of_this_waves_migrations_keeps_the_registrations(worker_id, tmp_path):
    """SQLite rebuilds a table to change it (copy, DROP TABLE, rename); with foreign keys on, the
    DROP of `activity` deleted every registration through ON DELETE CASCADE. Each step down and up
    again keeps them (migrations/env.py turns foreign keys off while migrating, then checks them)."""
    from sqlalchemy import text

    from unionevents.registrations import services

    from .factories import Factories

    url = worker_database_url(worker_id, tmp_path, suffix="_steps")
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})

    def counts():
        db.session.remove()
        db.engine.dispose()
        with db.engine.connect() as connection:
            return tuple(connection.scalar(text(f"SELECT COUNT(*) FROM {table}"))
                         for table in ("registration", "activity", '"user"'))

    try:
        with application.app_context(), application.test_request_context():
            upgrade()
            make = Factories()
            activity = make.activity("花卉养护课", capacity=30)
            for i in range(6):
                services.register(make.user(f"骑手{i}"), activity.id)
            before = counts()
            assert before[0] == 6
            steps = 5  # this wave's schema changes, activity rebuilt by several of them
            for _ in range(steps):
                downgrade(revision="-1")
                assert counts() == before
            for _ in range(steps):
                upgrade(revision="+1")
                assert counts() == before
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
