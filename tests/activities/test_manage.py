"""Organiser pages (/manage): who may reach them, and what each page does with good and bad input."""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import func, select

from unionevents.accounts.models import Role
from unionevents.activities import services
from unionevents.activities.models import (
    Activity, ActivityKind, ActivityStatus, Question, QuestionKind, SignupMode, TimeSlot, UnitQuota,
)
from unionevents.core.outbox import OutboxMessage
from unionevents.core.timeutil import now, utc_to_local
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState
from unionevents.unions.services import find_by_name

from .conftest import AOYUNCUN, YUQUANYING, local_input

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


S = RegistrationState


@pytest.fixture
def target(make, organiser):
    """A quota-mode meeting of 玉泉营 with one slot, one question and one unit quota."""
    activity = make.activity("玉泉营报告会", kind=ActivityKind.MEETING, mode=SignupMode.QUOTA, capacity=0,
                             publish=False)
    services.add_slot(organiser, activity.id, activity.starts_at, activity.starts_at + timedelta(hours=1), 40)
    services.create_question(organiser, activity.id, "单位", QuestionKind.TEXT)
    services.save_unit_quota(organiser, activity.id, find_by_name("玉泉营商场工会").id, 10)
    activity = db.session.get(Activity, activity.id)
    return {"activity_id": activity.id, "slot_id": activity.slots[0].id,
            "question_id": activity.questions[0].id, "quota_id": activity.unit_quotas[0].id}


#: Every organiser route on one activity: (method, URL pattern).
ACTIVITY_ROUTES = [
    ("GET", "/manage/activities/{activity_id}"),
    ("GET", "/manage/activities/{activity_id}/edit"),
    ("POST", "/manage/activities/{activity_id}/edit"),
    ("POST", "/manage/activities/{activity_id}/publish"),
    ("POST", "/manage/activities/{activity_id}/unpublish"),
    ("GET", "/manage/activities/{activity_id}/cancel"),
    ("POST", "/manage/activities/{activity_id}/cancel"),
    ("GET", "/manage/activities/{activity_id}/copy"),
    ("POST", "/manage/activities/{activity_id}/copy"),
    ("GET", "/manage/activities/{activity_id}/slots"),
    ("POST", "/manage/activities/{activity_id}/slots"),
    ("POST", "/manage/activities/{activity_id}/slots/generate"),
    ("POST", "/manage/activities/{activity_id}/slots/{slot_id}/delete"),
    ("GET", "/manage/activities/{activity_id}/questions"),
    ("POST", "/manage/activities/{activity_id}/questions"),
    ("GET", "/manage/activities/{activity_id}/questions/{question_id}/edit"),
    ("POST", "/manage/activities/{activity_id}/questions/{question_id}/edit"),
    ("POST", "/manage/activities/{activity_id}/questions/{question_id}/move"),
    ("POST", "/manage/activities/{activity_id}/questions/{question_id}/delete"),
    ("GET", "/manage/activities/{activity_id}/quotas"),
    ("POST", "/manage/activities/{activity_id}/quotas"),
    ("POST", "/manage/activities/{activity_id}/quotas/{quota_id}/delete"),
]
#: Routes that need no activity.
GENERAL_ROUTES = [("GET", "/manage/activities"), ("GET", "/manage/activities/new"),
                  ("POST", "/manage/activities/new")]


def text(response) -> str:
    """The page with HTML entities decoded, to search for messages."""
    return html.unescape(response.get_data(as_text=True))


def _call(client, method, pattern, ids, data=None):
    url = pattern.format(**ids)
    return client.get(url) if method == "GET" else client.post(url, data=data or {})


