"""The migration that brings ticket codes gives every existing place one, unique per activity."""
from __future__ import annotations

from collections import Counter

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from unionevents import create_app
from unionevents.extensions import db
from unionevents.registrations import services, ticket_codes
from unionevents.registrations.models import Registration

from ..conftest import worker_database_url
from ..factories import Factories

BEFORE = "d3a9f1c7e5b2"  # the revision before ticket codes


@pytest.fixture
def migrated_app(worker_id, tmp_path):
    url = worker_database_url(worker_id, tmp_path, suffix="_codes")
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_existing_places_get_codes_when_the_migration_runs(migrated_app):
    with migrated_app.app_context(), migrated_app.test_request_context():
        upgrade()
        make = Factories()
        first, second = make.activity("甲"), make.activity("乙", capacity=30)
        workers = [make.user(f"骑手{i}") for i in range(25)]
        for worker in workers[:5]:
            services.register(worker, first.id)
        for worker in workers:
            services.register(worker, second.id)
        db.session.remove()

        downgrade(revision=BEFORE)  # the column goes: these rows now stand for the rows of an older release
        db.engine.dispose()
        upgrade()
        db.engine.dispose()

        rows = db.session.execute(select(Registration.activity_id, Registration.ticket_code)).all()
        assert len(rows) == 30
        assert all(ticket_codes.normalise(code) == code for _activity, code in rows)
        assert max(Counter(rows).values()) == 1  # unique per activity
