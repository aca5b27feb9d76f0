"""The SMS code service (accounts/codes.py): expiry, tries, send limits, hashed storage, no enumeration."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from unionevents.accounts import codes
from unionevents.accounts.models import ApiToken, CodePurpose, SmsCode, User
from unionevents.accounts.services import authenticate, issue_token
from unionevents.core.audit import AuditLog
from unionevents.core.errors import ValidationFailed
from unionevents.core.outbox import OutboxMessage, Priority
from unionevents.core.retention import run_job
from unionevents.extensions import db

from ..factories import PASSWORD, last_sms_code

T0 = datetime(2026, 12, 7, 2, 0, 0)
ADDRESS = "198.51.100.7"


@pytest.fixture
def clock(frozen_time):
    """``clock.at(seconds)``: the frozen clock moved to T0 + seconds."""

    class Clock:
        def at(self, seconds: float) -> None:
            frozen_time(T0 + timedelta(seconds=seconds))

    clock = Clock()
    clock.at(0)
    return clock


def send(mobile, purpose=CodePurpose.LOGIN, address=ADDRESS):
    codes.send_code(mobile, purpose, address)
    db.session.commit()
    return last_sms_code(mobile)


def code_rows(mobile=None):
    db.session.expire_all()
    query = select(SmsCode).order_by(SmsCode.id)
    if mobile:
        query = query.where(SmsCode.mobile == mobile)
    return list(db.session.scalars(query))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_a_login_code_logs_in_once_and_is_stored_only_as_a_keyed_digest(make, clock):
    worker = make.user("王骑手", mobile="13912345678")
    code = send("13912345678")
    assert len(code) == 6 and code.isdigit()
    row = code_rows()[0]
    assert row.digest == codes.code_digest(CodePurpose.LOGIN, "13912345678", code)
    assert code not in row.digest and len(row.digest) == 64
    assert row.expires_at == T0 + timedelta(minutes=5) and row.client != ADDRESS
    # No column of the table holds the code in clear text.
    for values in db.session.execute(select(SmsCode.__table__)).all():
        assert all(code not in str(value) for value in values)

    assert codes.login_with_code("13912345678", code).id == worker.id
    with pytest.raises(ValidationFailed) as used:
        codes.login_with_code("13912345678", code)
    assert used.value.errors == {"code": [str(codes.MSG_BAD_CODE)]}


def test_the_code_message_jumps_the_queue_and_names_no_account(make, clock):
    worker = make.user("王骑手", mobile="13912345678")
    send("13912345678")
    message = db.session.scalar(select(OutboxMessage))
    assert message.priority == Priority.CODE and message.user_id == worker.id
    assert message.kind == "code.login" and "5" in message.body and "王骑手" not in message.body


def test_a_code_expires_after_five_minutes(make, clock):
    make.user(mobile="13912345678")
    code = send("13912345678")
    clock.at(5 * 60 - 1)
    assert codes.login_with_code("13912345678", code)
    clock.at(10 * 60)
    later = send("13912345678")
    clock.at(10 * 60 + 5 * 60)  # exactly at expiry: dead
    with pytest.raises(ValidationFailed):
        codes.login_with_code("13912345678", later)


def test_five_wrong_tries_kill_the_code(make, clock):
    make.user(mobile="13912345678")
    code = send("13912345678")
    for _ in range(codes.MAX_FAILURES):
        with pytest.raises(ValidationFailed):
            codes.login_with_code("13912345678", wrong(code))
    assert code_rows()[0].failures == codes.MAX_FAILURES
    with pytest.raises(ValidationFailed):  # the right code no longer works either
        codes.login_with_code("13912345678", code)


def test_four_wrong_tries_leave_the_code_usable(make, clock):
    make.user(mobile="13912345678")
    code = send("13912345678")
    for _ in range(codes.MAX_FAILURES - 1):
        with pytest.raises(ValidationFailed):
            codes.login_with_code("13912345678", wrong(code))
    assert codes.login_with_code("13912345678", code)


def test_a_new_code_replaces_the_old_one_and_purposes_do_not_mix(make, clock):
    make.user(mobile="13912345678")
    first = send("13912345678")
    clock.at(61)
    second = send("13912345678")
    if first != second:
        with pytest.raises(ValidationFailed):
            codes.login_with_code("13912345678", first)
    clock.at(122)
    reset = send("13912345678", CodePurpose.RESET)
    with pytest.raises(ValidationFailed):  # a reset code is no login code
        codes.login_with_code("13912345678", reset)
    assert codes.login_with_code("13912345678", second)


def test_one_send_per_number_per_minute(make, clock):
    make.user(mobile="13912345678")
    send("13912345678")
    clock.at(30)
    with pytest.raises(codes.CodeRateLimited) as refused:
        send("13912345678", CodePurpose.RESET)  # whatever the purpose
    assert refused.value.retry_after == 30 and refused.value.http_status == 429
    clock.at(60)
    assert send("13912345678", CodePurpose.RESET)
    assert len(code_rows()) == 2


def test_daily_cap_per_number(app, make, clock):
    cap = app.config["SMS_CODE_MOBILE_DAILY_LIMIT"]
    make.user(mobile="13912345678")
    for i in range(cap):
        clock.at(i * 61)
        send("13912345678", address=f"192.0.2.{i}")
    clock.at(cap * 61)
    with pytest.raises(codes.CodeRateLimited) as refused:
        send("13912345678", address="192.0.2.250")
    assert refused.value.retry_after == 24 * 3600 - cap * 61  # until the first send is a day old
    clock.at(24 * 3600 + 1)  # a rolling day later the first send no longer counts
    assert send("13912345678", address="192.0.2.250")


def test_daily_cap_per_address_counts_every_number(app, make, clock):
    app.config["SMS_CODE_ADDRESS_DAILY_LIMIT"] = 3
    try:
        for i in range(3):
            send(f"1390000000{i}")
        with pytest.raises(codes.CodeRateLimited):
            send("13900000009")
        send("13900000009", address="192.0.2.99")  # another address is not affected
        assert len(code_rows("13900000009")) == 1
    finally:
        app.config["SMS_CODE_ADDRESS_DAILY_LIMIT"] = 200


def test_unknown_numbers_are_recorded_and_limited_alike_but_not_texted(make, clock):
    make.user(mobile="13912345678")
    for mobile in ("13912345678", "13987654321"):
        codes.send_code(mobile, CodePurpose.LOGIN, ADDRESS)
        db.session.commit()
    assert [row.mobile for row in code_rows()] == ["13912345678", "13987654321"]
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1  # only the account's
    with pytest.raises(codes.CodeRateLimited):  # the same limit for the unknown number
        codes.send_code("13987654321", CodePurpose.LOGIN, ADDRESS)
    with pytest.raises(ValidationFailed):  # and nobody can log in with it
        codes.login_with_code("13987654321", "000000")


def test_a_sign_up_code_goes_to_the_number_whether_or_not_it_has_an_account(make, clock):
    make.user(mobile="13912345678")
    for mobile in ("13912345678", "13987654321"):
        codes.send_code(mobile, CodePurpose.SIGNUP, ADDRESS)
        db.session.commit()
    messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [(m.user_id, m.address, m.kind) for m in messages] == [
        (None, "13912345678", "code.signup"), (None, "13987654321", "code.signup")]
    bodies = [m.body.replace(last_sms_code(m.address), "CODE") for m in messages]
    assert bodies[0] == bodies[1]


def test_a_malformed_number_is_a_field_error_and_sends_nothing(clock):
    with pytest.raises(ValidationFailed) as error:
        codes.send_code("12345", CodePurpose.LOGIN, ADDRESS)
    assert "mobile" in error.value.errors and code_rows() == []


def test_the_first_code_login_activates_an_account_made_by_the_union(make, clock):
    walk_in = make.user("现场报名", mobile="13700000251", password=None)
    walk_in.activated = False
    db.session.commit()
    user = codes.login_with_code("13700000251", send("13700000251"))
    assert user.activated and user.is_active and user.password_hash is None
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.login_code"))
    assert audit.actor_id == walk_in.id and audit.data == {"first_login": True}


def test_a_code_login_revokes_nothing(make, clock):
    worker = make.user(mobile="13912345678")
    token = issue_token(worker, "phone")
    version = worker.session_version
    codes.login_with_code("13912345678", send("13912345678"))
    db.session.expire_all()
    assert db.session.get(User, worker.id).session_version == version
    assert db.session.scalar(select(ApiToken.revoked_at)) is None and token


def test_a_reset_sets_the_password_revokes_tokens_and_is_audited(make, clock):
    worker = make.user(mobile="13912345678")
    issue_token(worker, "phone")
    version = worker.session_version
    code = send("13912345678", CodePurpose.RESET)
    with pytest.raises(ValidationFailed) as weak:  # a weak password is reported first ...
        codes.reset_password("13912345678", code, "short")
    assert set(weak.value.errors) == {"password"}
    user = codes.reset_password("13912345678", code, "NewPass123")  # ... and did not use the code up
    assert authenticate("13912345678", "NewPass123").id == worker.id
    assert authenticate("13912345678", PASSWORD) is None
    assert user.session_version == version + 1
    assert db.session.scalar(select(ApiToken.revoked_at)) is not None
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.reset_password"))
    assert audit.actor_id == worker.id and audit.data == {"tokens_revoked": 1}


def test_old_code_rows_are_purged_after_a_day(make, clock):
    send("13912345678")
    clock.at(23 * 3600)
    assert run_job("sms-codes") == 0
    clock.at(24 * 3600 + 1)
    assert run_job("sms-codes") == 1 and code_rows() == []


def test_erasing_an_account_forgets_its_codes(make, clock):
    from unionevents.accounts.privacy import erase_account

    worker = make.user(mobile="13912345678")
    send("13912345678")
    erase_account(worker)
    assert code_rows() == []