def test_the_matrix_lists_every_manage_route(app):
    listed = {(m, p.replace("{", "<int:").replace("}", ">")) for m, p in ACTIVITY_ROUTES + GENERAL_ROUTES}
    actual = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("manage.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert actual == listed


def act_as(client, user) -> None:
    """Switch the test client to ``user`` (None: logged out) within one test."""
    g.pop("_login_user", None)  # Flask-Login caches the user on the (shared) app context
    with client.session_transaction() as session:
        session.clear()
        if user is not None:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True


@pytest.mark.parametrize("method, pattern", ACTIVITY_ROUTES)
def test_scope_matrix_for_every_activity_route(client, organiser, rival, worker, target, method, pattern):
    """Anonymous → login; worker → 403; organiser of another street → 403 and nothing changes;
    a missing activity → 404; the organiser of 玉泉营 → allowed."""
    before = _snapshot()
    act_as(client, None)
    response = _call(client, method, pattern, target)
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    act_as(client, worker)
    assert _call(client, method, pattern, target).status_code == 403
    act_as(client, rival)
    assert _call(client, method, pattern, target).status_code == 403
    assert _snapshot() == before
    act_as(client, organiser)
    assert _call(client, method, pattern, dict(target, activity_id=999999)).status_code == 404
    assert _call(client, method, pattern, target).status_code in (200, 303, 422)


@pytest.mark.parametrize("method, pattern", GENERAL_ROUTES)
def test_scope_matrix_for_the_general_routes(client, worker, rival, method, pattern):
    act_as(client, None)
    response = _call(client, method, pattern, {})
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    act_as(client, worker)
    assert _call(client, method, pattern, {}).status_code == 403
    act_as(client, rival)  # any organiser may list and create: the scope limits what they see and choose
    assert _call(client, method, pattern, {}).status_code in (200, 422)


@pytest.mark.parametrize("method, pattern", [r for r in ACTIVITY_ROUTES if r[0] == "GET"])
def test_admin_may_open_every_page(client, login, admin, target, method, pattern):
    login(admin)
    assert _call(client, method, pattern, target).status_code == 200


def test_admin_may_change_any_activity(client, login, admin, target):
    login(admin)
    response = client.post(f"/manage/activities/{target['activity_id']}/questions",
                           data={"label": "管理员的问题", "kind": "text"})
    assert response.status_code == 303


@pytest.mark.parametrize("method, pattern", [r for r in ACTIVITY_ROUTES if "{slot_id}" in r[1]
                                             or "{question_id}" in r[1] or "{quota_id}" in r[1]])
def test_sub_objects_of_another_activity_are_404(client, login, organiser, make, target, method, pattern):
    other = make.activity("另一个活动")
    login(organiser)
    assert _call(client, method, pattern, dict(target, activity_id=other.id)).status_code == 404


def _snapshot():
    db.session.expire_all()
    return (
        [(a.id, a.title, a.status, a.capacity, a.starts_at) for a in db.session.scalars(select(Activity))],
        db.session.scalar(select(func.count(TimeSlot.id))),
        [(q.id, q.label, q.position) for q in db.session.scalars(select(Question))],
        [(q.id, q.quota) for q in db.session.scalars(select(UnitQuota))],
    )


# -- the list -------------------------------------------------------------------------------------------

def test_list_shows_the_scope_only_and_filters(client, login, organiser, make):
    make.activity("玉泉营花卉课")
    make.activity("玉泉营草稿", publish=False)
    make.activity("奥运村健康评估", node=AOYUNCUN)
    login(organiser)
    page = client.get("/manage/activities").get_data(as_text=True)
    assert "玉泉营花卉课" in page and "玉泉营草稿" in page and "奥运村健康评估" not in page
    drafts = client.get("/manage/activities?status=draft").get_data(as_text=True)
    assert "玉泉营草稿" in drafts and "玉泉营花卉课" not in drafts
    # A union outside the scope in the filter is ignored, never widening the list.
    other = client.get(f"/manage/activities?node={find_by_name(AOYUNCUN).id}&kind=nonsense&status=x")
    assert other.status_code == 200 and "奥运村健康评估" not in other.get_data(as_text=True)


def test_list_empty_states(client, login, organiser, make):
    login(organiser)
    assert "Create the first activity" in client.get("/manage/activities").get_data(as_text=True)
    make.activity()
    page = client.get("/manage/activities?kind=contest").get_data(as_text=True)
    assert "No activities match these filters." in page


def test_list_pages(client, login, organiser, make):
    for i in range(services.MANAGE_PAGE_SIZE + 1):
        make.activity(f"课{i:02d}", starts_in=timedelta(days=5 + i))
    login(organiser)
    first = client.get("/manage/activities").get_data(as_text=True)
    assert "课00" in first and "课20" not in first and "page=2" in first
    assert "课20" in client.get("/manage/activities?page=2").get_data(as_text=True)


def test_nav_shows_manage_to_organisers_only(client, login, make, tree):
    login(make.user("职工"))
    assert "/manage/activities" not in client.get("/").get_data(as_text=True)


def test_nav_shows_manage_to_organisers(client, login, organiser):
    login(organiser)
    assert "/manage/activities" in client.get("/").get_data(as_text=True)


# -- create and edit ------------------------------------------------------------------------------------

def _form(tree, **changes):
    starts = now().replace(second=0, microsecond=0) + timedelta(days=10)
    data = {
        "title": "花卉养护课", "kind": "class", "node_id": str(tree[YUQUANYING].id), "description": "识别黄叶",
        "venue": "职工之家", "starts_at": local_input(starts), "ends_at": local_input(starts + timedelta(hours=2)),
        "signup_opens_at": local_input(starts - timedelta(days=9)),
        "signup_closes_at": local_input(starts - timedelta(days=1)), "cancel_cutoff_at": "",
        "capacity": "30", "waitlist_enabled": "y", "mode": "first_come", "visibility": "public",
        "occupations": ["rider", "courier"], "eligible_node_ids": [str(tree["玉泉营商场工会"].id)],
    }
    data.update(changes)
    return data


def test_new_form_offers_only_unions_in_scope(client, login, organiser):
    login(organiser)
    page = client.get("/manage/activities/new").get_data(as_text=True)
    assert 'type="datetime-local"' in page
    node_select = page.split('name="node_id"')[1].split("</select>")[0]
    assert YUQUANYING in node_select and "玉泉营商场工会" in node_select and AOYUNCUN not in node_select


def test_new_form_preselects_the_only_union_in_scope(client, login, make, tree):
    login(make.user("商场组织者", union="玉泉营商场工会", role=Role.ORGANISER, scope="玉泉营商场工会"))
    page = client.get("/manage/activities/new").get_data(as_text=True)
    node_select = page.split('name="node_id"')[1].split("</select>")[0]
    assert f'<option selected value="{tree["玉泉营商场工会"].id}">' in node_select


def test_edit_offers_the_activitys_own_union_even_outside_the_scope(client, login, organiser, make, tree,
                                                                    monkeypatch):
    """The organising union stays choosable (and chosen) when the scope list would not offer it."""
    activity = make.activity()
    monkeypatch.setattr(services, "nodes_in_scope", lambda user: [tree["玉泉营商场工会"]])
    login(organiser)
    page = client.get(f"/manage/activities/{activity.id}/edit").get_data(as_text=True)
    options = page.split('name="node_id"')[1].split("</select>")[0].split("<option")[1:]
    assert options[0].startswith(f' selected value="{tree[YUQUANYING].id}">{YUQUANYING}<')
    assert f'value="{tree["玉泉营商场工会"].id}"' in options[1]


def test_create_happy_path_converts_beijing_time_to_utc(client, login, organiser, tree):
    login(organiser)
    response = client.post("/manage/activities/new", data=_form(tree, starts_at="2030-05-01T09:00",
                                                                 ends_at="2030-05-01T11:00",
                                                                 signup_closes_at="2030-04-30T18:00",
                                                                 signup_opens_at="2030-04-01T08:00"))
    assert response.status_code == 303
    activity = db.session.scalar(select(Activity))
    assert response.headers["Location"].endswith(f"/manage/activities/{activity.id}")
    assert activity.starts_at.isoformat() == "2030-05-01T01:00:00"  # 09:00 Beijing = 01:00 UTC
    assert activity.status == ActivityStatus.DRAFT
    assert {o.value for o in activity.occupation_codes} == {"rider", "courier"}
    assert [row.node.name for row in activity.eligible_nodes] == ["玉泉营商场工会"]
    assert activity.waitlist_enabled is True and activity.members_only is False


@pytest.mark.parametrize("changes, field_message", [
    ({"title": ""}, "This field is required."),
    ({"starts_at": "明天"}, "Please enter a date and time."),
    ({"ends_at": "2020-01-01T00:00"}, "The activity must end after it starts."),
    ({"signup_closes_at": "2099-01-01T00:00"}, "Sign-up must close before the activity starts."),
    ({"capacity": "-3"}, "Please enter a number from 0 to 100000."),
    ({"capacity": "abc"}, 'id="capacity-error"'),  # WTForms' own (translated) message
    ({"capacity": ""}, "Please enter the number of places."),
    ({"kind": "party"}, 'id="kind-error"'),
    ({"mode": "auction"}, 'id="mode-error"'),
    ({"eligible_node_ids": ["x"]}, 'id="eligible_node_ids-error"'),
])
def test_create_bad_input_is_a_field_message_with_422(client, login, organiser, tree, changes, field_message):
    login(organiser)
    response = client.post("/manage/activities/new", data=_form(tree, **changes))
    assert response.status_code == 422
    page = text(response)
    assert field_message in page
    assert 'aria-invalid="true"' in page or "form-errors" in page
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_create_for_another_streets_union_is_refused(client, login, organiser, tree):
    login(organiser)
    response = client.post("/manage/activities/new", data=_form(tree, node_id=str(tree[AOYUNCUN].id)))
    assert response.status_code == 422
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_edit_is_prefilled_in_beijing_time(client, login, organiser, make):
    activity = make.activity("花卉养护课", venue="二层活动室")
    login(organiser)
    page = client.get(f"/manage/activities/{activity.id}/edit").get_data(as_text=True)
    assert 'value="花卉养护课"' in page and 'value="二层活动室"' in page
    assert utc_to_local(activity.starts_at).strftime("%Y-%m-%dT%H:%M") in page


def test_edit_saves(client, login, organiser, make, tree):
    activity = make.activity()
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/edit",
                           data=_form(tree, title="改过的标题", capacity="12", occupations=[]))
    assert response.status_code == 303
    db.session.expire_all()
    activity = db.session.get(Activity, activity.id)
    assert (activity.title, activity.capacity, activity.occupation_codes) == ("改过的标题", 12, set())


