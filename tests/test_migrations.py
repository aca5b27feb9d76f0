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


def test_entries_without_a_registration_stop_the_upgrade_and_nothing_is_lost(worker_id, tmp_path, caplog):
    """e7b2c4d6f8a1 makes contest_entry.registration_id NOT NULL.  An entry that lost its registration
    gets the entrant's latest one; an entry whose entrant has none at all stops the upgrade, which
    names it and changes nothing (a migration never deletes a contestant's entry)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    from unionevents.accounts.models import Role
    from unionevents.activities.models import ActivityKind
    from unionevents.contests import services as contests
    from unionevents.contests.models import ContestFormat

    from .contests.conftest import photo_bytes, upload
    from .factories import Factories

    url = worker_database_url(worker_id, tmp_path, suffix="_entries")
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                              "UPLOAD_DIR": str(tmp_path / "uploads")})

    def sql(statement, **params):
        db.session.remove()
        with db.engine.begin() as connection:
            return connection.execute(text(statement), params).all() if statement.startswith("SELECT") \
                else connection.execute(text(statement), params)

    def revision():
        db.session.remove()
        with db.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    try:
        with application.app_context(), application.test_request_context():
            upgrade()
            make = Factories()
            tree = make.tree()
            organiser = make.user("组织者", role=Role.ORGANISER, scope=tree["朝阳区总工会"])
            activity = make.activity("职工摄影大赛", node=tree["朝阳区总工会"], kind=ActivityKind.CONTEST,
                                     capacity=100, waitlist_enabled=False)
            contests.setup_contest(organiser, activity.id, contests.ContestSettings(
                format=ContestFormat.PHOTO, entry_limit=3))
            entrants = [make.user(name, union="奥运村快递驿站联合工会") for name in ("张小花", "李大山")]
            for person in entrants:
                contests.submit_entry(person, activity.id, contests.EntryData(title="春天的工地"),
                                      [upload(photo_bytes())])
            stranger_id, entrant_ids = make.user("王路人").id, [person.id for person in entrants]
            activity_id = activity.id
            downgrade(revision="-1")
            old = revision()
            sql("UPDATE contest_entry SET registration_id = NULL")
            sql("UPDATE contest_entry SET user_id = :stranger WHERE user_id = :entrant",
                stranger=stranger_id, entrant=entrant_ids[1])
            (lost_id,) = sql("SELECT id FROM contest_entry WHERE user_id = :u", u=stranger_id)[0]

            # flask db upgrade logs the message and exits with status 1
            with pytest.raises(SystemExit) as stopped:
                upgrade(revision="+1")
            assert stopped.value.code == 1 and f"ids [{lost_id}]" in caplog.text
            assert revision() == old
            assert sql("SELECT COUNT(*) FROM contest_entry")[0][0] == 2
            assert "contest_entry_member" not in inspect(db.engine).get_table_names()

            sql("UPDATE contest_entry SET user_id = :entrant WHERE id = :id", entrant=entrant_ids[1], id=lost_id)
            upgrade(revision="+1")
            rows = sql("SELECT e.user_id, r.user_id, r.activity_id FROM contest_entry e "
                       "JOIN registration r ON r.id = e.registration_id")
            assert sorted(rows) == sorted((person_id, person_id, activity_id) for person_id in entrant_ids)
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
