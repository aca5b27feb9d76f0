"""An account the union made for a worker (walk-in, import, enrolment) carries no consent: its worker
accepts the privacy notice themselves before anything else, once, and the acceptance is audited."""
from __future__ import annotations

from sqlalchemy import select

from unionevents.accounts.models import User
from unionevents.accounts.services import create_user, issue_token
from unionevents.core.audit import AuditLog
from unionevents.core.db import write_transaction
from unionevents.extensions import db

from ..factories import send_sms_code


def made_for_a_worker(make, mobile="13700000311") -> User:
    organiser = make.user("组织者", mobile="13800000311")
    with write_transaction():
        user = create_user(mobile, "到场职工", None, created_by=organiser, activated=False)
    return user


def test_the_worker_accepts_the_notice_before_anything_else(client, tree, make):
    walk_in = made_for_a_worker(make)
    activity = make.activity()
    target = f"/activities/{activity.id}"
    code = send_sms_code(client, "/account/login/code", walk_in.mobile)
    logged_in = client.post("/account/login/code", data={"mobile": walk_in.mobile, "code": code, "next": target})
    assert logged_in.status_code == 302 and logged_in.location == target

    held = client.get(target)
    assert held.status_code == 302 and held.location.startswith("/account/privacy/accept?next=")
    page = client.get(held.location)
    assert page.status_code == 200 and "隐私政策" in page.get_data(as_text=True)
    assert client.get("/account/privacy").status_code == 200  # the notice itself stays open

    refused = client.post("/account/privacy/accept", data={"next": target})
    assert refused.status_code == 422 and "请阅读并同意《隐私政策》" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, walk_in.id).privacy_version is None

    accepted = client.post("/account/privacy/accept", data={"accept_privacy": "y", "next": target})
    assert accepted.status_code == 302 and accepted.location == target
    assert client.get(target).status_code == 200
    db.session.expire_all()
    user = db.session.get(User, walk_in.id)
    assert user.privacy_version == client.application.config["PRIVACY_NOTICE_VERSION"]
    assert user.privacy_accepted_at is not None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.accept_privacy",
                                                    AuditLog.actor_id == walk_in.id)) is not None
    assert client.get("/account/privacy/accept").status_code == 302  # nothing left to accept


def test_workers_who_signed_up_themselves_are_not_asked_again(client, tree, make, login):
    worker = make.user("自己注册", mobile="13700000312")
    login(worker)
    assert client.get("/account/profile").status_code == 200
    assert client.get("/account/privacy/accept").status_code == 302


def test_the_api_is_not_held_but_pages_are(client, tree, make, login):
    walk_in = made_for_a_worker(make, mobile="13700000313")
    with write_transaction():
        walk_in.activated = True  # as after the first code login
        token = issue_token(walk_in, "phone")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    login(walk_in)
    assert client.get("/account/profile").status_code == 302


def test_a_walk_in_who_signs_up_accepts_the_notice_on_the_sign_up_form(client, tree, make):
    walk_in = made_for_a_worker(make, mobile="13700000314")
    code = send_sms_code(client, "/account/signup", walk_in.mobile)
    response = client.post("/account/signup", data={
        "mobile": walk_in.mobile, "name": "到场职工", "password": "abc12345", "password_again": "abc12345",
        "union_id": "", "occupation": "rider", "district": "", "member_card_no": "", "accept_privacy": "y",
        "code": code})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, walk_in.id).privacy_version is not None
    assert client.get("/account/profile").status_code == 200