def test_edit_refuses_capacity_below_the_confirmed_count(client, login, organiser, make, tree, enrol):
    activity = make.activity(capacity=5)
    enrol(activity)
    enrol(activity)
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/edit", data=_form(tree, capacity="1"))
    assert response.status_code == 422
    assert "There are already 2 confirmed places; the capacity cannot be lower." in response.get_data(as_text=True)


def test_edit_of_a_cancelled_activity_redirects(client, login, organiser, make):
    activity = make.activity()
    services.cancel_activity(organiser, activity.id)
    login(organiser)
    response = client.get(f"/manage/activities/{activity.id}/edit")
    assert response.status_code == 303


# -- publish, cancel, copy ------------------------------------------------------------------------------

def test_overview_lists_what_blocks_publishing(client, login, organiser, make):
    activity = make.activity(publish=False, capacity=0)
    login(organiser)
    page = client.get(f"/manage/activities/{activity.id}").get_data(as_text=True)
    assert "Set the number of places first." in page


def test_publish_and_unpublish_buttons(client, login, organiser, make):
    activity = make.activity(publish=False)
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/publish")
    assert response.status_code == 303
    assert db.session.get(Activity, activity.id).status == ActivityStatus.PUBLISHED
    client.post(f"/manage/activities/{activity.id}/unpublish")
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).status == ActivityStatus.DRAFT


