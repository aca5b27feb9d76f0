"""Enrolment on behalf of members (issue 4, item 7): a workplace union's organiser signs its own
members up for an activity of a union above it, within the unit's quota and the activity's rules."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from unionevents.accounts.models import Occupation, Role, User
from unionevents.activities.models import ActivityKind, SignupMode, UnitQuota
from unionevents.activities.services import add_question, add_slots, set_unit_quota
from unionevents.activities.models import QuestionKind
from unionevents.core.audit import AuditLog
from unionevents.core.outbox import OutboxMessage
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations import enrolment, services
from unionevents.registrations.models import Registration, RegistrationState as S

from .organiser_fixtures import AOYUNCUN_STREET, COURIERS, MALL, StatementCounter, act_as, tree  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("english")

FENGTAI = "丰台区总工会"


@pytest.fixture
def mall_organiser(make, tree):
    return make.user("商场工会组织者", role=Role.ORGANISER, scope=MALL)


@pytest.fixture
def members(make, tree):
    return [make.user(f"商场职工{i}", union=MALL, occupation=Occupation.RIDER) for i in range(3)]


def quota_activity(make, tree, quota=2, **fields):
    activity = make.activity("劳模报告会", capacity=10, mode=SignupMode.QUOTA, node=FENGTAI, **fields)
    set_unit_quota(activity, tree[MALL], quota)
    db.session.commit()
    return activity


def outcome_by_name(result):
    return {o.name: o for o in result.outcomes}


def messages_to(user, kind):
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == user.id,
                                                          OutboxMessage.kind == kind)).all()


# --------------------------------------------------------------------------- the service

def test_happy_path_with_quota_then_waiting_list(make, tree, mall_organiser, members):
    activity = quota_activity(make, tree, quota=2)
    result = enrolment.enrol_members(mall_organiser, activity.id, tree[MALL].id, [m.id for m in members])
    statuses = [o.status for o in result.outcomes]
    assert statuses == ["confirmed", "confirmed", "waitlisted"]  # the unit's quota is 2
    assert "Number 1 on the waiting list" in result.outcomes[2].reason
    regs = db.session.scalars(select(Registration).where(Registration.activity_id == activity.id)).all()
    assert {r.entered_by_id for r in regs} == {mall_organiser.id}
    assert {r.unit_node_id for r in regs} == {tree[MALL].id}
    assert db.session.scalar(select(UnitQuota.used).where(UnitQuota.activity_id == activity.id)) == 2
    # each worker is told who enrolled them and how to cancel
    (notice,) = messages_to(members[0], enrolment.NOTICE_KIND)
    assert "商场工会组织者" in notice.body and "劳模报告会" in notice.body and "/me/registrations" in notice.body
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "registration.enrol"))
    assert audit.actor_id == mall_organiser.id
    assert audit.data["confirmed"] == 2 and audit.data["waitlisted"] == 1
    # the options list shows the activity with no quota place left
    (option,) = enrolment.enrollable_activities(mall_organiser)
    assert option.activity.id == activity.id and option.quota_left == 0


def test_the_list_of_activities_to_enrol_into_costs_the_same_statements_for_2_or_6(make, tree, mall_organiser):
    def statements() -> tuple[int, int]:
        db.session.expire_all()
        with StatementCounter() as counter:
            options = enrolment.enrollable_activities(mall_organiser)
        return len(options), len(counter.statements)

    for _ in range(2):
        quota_activity(make, tree)
    options, few = statements()
    for _ in range(4):
        quota_activity(make, tree)
    assert options == 2 and statements() == (6, few)


def test_quota_exhausted_without_waiting_list_is_refused(make, tree, mall_organiser, members):
    activity = quota_activity(make, tree, quota=1, waitlist_enabled=False)
    result = enrolment.enrol_members(mall_organiser, activity.id, tree[MALL].id, [m.id for m in members[:2]])
    first, second = result.outcomes
    assert first.status == "confirmed"
    assert second.status == "refused" and "union's places" in second.reason


def test_ineligible_members_are_refused_with_reasons(make, tree, mall_organiser, members):
    courier = make.user("快递员", union=MALL, occupation=Occupation.COURIER)
    activity = make.activity("骑手安全课", node=FENGTAI, occupations=[Occupation.RIDER])
    result = outcome_by_name(enrolment.enrol_members(mall_organiser, activity.id, tree[MALL].id,
                                                     [members[0].id, courier.id]))
    assert result["商场职工0"].status == "confirmed"
    assert result["快递员"].status == "refused" and result["快递员"].reason
    assert db.session.scalar(select(Registration).where(Registration.user_id == courier.id)) is None


def test_health_activity_cannot_be_enrolled(make, tree, mall_organiser, members, act_as):
    activity = make.activity("体检", node=FENGTAI, kind=ActivityKind.HEALTH)
    with pytest.raises(enrolment.NotEnrollable) as error:
        enrolment.enrol_members(mall_organiser, activity.id, tree[MALL].id, [members[0].id])
    assert "health service" in str(error.value.message)
    assert enrolment.enrollable_activities(mall_organiser) == []
    assert act_as(mall_organiser).get(f"/manage/enrol/{activity.id}/{tree[MALL].id}").status_code == 403
    # and the engine itself refuses it too
    with pytest.raises(services.NotEligible):
        services.register(members[0], activity.id, health_consent=True, entered_by=mall_organiser)


def test_out_of_scope_members_are_not_registered(make, tree, mall_organiser, members):
    outsider = make.user("奥运村快递员", union=COURIERS)
    activity = make.activity("城市课程", node="北京市总工会")
    result = enrolment.enrol_members(mall_organiser, activity.id, tree[MALL].id, [outsider.id, members[0].id])
    refused, ok = result.outcomes
    assert refused.status == "refused" and "not a member of your union" in refused.reason
    assert refused.name == ""  # nothing about the outsider is shown
    assert ok.status == "confirmed"
    assert db.session.scalar(select(Registration).where(Registration.user_id == outsider.id)) is None


def test_units_outside_the_organisers_scope_and_lower_activities_are_refused(make, tree, mall_organiser,
                                                                              members):
    activity = make.activity("城市课程", node="北京市总工会")
    with pytest.raises(services.NotAllowed):
        enrolment.enrol_members(mall_organiser, activity.id, tree[COURIERS].id, [members[0].id])
    lower = make.activity("奥运村课程", node=AOYUNCUN_STREET)  # not above the mall
    with pytest.raises(enrolment.NotEnrollable):
        enrolment.enrol_members(mall_organiser, lower.id, tree[MALL].id, [members[0].id])


def test_closed_window_is_refused(make, tree, mall_organiser, members):
    activity = make.activity("已截止", node=FENGTAI, signup_opens_at=now() - timedelta(days=3),
                             signup_closes_at=now() - timedelta(days=1))
    assert enrolment.enrollable_activities(mall_organiser) == []
    with pytest.raises(enrolment.NotEnrollable) as error:
        enrolment.enrol_members(mall_organiser, activity.id, tree[MALL].id, [members[0].id])
    assert "not open" in str(error.value.message)


def test_already_registered_slots_and_questions(make, tree, mall_organiser, members):
    activity = make.activity("分场次课程", node=FENGTAI, capacity=10)
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 60, 5)
    db.session.commit()
    slot = activity.slots[0]
    with pytest.raises(services.ValidationFailed) as error:
        enrolment.enrol_members(mall_organiser, activity.id, tree[MALL].id, [members[0].id])
    assert "slot_id" in error.value.errors
    unit = tree[MALL].id
    first = enrolment.enrol_members(mall_organiser, activity.id, unit, [members[0].id], slot_id=slot.id)
    assert first.outcomes[0].status == "confirmed"
    again = enrolment.enrol_members(mall_organiser, activity.id, unit, [members[0].id], slot_id=slot.id)
    assert again.outcomes[0].status == "already"
    asking = make.activity("问卷课程", node=FENGTAI)
    add_question(asking, "Shirt size", QuestionKind.TEXT, required=True)
    db.session.commit()
    result = enrolment.enrol_members(mall_organiser, asking.id, tree[MALL].id, [members[1].id])
    assert result.outcomes[0].status == "refused" and "answer" in result.outcomes[0].reason
    with pytest.raises(services.ValidationFailed):
        enrolment.enrol_members(mall_organiser, asking.id, tree[MALL].id, [])


def test_the_worker_can_cancel_an_enrolment(make, tree, mall_organiser, members):
    activity = make.activity("城市课程", node="北京市总工会")
    result = enrolment.enrol_members(mall_organiser, activity.id, tree[MALL].id, [members[0].id])
    registration = services.cancel(result.outcomes[0].registration_id, members[0])
    assert registration.state == S.CANCELLED


def test_spreadsheet_makes_unactivated_accounts_with_a_welcome_sms(make, tree, mall_organiser, members):
    outsider = make.user("外单位", mobile="13900009999", union=COURIERS)
    activity = make.activity("城市课程", node="北京市总工会")
    sheet = ("手机号,姓名\n"
             "13700001111,新职工\n"
             f"{members[0].mobile},\n"
             "13900009999,外单位\n"
             "13700002222,\n"
             "12345,坏号码\n"
             "13700001111,新职工\n").encode()
    result = enrolment.enrol_spreadsheet(mall_organiser, activity.id, tree[MALL].id, sheet, "people.csv")
    rows = {o.row: o for o in result.outcomes}
    assert rows[2].status == "confirmed" and rows[2].created_account
    assert rows[3].status == "confirmed" and rows[3].name == "商场职工0"
    assert rows[4].status == "refused" and "not a member" in rows[4].reason
    assert rows[5].status == "refused" and "name" in rows[5].reason
    assert rows[6].status == "refused"
    assert rows[7].status == "refused" and "twice" in rows[7].reason
    new = db.session.scalar(select(User).where(User.mobile == "13700001111"))
    assert not new.activated and new.password_hash is None and new.union_id == tree[MALL].id
    assert new.created_by_id == mall_organiser.id
    assert len(messages_to(new, "account.activation")) == 1
    assert len(messages_to(new, enrolment.NOTICE_KIND)) == 1
    assert db.session.scalar(select(Registration).where(Registration.user_id == outsider.id)) is None
    with pytest.raises(services.ValidationFailed) as error:
        enrolment.enrol_spreadsheet(mall_organiser, activity.id, tree[MALL].id, b"name\nx\n", "x.csv")
    assert "file" in error.value.errors


def test_walk_in_gets_a_welcome_sms(make, tree, mall_organiser):
    organiser = make.user("街道组织者", role=Role.ORGANISER, scope=FENGTAI)
    activity = make.activity("城市课程", node=FENGTAI)
    result = services.walk_in(activity.id, mobile="13700003333", name="临时职工", actor=organiser)
    assert result.created_account and not result.registration.user.activated
    assert len(messages_to(result.registration.user, "account.activation")) == 1


# --------------------------------------------------------------------------- the pages

def test_pages_list_search_paginate_and_enrol(make, tree, mall_organiser, members, act_as):
    make.user("奥运村快递员", union=COURIERS)
    activity = quota_activity(make, tree, quota=5)
    client = act_as(mall_organiser)
    index = client.get("/manage/enrol/")
    assert index.status_code == 200 and "劳模报告会" in index.get_data(as_text=True)
    url = f"/manage/enrol/{activity.id}/{tree[MALL].id}"
    page = client.get(url).get_data(as_text=True)
    assert "商场职工0" in page and "奥运村快递员" not in page
    assert members[0].mobile not in page  # masked
    found = client.get(url + "?q=职工1").get_data(as_text=True)
    assert "商场职工1" in found and "商场职工0" not in found
    small = enrolment.members_page(enrolment.load_option(mall_organiser, activity.id, tree[MALL].id), page=2,
                                   per_page=2)
    assert small.page == 2 and len(small.items) == 1 and small.has_previous and not small.has_next
    response = client.post(url, data={"ids": [members[0].id, members[1].id]})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.count("Confirmed") >= 2
    empty = client.post(url, data={})
    assert empty.status_code == 422 and "tick at least one" in empty.get_data(as_text=True)
    upload = client.post(url + "/upload", data={"file": (io.BytesIO("手机号,姓名\n13700004444,上传职工\n".encode()),
                                                          "people.csv")}, content_type="multipart/form-data")
    assert upload.status_code == 200 and "上传职工" in upload.get_data(as_text=True)
    bad = client.post(url + "/upload", data={}, content_type="multipart/form-data")
    assert bad.status_code == 422


def test_other_organisers_and_workers_are_denied(make, tree, mall_organiser, members, act_as):
    activity = make.activity("城市课程", node="北京市总工会")
    other = make.user("奥运村组织者", role=Role.ORGANISER, scope=AOYUNCUN_STREET)
    url = f"/manage/enrol/{activity.id}/{tree[MALL].id}"
    client = act_as(other)
    assert client.get(url).status_code == 403
    assert client.post(url, data={"ids": [members[0].id]}).status_code == 403
    assert "城市课程" in client.get("/manage/enrol/").get_data(as_text=True)  # for their own unit
    assert act_as(members[0]).get(url).status_code == 403
    assert act_as(mall_organiser).get(f"/manage/enrol/{activity.id}/999999").status_code == 404
    assert db.session.scalar(select(Registration)) is None


def test_quota_of_a_unit_above_and_xlsx_upload(make, tree, mall_organiser, members, act_as):
    from openpyxl import Workbook

    activity = make.activity("代表大会", capacity=10, mode=SignupMode.QUOTA, node="北京市总工会")
    set_unit_quota(activity, tree[FENGTAI], 1)  # the district's quota covers the mall
    db.session.commit()
    (option,) = enrolment.enrollable_activities(mall_organiser)
    assert option.quota_node.id == tree[FENGTAI].id and option.quota_left == 1
    book = Workbook()
    book.active.append(["手机号", "姓名"])
    book.active.append([int(members[0].mobile), None])
    book.active.append(["13700005555", "表格新职工"])
    data = io.BytesIO()
    book.save(data)
    response = act_as(mall_organiser).post(
        f"/manage/enrol/{activity.id}/{tree[MALL].id}/upload",
        data={"file": (io.BytesIO(data.getvalue()), "people.xlsx")}, content_type="multipart/form-data")
    assert response.status_code == 200
    regs = db.session.scalars(select(Registration).where(Registration.activity_id == activity.id)
                              .order_by(Registration.id)).all()
    assert [r.state for r in regs] == [S.CONFIRMED, S.WAITLISTED]
    assert {r.unit_node_id for r in regs} == {tree[FENGTAI].id}
