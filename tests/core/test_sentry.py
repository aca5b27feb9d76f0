"""Sentry (optional): on with SENTRY_DSN, errors reach it through a transport that records them here,
and no mobile number, name, e-mail, cookie, token, query string or SQL parameter goes with them."""
from __future__ import annotations

import json

import pytest
import sentry_sdk
from flask import abort
from sentry_sdk.transport import Transport

from unionevents import create_app
from unionevents.core.sentry import init_sentry, scrub_event, scrub_text

DSN = "https://public@sentry.example.invalid/1"


class RecordingTransport(Transport):
    """Keeps the envelopes the SDK would send."""

    def __init__(self, options=None):
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type in ("event", "transaction"):
                self.events.append(json.loads(item.payload.get_bytes()))

    def flush(self, timeout, callback=None):
        return None


@pytest.fixture
def reporting_app(tmp_path):
    app = create_app({"TESTING": True, "SENTRY_DSN": DSN, "PROPAGATE_EXCEPTIONS": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'sentry.db'}"},
                     instance_path=tmp_path)
    transport = RecordingTransport()
    assert init_sentry(app, transport=transport)

    @app.route("/boom/<int:number>", methods=["GET", "POST"])
    def boom(number):
        if number == 404:
            abort(404)
        mobile, name = "13812345678", "王小明"
        raise RuntimeError(f"could not sign up {name} ({mobile}, wang@example.org)\n"
                           f"[SQL: INSERT INTO user (mobile, name) VALUES (?, ?)]\n"
                           f"[parameters: ('{mobile}', '{name}')]")

    app.transport = transport
    yield app
    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None)


def _sent(app) -> list[dict]:
    sentry_sdk.get_client().flush(timeout=5)
    return app.transport.events


def test_without_a_dsn_nothing_starts(tmp_path):
    app = create_app({"TESTING": True}, instance_path=tmp_path)
    assert app.config["SENTRY_DSN"] is None
    assert init_sentry(app) is False


def test_an_error_is_reported_without_personal_data(reporting_app):
    client = reporting_app.test_client()
    client.set_cookie("session", "secret-session-cookie")
    response = client.post("/boom/1?mobile=13812345678&name=%E7%8E%8B", data={"mobile": "13812345678"},
                           headers={"Authorization": "Bearer ue_secrettoken", "X-Request-ID": "req-123",
                                    "X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 500
    events = _sent(reporting_app)
    assert len(events) == 1
    event = events[0]
    text = json.dumps(event, ensure_ascii=False)
    for secret in ("13812345678", "王小明", "wang@example.org", "secret-session-cookie", "ue_secrettoken",
                   "203.0.113.9", "name=", "mobile="):
        assert secret not in text, secret
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError"
    assert "138****5678" in exception["value"] and "[parameters: …]" in exception["value"]
    assert event["request"]["url"].endswith("/boom/1") and event["request"]["method"] == "POST"
    assert event["tags"]["request_id"] == "req-123"  # the same id as the request's JSON log line
    assert event["environment"] == "testing"
    # No local variables of the frames (they hold the user, the form, the row).
    frames = exception["stacktrace"]["frames"]
    assert frames and not any("vars" in frame and frame["vars"] != "[Filtered]" for frame in frames)


def test_expected_http_errors_are_not_reported(reporting_app):
    assert reporting_app.test_client().get("/boom/404").status_code == 404
    assert _sent(reporting_app) == []


def test_scrub_text_masks_what_identifies_a_person():
    assert scrub_text("call 13912345678 or 8613912345678x") == "call 139****5678 or 8613912345678x"
    assert scrub_text("user 张三丰 failed") == "user […] failed"
    assert scrub_text("mail a.b+c@example.com.cn now") == "mail [email] now"
    event = scrub_event({"request": {"url": "https://x/y?mobile=1", "method": "GET", "cookies": {"s": "1"},
                                     "headers": {"Cookie": "s=1", "User-Agent": "ua"}},
                         "user": {"id": 1}, "extra": {"mobile": "13912345678"}})
    assert event["request"] == {"method": "GET", "url": "https://x/y", "headers": {"User-Agent": "ua"}}
    assert "user" not in event and event["extra"]["mobile"] == "[Filtered]"