def test_publish_refusal_is_flashed(client, login, organiser, make):
    activity = make.activity(publish=False, capacity=0)
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/publish", follow_redirects=True)
    assert "Set the number of places first." in response.get_data(as_text=True)
    assert db.session.get(Activity, activity.id).status == ActivityStatus.DRAFT


def test_cancel_needs_confirmation_and_notifies_registrants(client, login, organiser, make, enrol):
    activity = make.activity(capacity=5)
    people = [enrol(activity, S.CONFIRMED), enrol(activity, S.WAITLISTED)]
    login(organiser)
    page = client.get(f"/manage/activities/{activity.id}/cancel").get_data(as_text=True)
    assert "2 registrations will be cancelled" in page
    assert db.session.get(Activity, activity.id).status == ActivityStatus.PUBLISHED  # GET changes nothing
    response = client.post(f"/manage/activities/{activity.id}/cancel", data={"reason": "暴雨预警"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).status == ActivityStatus.CANCELLED
    assert {r.state for r in db.session.scalars(select(Registration))} == {S.CANCELLED}
    messages = list(db.session.scalars(select(OutboxMessage)))
    assert sorted(m.user_id for m in messages) == sorted(p.user_id for p in people)
    assert all("暴雨预警" in m.body for m in messages)


def test_cancel_with_a_too_long_reason_is_422(client, login, organiser, make):
    activity = make.activity()
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/cancel", data={"reason": "因" * 300})
    assert response.status_code == 422
    assert db.session.get(Activity, activity.id).status == ActivityStatus.PUBLISHED


def test_copy(client, login, organiser, make):
    activity = make.activity("花卉养护课")
    login(organiser)
    assert 'type="datetime-local"' in client.get(f"/manage/activities/{activity.id}/copy").get_data(as_text=True)
    new_start = activity.starts_at + timedelta(days=30)
    response = client.post(f"/manage/activities/{activity.id}/copy", data={"starts_at": local_input(new_start)})
    assert response.status_code == 303
    copy = db.session.scalar(select(Activity).where(Activity.id != activity.id))
    assert copy.title == "Copy of 花卉养护课" and copy.status == ActivityStatus.DRAFT
    assert copy.starts_at == new_start.replace(second=0, microsecond=0)


def test_copy_bad_date_is_422(client, login, organiser, make):
    activity = make.activity()
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/copy", data={"starts_at": "soon"})
    assert response.status_code == 422
    assert "Please enter a date and time." in response.get_data(as_text=True)


# -- slots ----------------------------------------------------------------------------------------------

@pytest.fixture
def health(tree):
    from unionevents.core.timeutil import local_to_utc
    from datetime import datetime

    day = (utc_to_local(now()) + timedelta(days=14)).date()
    start = local_to_utc(datetime.combine(day, datetime.min.time()).replace(hour=9))
    activity = services.create_activity(
        title="送健康", kind=ActivityKind.HEALTH, node=tree[YUQUANYING], starts_at=start,
        ends_at=start + timedelta(hours=3), signup_opens_at=now() - timedelta(days=1),
        signup_closes_at=start - timedelta(hours=12), capacity=0, publish=False)
    db.session.commit()
    return activity


def test_generate_slots_form(client, login, organiser, health):
    login(organiser)
    day = utc_to_local(health.starts_at).date().isoformat()
    page = client.get(f"/manage/activities/{health.id}/slots").get_data(as_text=True)
    assert f'value="{day}"' in page  # the day and the activity's hours are pre-filled
    assert 'value="09:00"' in page and 'value="12:00"' in page
    response = client.post(f"/manage/activities/{health.id}/slots/generate", data={
        "bulk-date": day, "bulk-first_start": "09:00", "bulk-last_end": "12:00", "bulk-minutes": "20",
        "bulk-capacity_each": "3"})
    assert response.status_code == 303
    db.session.expire_all()
    activity = db.session.get(Activity, health.id)
    assert (len(activity.slots), activity.capacity) == (9, 27)


@pytest.mark.parametrize("data, message", [
    ({"bulk-first_start": "08:00"}, "Time slots must lie within the activity's time"),
    ({"bulk-minutes": "0"}, "Please enter a number from 1 to 1440."),
    ({"bulk-capacity_each": "0"}, "Please enter a number from 1 to 100000."),
    ({"bulk-date": "tomorrow"}, "Please enter a date."),
    ({"bulk-last_end": "25:00"}, "Please enter a time."),
])
def test_generate_slots_bad_input(client, login, organiser, health, data, message):
    login(organiser)
    form = {"bulk-date": utc_to_local(health.starts_at).date().isoformat(), "bulk-first_start": "09:00",
            "bulk-last_end": "12:00", "bulk-minutes": "20", "bulk-capacity_each": "3"}
    form.update(data)
    response = client.post(f"/manage/activities/{health.id}/slots/generate", data=form)
    assert response.status_code == 422
    assert message in text(response)
    assert db.session.scalar(select(func.count(TimeSlot.id))) == 0


def test_add_one_slot_and_delete_it(client, login, organiser, health):
    login(organiser)
    day = utc_to_local(health.starts_at).date().isoformat()
    response = client.post(f"/manage/activities/{health.id}/slots", data={
        "one-date": day, "one-starts_at": "10:00", "one-ends_at": "10:30", "one-capacity": "4"})
    assert response.status_code == 303
    slot = db.session.scalar(select(TimeSlot))
    assert utc_to_local(slot.starts_at).strftime("%H:%M") == "10:00"
    overlap = client.post(f"/manage/activities/{health.id}/slots", data={
        "one-date": day, "one-starts_at": "10:15", "one-ends_at": "10:45", "one-capacity": "4"})
    assert overlap.status_code == 422 and "overlaps the existing slot 10:00–10:30" in overlap.get_data(as_text=True)
    assert client.post(f"/manage/activities/{health.id}/slots/{slot.id}/delete").status_code == 303
    assert db.session.scalar(select(func.count(TimeSlot.id))) == 0


def test_a_booked_slot_is_not_deleted(client, login, organiser, health, enrol):
    slot = services.add_slot(organiser, health.id, health.starts_at, health.starts_at + timedelta(minutes=30), 3)
    enrol(db.session.get(Activity, health.id), slot=slot)
    login(organiser)
    page = client.get(f"/manage/activities/{health.id}/slots").get_data(as_text=True)
    assert "Booked: cannot be deleted" in page
    response = client.post(f"/manage/activities/{health.id}/slots/{slot.id}/delete", follow_redirects=True)
    assert "1 people have booked this slot" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(TimeSlot.id))) == 1


