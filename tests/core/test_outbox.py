"""The outbox: messages are queued in the caller's transaction and delivered by a configured sender."""
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from unionevents.core.outbox import OutboxMessage, OutboxState, enqueue
from unionevents.core.outbox_delivery import deliver_pending
from unionevents.extensions import db


def test_file_sender_writes_each_pending_message_once(app, make, tmp_path):
    worker = make.user("王骑手", mobile="13912345678")
    enqueue(worker.id, "test", "您已报名成功")
    db.session.commit()
    app.config.update(OUTBOX_SENDER="file", OUTBOX_FILE=str(tmp_path / "out.jsonl"))
    try:
        assert deliver_pending() == 1
        assert deliver_pending() == 0  # already sent
    finally:
        app.config.update(OUTBOX_SENDER="log", OUTBOX_FILE=None)
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["to"] for line in lines] == ["13912345678"]
    assert json.loads(lines[0])["body"] == "您已报名成功"
    assert db.session.scalar(db.select(OutboxMessage.sent_at)) is not None


class _Gateway:
    """A relay on 127.0.0.1 that answers ``status["code"]`` (after ``status["delay"]`` seconds)."""

    def __init__(self):
        self.received, self.status = [], {"code": 202, "delay": 0.0}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                time.sleep(outer.status["delay"])
                self.send_response(outer.status["code"])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(app):
    relay = _Gateway()
    app.config.update(OUTBOX_SENDER="webhook", OUTBOX_WEBHOOK_URL=relay.url, OUTBOX_WEBHOOK_SECRET="s3cret",
                      OUTBOX_WEBHOOK_TIMEOUT=0.5)
    yield relay
    app.config.update(OUTBOX_SENDER="log", OUTBOX_WEBHOOK_URL=None, OUTBOX_WEBHOOK_SECRET=None,
                      OUTBOX_WEBHOOK_TIMEOUT=10)
    relay.close()


def _state(message_id):
    db.session.expire_all()
    return db.session.get(OutboxMessage, message_id)


def test_webhook_sender_signs_its_json_and_retries_a_5xx_later(app, make, gateway, frozen_time):
    frozen_time(datetime(2026, 12, 7, 4, 0))
    worker = make.user("李快递")
    message_id = enqueue(worker.id, "test", "候补成功")
    db.session.commit()
    gateway.status["code"] = 503
    assert deliver_pending() == 0  # the relay is down: kept for later
    message = _state(message_id)
    assert (message.state, message.attempts, message.last_error) == (OutboxState.FAILED, 1, "relay answered HTTP 503")
    gateway.status["code"] = 202
    assert deliver_pending() == 0  # not before its backoff
    frozen_time(message.next_attempt_at)
    assert deliver_pending() == 1
    assert _state(message_id).state is OutboxState.SENT
    assert len(gateway.received) == 2
    headers, body = gateway.received[-1]
    assert json.loads(body) == {"id": message_id, "channel": "sms", "to": worker.mobile, "kind": "test",
                                "subject": "", "body": "候补成功", "attempt": 2}
    timestamp = headers["X-Unionevents-Timestamp"]
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Unionevents-Signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < 60


@pytest.mark.parametrize("code", [400, 403, 404, 422])
def test_webhook_4xx_is_permanent_and_the_message_dies_at_once(app, make, gateway, code):
    message_id = enqueue(make.user("王骑手").id, "test", "活动已取消")
    db.session.commit()
    gateway.status["code"] = code
    assert deliver_pending() == 0
    message = _state(message_id)
    assert (message.state, message.attempts) == (OutboxState.DEAD, 1)
    assert message.last_error == f"relay refused: HTTP {code}"


@pytest.mark.parametrize("code", [500, 502, 429, 408])
def test_webhook_5xx_and_throttling_are_retried(app, make, gateway, code):
    message_id = enqueue(make.user("王骑手").id, "test", "活动已取消")
    db.session.commit()
    gateway.status["code"] = code
    assert deliver_pending() == 0
    assert _state(message_id).state is OutboxState.FAILED


def test_webhook_timeout_and_refused_connection_are_retried(app, make, gateway):
    first = enqueue(make.user("王骑手").id, "test", "一")
    db.session.commit()
    gateway.status["delay"] = 1.0  # the timeout is 0.5 s
    assert deliver_pending() == 0
    assert _state(first).state is OutboxState.FAILED and "relay unreachable" in _state(first).last_error
    gateway.status["delay"] = 0.0
    second = enqueue(make.user("张师傅").id, "test", "二")
    db.session.commit()
    app.config.update(OUTBOX_WEBHOOK_URL="http://127.0.0.1:9/")  # nothing listens on the discard port
    assert deliver_pending() == 0
    assert _state(second).state is OutboxState.FAILED and "relay unreachable" in _state(second).last_error


def test_webhook_sender_refuses_to_start_without_url_or_secret(app):
    from unionevents.core.outbox import make_sender

    with pytest.raises(RuntimeError, match="OUTBOX_WEBHOOK_URL"):
        make_sender({"OUTBOX_SENDER": "webhook"})
    with pytest.raises(RuntimeError, match="OUTBOX_WEBHOOK_SECRET"):
        make_sender({"OUTBOX_SENDER": "webhook", "OUTBOX_WEBHOOK_URL": "http://127.0.0.1:9/"})


def test_log_sender_masks_the_mobile_number(app, make, caplog):
    worker = make.user("陈师傅", mobile="13800001234")
    enqueue(worker.id, "test", "活动已取消")
    db.session.commit()
    with caplog.at_level("INFO", logger="unionevents.outbox"):
        assert deliver_pending() == 1
    assert "138****1234" in caplog.text
    assert "13800001234" not in caplog.text


def test_codes_jump_the_queue_and_reach_numbers_without_an_account(app, make, tmp_path, monkeypatch):
    from unionevents.core.outbox import Priority

    # Quiet hours off: in them the bulk message would wait for the morning (their own tests cover that).
    monkeypatch.setitem(app.config, "OUTBOX_QUIET_HOURS_START", "00:00")
    monkeypatch.setitem(app.config, "OUTBOX_QUIET_HOURS_END", "00:00")
    worker = make.user("赵骑手", mobile="13911112222")
    enqueue(worker.id, "bulk", "周末活动通知", priority=Priority.BULK)
    enqueue(worker.id, "confirmed", "您已报名成功")
    enqueue(None, "code", "验证码 123456", priority=Priority.CODE, address="13933334444")
    db.session.commit()
    app.config.update(OUTBOX_SENDER="file", OUTBOX_FILE=str(tmp_path / "out.jsonl"))
    try:
        assert deliver_pending(limit=1) == 1  # only room for one: the code goes first
        assert deliver_pending() == 2
    finally:
        app.config.update(OUTBOX_SENDER="log", OUTBOX_FILE=None)
    sent = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(m["kind"], m["to"]) for m in sent] == [
        ("code", "13933334444"), ("confirmed", "13911112222"), ("bulk", "13911112222")]
