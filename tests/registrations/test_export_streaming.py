"""Streamed downloads as a real server runs them: no app context (and so no database session) is kept
open around the request.

Everywhere else the suite's autouse ``_app_context`` fixture keeps one app context pushed around every
test, so a request reuses it and its session outlives the request: a streamed body that lazy-loads
from an object the view loaded then still works.  Under gunicorn or ``flask run`` the request's
context is popped (and its session removed) when the view returns, before the body is iterated.  The
roster CSV export answered 500 for every activity that way (``DetachedInstanceError`` on
``activity.slots`` / ``questions`` inside the ``stream_with_context`` generator).  These tests override
both autouse fixtures, so nothing but the request itself holds a context.
"""
from __future__ import annotations

import csv
import io
import json
import logging

import pytest
from flask import Response, stream_with_context

from unionevents.activities.models import ActivityKind, QuestionKind
from unionevents.activities.services import add_question, add_slots
from unionevents.core import timeutil
from unionevents.core.logging import access_log
from unionevents.extensions import db
from unionevents.registrations.services import register

from ..conftest import _empty_all_tables
from ..factories import Factories


@pytest.fixture
def _app_context(app):
    """No app context around the test (overrides the suite's autouse one); the tables are still emptied."""
    yield
    with app.app_context():
        db.session.rollback()
        timeutil.freeze(None)
        _empty_all_tables()
        db.session.remove()


@pytest.fixture
def _request_context():
    """tests/registrations pushes a request context around every test: not here."""
    yield


@pytest.fixture
def organiser_client(app):
    """An organiser of 丰台区玉泉营街道总工会, logged in on a fresh client; built in a context of its own
    that is gone before the test makes its requests."""
    make = Factories()
    with app.app_context():
        tree = make.tree()
        organiser = make.user("组织者", role=_organiser_role(), scope=tree["丰台区玉泉营街道总工会"])
        user_id = organiser.get_id()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
    return client


def _organiser_role():  # imported late: keeps the module imports to what the tests read
    from unionevents.accounts.models import Role
    return Role.ORGANISER


def _activity_with_people(app, *, slots: bool) -> int:
    make = Factories()
    with app.app_context():
        kind = ActivityKind.HEALTH if slots else ActivityKind.CLASS_
        activity = make.activity("花卉养护课", kind=kind, capacity=0 if slots else 10)
        if slots:
            add_slots(activity, activity.starts_at, activity.ends_at, 30, 3)
        question = add_question(activity, "尺码", QuestionKind.SINGLE_CHOICE, choices=["M", "L"])
        db.session.commit()
        for i in range(3):
            worker = make.user(f"职工{i}")
            slot_id = activity.slots[0].id if slots else None
            register(worker, activity.id, answers={str(question.id): "L"}, slot_id=slot_id, health_consent=slots)
        db.session.commit()
        activity_id = activity.id
        db.session.remove()
    return activity_id


@pytest.mark.parametrize("slots", [False, True], ids=["class", "health with slots"])
def test_roster_csv_streams_after_the_request_session_is_closed(app, organiser_client, slots):
    activity_id = _activity_with_people(app, slots=slots)
    response = organiser_client.post(f"/manage/activities/{activity_id}/roster/export", data={"format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(rows) == 4  # the header and three people
    assert rows[0][-1] == "尺码"
    assert all(row[-1] == "L" for row in rows[1:])


def test_roster_xlsx_downloads_without_an_outer_context(app, organiser_client):
    from openpyxl import load_workbook

    activity_id = _activity_with_people(app, slots=False)
    response = organiser_client.post(f"/manage/activities/{activity_id}/roster/export", data={"format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    assert len(list(sheet.iter_rows(values_only=True))) == 4


# --------------------------------------------------------------------------- the request log


@pytest.fixture
def request_log():
    """The JSON lines the request log writes during the test."""
    from unionevents.core.logging import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    old_level = access_log.level
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    access_log.removeHandler(handler)
    access_log.setLevel(old_level)


@pytest.fixture(scope="module")
def streaming_app(database_url):
    """An app of its own with two streamed routes: one that completes, one that fails mid-body."""
    from unionevents import create_app
    from unionevents.core.permissions import public

    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})

    def stream_ok():
        return Response(stream_with_context(iter(["a", "b"])), mimetype="text/plain")

    def stream_broken():
        def body():
            yield "first part,"
            raise RuntimeError("the database went away mid-download")
        return Response(stream_with_context(body()), mimetype="text/plain")

    application.add_url_rule("/__test/stream-ok", "stream_ok", public(stream_ok))
    application.add_url_rule("/__test/stream-broken", "stream_broken", public(stream_broken))
    yield application
    with application.app_context():
        db.engine.dispose()


def _log_lines(lines, path):
    return [line for line in lines if line.get("path") == path]


def test_request_log_records_a_completed_stream_once_with_its_status(streaming_app, request_log):
    client = streaming_app.test_client()
    response = client.get("/__test/stream-ok")
    assert response.get_data() == b"ab"
    (line,) = _log_lines(request_log(), "/__test/stream-ok")
    assert line["status"] == 200 and line["level"] == "INFO"


def test_request_log_records_a_stream_that_fails_after_its_headers_as_an_error(streaming_app, request_log):
    client = streaming_app.test_client()
    response = client.get("/__test/stream-broken")
    assert response.status_code == 200  # the headers went out before the body failed
    with pytest.raises(RuntimeError):
        response.get_data()
    (line,) = _log_lines(request_log(), "/__test/stream-broken")
    assert line["level"] == "ERROR"
    assert line["status"] == 500, "the client got a broken body, not a 200"
    assert "the database went away" in line["traceback"]