# -- questions ------------------------------------------------------------------------------------------

def test_question_editor(client, login, organiser, make):
    activity = make.activity()
    login(organiser)
    url = f"/manage/activities/{activity.id}/questions"
    assert client.post(url, data={"label": "想了解的问题", "kind": "single_choice",
                                  "choices": "黄叶\n虫害\n烂根", "required": "y"}).status_code == 303
    assert client.post(url, data={"label": "植物", "kind": "text"}).status_code == 303
    first, second = sorted(db.session.get(Activity, activity.id).questions, key=lambda q: q.position)
    assert (first.choices, first.required) == (["黄叶", "虫害", "烂根"], True)

    client.post(f"{url}/{second.id}/move", data={"direction": "up"})
    db.session.expire_all()
    assert [q.label for q in sorted(db.session.get(Activity, activity.id).questions,
                                    key=lambda q: q.position)] == ["植物", "想了解的问题"]

    edit = client.get(f"{url}/{first.id}/edit").get_data(as_text=True)
    assert "黄叶\n虫害\n烂根" in edit
    assert client.post(f"{url}/{first.id}/edit", data={"label": "问题", "kind": "single_choice",
                                                       "choices": "黄叶\n修剪"}).status_code == 303
    assert client.post(f"{url}/{second.id}/delete").status_code == 303
    db.session.expire_all()
    assert [(q.label, q.choices) for q in db.session.get(Activity, activity.id).questions] == [
        ("问题", ["黄叶", "修剪"])]


