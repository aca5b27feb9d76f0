"""The outbox: messages are queued in the caller's transaction and delivered by a configured sender."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from unionevents.core.outbox import OutboxMessage, deliver_pending, enqueue
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


def test_webhook_sender_posts_json_and_retries_failures(app, make):
    received = []
    status = {"code": 500}

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    worker = make.user("李快递")
    enqueue(worker.id, "test", "候补成功")
    db.session.commit()
    app.config.update(OUTBOX_SENDER="webhook", OUTBOX_WEBHOOK_URL=f"http://127.0.0.1:{server.server_port}/")
    try:
        assert deliver_pending() == 0  # the gateway refused: kept for the next run
        message = db.session.scalar(db.select(OutboxMessage))
        assert message.sent_at is None and message.attempts == 1 and message.last_error
        status["code"] = 202
        assert deliver_pending() == 1
    finally:
        app.config.update(OUTBOX_SENDER="log", OUTBOX_WEBHOOK_URL=None)
        server.shutdown()
    assert [r["body"] for r in received] == ["候补成功", "候补成功"]
    assert received[-1]["to"] == worker.mobile


def test_log_sender_masks_the_mobile_number(app, make, caplog):
    worker = make.user("陈师傅", mobile="13800001234")
    enqueue(worker.id, "test", "活动已取消")
    db.session.commit()
    with caplog.at_level("INFO", logger="unionevents.outbox"):
        assert deliver_pending() == 1
    assert "138****1234" in caplog.text
    assert "13800001234" not in caplog.text


def test_codes_jump_the_queue_and_reach_numbers_without_an_account(app, make, tmp_path):
    from unionevents.core.outbox import Priority

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