@pytest.mark.parametrize("data, message", [
    ({"label": "", "kind": "text"}, "This field is required."),
    ({"label": "问题", "kind": "single_choice", "choices": "只有一个"}, "at least two different choices"),
    ({"label": "问题", "kind": "multiple_choice", "choices": "甲\n甲"}, "appears more than once"),
    ({"label": "问题", "kind": "essay"}, 'id="kind-error"'),
])
def test_question_bad_input(client, login, organiser, make, data, message):
    activity = make.activity()
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/questions", data=data)
    assert response.status_code == 422
    assert message in text(response)


def test_answered_question_explains_why_it_stays(client, login, organiser, make, enrol):
    activity = make.activity()
    question = services.create_question(organiser, activity.id, "植物", QuestionKind.TEXT)
    enrol(db.session.get(Activity, activity.id), answers={str(question.id): "绿萝"})
    login(organiser)
    url = f"/manage/activities/{activity.id}/questions/{question.id}"
    assert "People have already answered this question" in client.get(f"{url}/edit").get_data(as_text=True)
    response = client.post(f"{url}/edit", data={"label": "植物", "kind": "number"})
    assert response.status_code == 422 and "its kind cannot change" in response.get_data(as_text=True)
    response = client.post(f"{url}/delete", follow_redirects=True)
    assert "throw their answers away" in response.get_data(as_text=True)
    assert db.session.get(Question, question.id) is not None


# -- quotas ---------------------------------------------------------------------------------------------

def test_quota_editor(client, login, organiser, make, tree):
    activity = make.activity(kind=ActivityKind.MEETING, mode=SignupMode.QUOTA, capacity=50)
    login(organiser)
    url = f"/manage/activities/{activity.id}/quotas"
    page = client.get(url).get_data(as_text=True)
    assert "also outside your scope" in page  # the form explains that any union may get a quota
    assert client.post(url, data={"node_id": str(tree["玉泉营商场工会"].id), "quota": "30"}).status_code == 303
    too_many = client.post(url, data={"node_id": str(tree[AOYUNCUN].id), "quota": "21"})
    assert too_many.status_code == 422
    assert "The quotas would add up to 51 places, more than the activity's 50" in text(too_many)
    assert client.post(url, data={"node_id": str(tree[AOYUNCUN].id), "quota": "20"}).status_code == 303
    row = db.session.scalar(select(UnitQuota).where(UnitQuota.node_id == tree[AOYUNCUN].id))
    assert client.post(f"{url}/{row.id}/delete").status_code == 303
    assert [q.quota for q in db.session.scalars(select(UnitQuota))] == [30]


@pytest.mark.parametrize("data, message", [
    ({"node_id": "", "quota": "5"}, "This field is required."),
    ({"node_id": "abc", "quota": "5"}, 'id="node_id-error"'),
    ({"node_id": "1", "quota": "-2"}, "Please enter a number from 0 to 100000."),
])
def test_quota_bad_input(client, login, organiser, make, data, message):
    activity = make.activity(kind=ActivityKind.MEETING, mode=SignupMode.QUOTA, capacity=50)
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/quotas", data=data)
    assert response.status_code == 422
    assert message in text(response)


def test_quota_outside_quota_mode_is_refused_with_a_reason(client, login, organiser, make, tree):
    activity = make.activity(capacity=50)
    login(organiser)
    page = client.get(f"/manage/activities/{activity.id}/quotas").get_data(as_text=True)
    assert "only apply in the “quota per unit” sign-up mode" in page
    response = client.post(f"/manage/activities/{activity.id}/quotas",
                           data={"node_id": str(tree["玉泉营商场工会"].id), "quota": "5"})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count(UnitQuota.id))) == 0
