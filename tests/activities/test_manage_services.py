"""The organiser's rules on activities, slots, questions and quotas (activities/services.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from unionevents.accounts.models import Occupation
from unionevents.activities import services
from unionevents.activities.models import (
    Activity, ActivityKind, ActivityStatus, QuestionKind, SignupMode, Visibility,
)
from unionevents.activities.services import ActivityData
from unionevents.core.audit import AuditLog
from unionevents.core.errors import Conflict, ValidationFailed
from unionevents.core.outbox import OutboxMessage
from unionevents.core.timeutil import local_to_utc, now
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState
from unionevents.unions.services import find_by_name

from .conftest import AOYUNCUN, YUQUANYING

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


S = RegistrationState


@pytest.fixture(autouse=True)
def _request(app):
    """Messages are translated for the current request's language, as in the views."""
    with app.test_request_context():
        yield


def day_at(days: int, hour: int, minute: int = 0) -> datetime:
    """Naive UTC for Beijing ``hour:minute`` ``days`` from today."""
    local = (datetime.now() + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return local_to_utc(local)


def data_for(node_name=YUQUANYING, **changes) -> ActivityData:
    starts = now().replace(microsecond=0, second=0) + timedelta(days=10)
    fields = dict(title="花卉养护课", kind=ActivityKind.CLASS_, node_id=find_by_name(node_name).id,
                  starts_at=starts, ends_at=starts + timedelta(hours=2),
                  signup_opens_at=starts - timedelta(days=9), signup_closes_at=starts - timedelta(hours=2),
                  capacity=30)
    fields.update(changes)
    return ActivityData(**fields)


def errors_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.errors


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


# -- validate_activity_fields ---------------------------------------------------------------------------

def _fields(**changes):
    starts = datetime(2030, 5, 1, 6)
    fields = dict(title="课", starts_at=starts, ends_at=starts + timedelta(hours=2),
                  signup_opens_at=starts - timedelta(days=5), signup_closes_at=starts - timedelta(hours=1),
                  capacity=10)
    fields.update(changes)
    return services.validate_activity_fields(**fields)


def test_valid_fields_have_no_errors(app):
    assert _fields() == {}


@pytest.mark.parametrize("changes, field, message", [
    ({"title": "  "}, "title", "Please enter a title."),
    ({"title": "长" * 121}, "title", "at most 120 characters"),
    ({"ends_at": datetime(2030, 5, 1, 6)}, "ends_at", "The activity must end after it starts."),
    ({"ends_at": datetime(2030, 5, 1, 5)}, "ends_at", "The activity must end after it starts."),
    ({"signup_closes_at": datetime(2030, 4, 20)}, "signup_closes_at", "Sign-up must close after it opens."),
    ({"signup_closes_at": datetime(2030, 5, 1, 7)}, "signup_closes_at",
     "Sign-up must close before the activity starts."),
    ({"capacity": -1}, "capacity", "cannot be negative"),
    ({"capacity": 1_000_000}, "capacity", "at most 100000"),
    ({"capacity": 3, "confirmed": 4}, "capacity", "There are already 4 confirmed places"),
    ({"capacity": 3, "quota_total": 5}, "capacity", "The unit quotas add up to 5 places"),
    ({"cancel_cutoff_at": datetime(2030, 5, 1, 7)}, "cancel_cutoff_at", "before the activity starts"),
    ({"slot_span": (datetime(2030, 5, 1, 5), datetime(2030, 5, 1, 7))}, "starts_at",
     "Some time slots would lie outside"),
    ({"venue": "地" * 201}, "venue", "at most 200 characters"),
])
def test_each_rule_has_its_field_and_message(app, changes, field, message):
    errors = _fields(**changes)
    assert field in errors
    assert any(message in m for m in errors[field])


# -- create ---------------------------------------------------------------------------------------------

def test_create_makes_a_committed_audited_draft(organiser):
    activity = services.create_managed_activity(organiser, data_for(
        occupations=[Occupation.RIDER, Occupation.COURIER], eligible_node_ids=[find_by_name("玉泉营商场工会").id],
        mode=SignupMode.LOTTERY, visibility=Visibility.MEMBERS, members_only=True, waitlist_enabled=False))
    db.session.rollback()  # nothing left uncommitted
    activity = db.session.get(Activity, activity.id)
    assert activity.status == ActivityStatus.DRAFT
    assert activity.occupation_codes == {Occupation.RIDER, Occupation.COURIER}
    assert [row.node.name for row in activity.eligible_nodes] == ["玉泉营商场工会"]
    assert (activity.mode, activity.visibility, activity.members_only, activity.waitlist_enabled) == \
        (SignupMode.LOTTERY, Visibility.MEMBERS, True, False)
    assert activity.created_by_id == organiser.id
    assert "activity.create" in audit_actions()


def test_create_refuses_a_union_outside_the_scope(organiser):
    with pytest.raises(ValidationFailed) as excinfo:
        services.create_managed_activity(organiser, data_for(AOYUNCUN))
    assert "in your scope" in errors_of(excinfo)["node_id"][0]
    assert db.session.scalar(select(Activity.id)) is None


def test_create_may_use_a_union_below_the_organisers_own(organiser):
    activity = services.create_managed_activity(organiser, data_for("玉泉营商场工会"))
    assert activity.node.name == "玉泉营商场工会"


def test_create_needs_places_except_for_a_health_service(organiser):
    with pytest.raises(ValidationFailed) as excinfo:
        services.create_managed_activity(organiser, data_for(capacity=None))
    assert errors_of(excinfo)["capacity"] == ["Please enter the number of places."]
    health = services.create_managed_activity(organiser, data_for(kind=ActivityKind.HEALTH, capacity=None))
    assert health.capacity == 0


def test_create_reports_every_bad_field_at_once(organiser):
    starts = now() + timedelta(days=3)
    with pytest.raises(ValidationFailed) as excinfo:
        services.create_managed_activity(organiser, data_for(
            title="", ends_at=starts - timedelta(hours=1), starts_at=starts,
            signup_closes_at=starts + timedelta(hours=1), capacity=-5))
    assert set(errors_of(excinfo)) >= {"title", "ends_at", "signup_closes_at", "capacity"}


def test_admin_may_create_anywhere(admin):
    assert services.create_managed_activity(admin, data_for(AOYUNCUN)).node.name == AOYUNCUN


# -- update ---------------------------------------------------------------------------------------------

def test_update_changes_fields_and_eligibility(organiser, make):
    activity = make.activity(occupations=[Occupation.RIDER])
    services.update_activity(organiser, activity.id, data_for(
        title="新标题", venue="二层", capacity=12, occupations=[Occupation.COURIER, Occupation.TEACHER],
        eligible_node_ids=[find_by_name("玉泉营商场工会").id]))
    db.session.rollback()
    activity = db.session.get(Activity, activity.id)
    assert (activity.title, activity.venue, activity.capacity) == ("新标题", "二层", 12)
    assert activity.occupation_codes == {Occupation.COURIER, Occupation.TEACHER}
    assert [row.node_id for row in activity.eligible_nodes] == [find_by_name("玉泉营商场工会").id]
    assert audit_actions()[-1] == "activity.update"


def test_capacity_never_below_the_confirmed_count(organiser, make, enrol):
    activity = make.activity(capacity=5)
    for _ in range(3):
        enrol(activity, S.CONFIRMED)
    enrol(activity, S.WAITLISTED)
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_activity(organiser, activity.id, data_for(capacity=2))
    assert errors_of(excinfo)["capacity"] == [
        "There are already 3 confirmed places; the capacity cannot be lower."]
    services.update_activity(organiser, activity.id, data_for(capacity=3))
    assert db.session.get(Activity, activity.id).capacity == 3


def test_kind_and_mode_are_fixed_once_people_signed_up(organiser, make, enrol):
    activity = make.activity()
    enrol(activity, S.PENDING)
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_activity(organiser, activity.id, data_for(kind=ActivityKind.MEETING,
                                                                  mode=SignupMode.LOTTERY))
    assert "kind of activity can no longer change" in errors_of(excinfo)["kind"][0]
    assert "sign-up mode can no longer change" in errors_of(excinfo)["mode"][0]


def test_update_cannot_move_the_activity_away_from_its_slots(organiser, make):
    activity = make.activity(kind=ActivityKind.HEALTH, capacity=0)
    services.generate_slots(organiser, activity.id, activity.starts_at, activity.ends_at, 30, 2)
    later = activity.starts_at + timedelta(hours=1)
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_activity(organiser, activity.id, data_for(
            kind=ActivityKind.HEALTH, starts_at=later, ends_at=later + timedelta(hours=2),
            signup_closes_at=activity.signup_closes_at))
    assert "Some time slots would lie outside" in errors_of(excinfo)["starts_at"][0]


def test_with_slots_the_capacity_field_is_ignored(organiser, make):
    activity = make.activity(kind=ActivityKind.HEALTH, capacity=0)
    services.generate_slots(organiser, activity.id, activity.starts_at, activity.ends_at, 30, 2)
    services.update_activity(organiser, activity.id, data_for(
        kind=ActivityKind.HEALTH, capacity=999, starts_at=activity.starts_at, ends_at=activity.ends_at,
        signup_opens_at=activity.signup_opens_at, signup_closes_at=activity.signup_closes_at))
    assert db.session.get(Activity, activity.id).capacity == 8


def test_update_refuses_moving_the_activity_out_of_scope(organiser, make):
    activity = make.activity()
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_activity(organiser, activity.id, data_for(AOYUNCUN))
    assert "node_id" in errors_of(excinfo)


def test_capacity_never_below_the_unit_quotas(organiser, make):
    activity = make.activity(mode=SignupMode.QUOTA, capacity=100)
    services.save_unit_quota(organiser, activity.id, find_by_name("玉泉营商场工会").id, 60)
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_activity(organiser, activity.id, data_for(mode=SignupMode.QUOTA, capacity=50))
    assert "The unit quotas add up to 60 places" in errors_of(excinfo)["capacity"][0]


def test_a_cancelled_activity_cannot_be_changed(organiser, make):
    activity = make.activity()
    services.cancel_activity(organiser, activity.id)
    with pytest.raises(Conflict):
        services.update_activity(organiser, activity.id, data_for())
    with pytest.raises(Conflict):
        services.create_question(organiser, activity.id, "问题", QuestionKind.TEXT)


# -- publish / unpublish --------------------------------------------------------------------------------

def test_publish_and_unpublish(organiser, make):
    activity = make.activity(publish=False)
    services.publish(organiser, activity.id)
    assert db.session.get(Activity, activity.id).status == ActivityStatus.PUBLISHED
    services.unpublish(organiser, activity.id)
    assert db.session.get(Activity, activity.id).status == ActivityStatus.DRAFT
    assert audit_actions()[-2:] == ["activity.publish", "activity.unpublish"]


@pytest.mark.parametrize("fields, message", [
    ({"capacity": 0}, "Set the number of places first."),
    ({"capacity": 0, "kind": ActivityKind.HEALTH}, "Add time slots first"),
    ({"mode": SignupMode.QUOTA}, "give at least one unit a quota first"),
    ({"visibility": Visibility.INVITATION}, "Choose the invited units first"),
])
def test_publish_explains_what_is_missing(organiser, make, fields, message):
    activity = make.activity(publish=False, **fields)
    with pytest.raises(ValidationFailed) as excinfo:
        services.publish(organiser, activity.id)
    assert any(message in m for m in errors_of(excinfo)["publish"])
    assert db.session.get(Activity, activity.id).status == ActivityStatus.DRAFT


def test_an_ended_activity_cannot_be_published(organiser, make, frozen_time):
    activity = make.activity(publish=False)
    frozen_time(activity.ends_at + timedelta(minutes=1))
    with pytest.raises(ValidationFailed) as excinfo:
        services.publish(organiser, activity.id)
    assert "This activity has already ended." in errors_of(excinfo)["publish"]


def test_unpublish_is_refused_once_people_signed_up(organiser, make, enrol):
    activity = make.activity()
    enrol(activity, S.WAITLISTED)
    with pytest.raises(Conflict) as excinfo:
        services.unpublish(organiser, activity.id)
    assert "Cancel it instead" in str(excinfo.value.message)


# -- cancel ---------------------------------------------------------------------------------------------

def test_cancel_cancels_live_registrations_and_tells_each_person(organiser, make, enrol):
    activity = make.activity(capacity=3)
    kept = {state: enrol(activity, state) for state in (S.CONFIRMED, S.PENDING, S.WAITLISTED, S.REJECTED)}
    assert services.cancel_activity(organiser, activity.id, reason="场地维修") == 3
    db.session.rollback()
    activity = db.session.get(Activity, activity.id)
    assert activity.status == ActivityStatus.CANCELLED
    assert activity.taken == 0
    states = {r.id: r.state for r in db.session.scalars(select(Registration))}
    assert states[kept[S.REJECTED].id] == S.REJECTED
    assert [states[kept[s].id] for s in (S.CONFIRMED, S.PENDING, S.WAITLISTED)] == [S.CANCELLED] * 3
    messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert sorted(m.user_id for m in messages) == sorted(kept[s].user_id for s in (S.CONFIRMED, S.PENDING,
                                                                                    S.WAITLISTED))
    assert all(m.kind == "activity_cancelled" and "花卉养护课" in m.body and "场地维修" in m.body
               for m in messages)
    assert audit_actions().count("registration.cancel") == 3
    assert "activity.cancel" in audit_actions()


def test_cancel_resets_slot_and_quota_counters(organiser, make, enrol):
    activity = make.activity(kind=ActivityKind.HEALTH, capacity=0)
    slot = services.generate_slots(organiser, activity.id, activity.starts_at, activity.ends_at, 60, 2)[0]
    enrol(db.session.get(Activity, activity.id), S.CONFIRMED, slot=slot)
    services.cancel_activity(organiser, activity.id)
    assert db.session.get(Activity, activity.id).slots[0].taken == 0


def test_cancel_twice_or_after_the_end_is_refused(organiser, make, frozen_time):
    activity = make.activity()
    services.cancel_activity(organiser, activity.id)
    with pytest.raises(Conflict):
        services.cancel_activity(organiser, activity.id)
    other = make.activity("已结束")
    frozen_time(other.ends_at + timedelta(hours=1))
    with pytest.raises(Conflict):
        services.cancel_activity(organiser, other.id)


def test_cancel_reason_is_limited(organiser, make):
    activity = make.activity()
    with pytest.raises(ValidationFailed) as excinfo:
        services.cancel_activity(organiser, activity.id, reason="因" * 201)
    assert "reason" in errors_of(excinfo)


def test_cancel_message_is_in_the_registrants_language(organiser, make, enrol):
    activity = make.activity()
    person = make.user("English speaker")
    person.locale = "en"
    db.session.commit()
    enrol(activity, user=person)
    services.cancel_activity(organiser, activity.id)
    message = db.session.scalar(select(OutboxMessage))
    assert message.subject.startswith("Cancelled:")


# -- copy -----------------------------------------------------------------------------------------------

def test_copy_is_a_draft_with_everything_shifted(organiser, make, enrol):
    activity = make.activity(kind=ActivityKind.MEETING, mode=SignupMode.QUOTA, capacity=20,
                             occupations=[Occupation.RIDER], cancel_cutoff_at=None)
    services.add_slot(organiser, activity.id, activity.starts_at, activity.starts_at + timedelta(hours=1), 20)
    services.create_question(organiser, activity.id, "单位", QuestionKind.TEXT, required=True)
    services.create_question(organiser, activity.id, "餐食", QuestionKind.SINGLE_CHOICE, choices="荤\n素")
    unit = find_by_name("玉泉营商场工会")
    services.save_unit_quota(organiser, activity.id, unit.id, 8)
    activity = db.session.get(Activity, activity.id)
    enrol(activity, unit=unit, slot=activity.slots[0])

    new_start = activity.starts_at + timedelta(days=7)
    copy = services.copy_activity(organiser, activity.id, new_start)
    db.session.rollback()
    copy = db.session.get(Activity, copy.id)
    assert copy.id != activity.id
    assert copy.title == "Copy of " + activity.title
    assert copy.status == ActivityStatus.DRAFT and copy.taken == 0
    assert copy.starts_at == new_start
    assert copy.signup_closes_at == activity.signup_closes_at + timedelta(days=7)
    assert [(s.starts_at, s.capacity, s.taken) for s in copy.slots] == [(new_start, 20, 0)]
    assert [(q.label, q.kind, q.required, q.choices) for q in copy.questions] == [
        ("单位", QuestionKind.TEXT, True, None), ("餐食", QuestionKind.SINGLE_CHOICE, False, ["荤", "素"])]
    assert [(q.node_id, q.quota, q.used) for q in copy.unit_quotas] == [(unit.id, 8, 0)]
    assert copy.occupation_codes == {Occupation.RIDER}
    assert (copy.mode, copy.capacity) == (SignupMode.QUOTA, 20)
    assert audit_actions()[-1] == "activity.copy"


def test_copy_without_a_new_date_keeps_the_times(organiser, make):
    activity = make.activity()
    copy = services.copy_activity(organiser, activity.id)
    assert (copy.starts_at, copy.ends_at) == (activity.starts_at, activity.ends_at)


# -- time slots -----------------------------------------------------------------------------------------

@pytest.fixture
def health(tree):
    """送健康: 09:00–12:00 Beijing time in two weeks, places from its slots."""
    start = day_at(14, 9)
    activity = services.create_activity(
        title="送健康", kind=ActivityKind.HEALTH, node=tree[YUQUANYING], starts_at=start,
        ends_at=start + timedelta(hours=3), signup_opens_at=now() - timedelta(days=1),
        signup_closes_at=start - timedelta(hours=12), capacity=0, publish=True)
    db.session.commit()
    return activity


def test_generate_nine_to_twelve_every_twenty_minutes(organiser, health):
    made = services.generate_slots(organiser, health.id, health.starts_at, health.starts_at + timedelta(hours=3),
                                   20, 3)
    assert len(made) == 9
    activity = db.session.get(Activity, health.id)
    assert activity.capacity == 27
    assert activity.slots[-1].ends_at == health.starts_at + timedelta(hours=3)
    assert "slot.generate" in audit_actions()


@pytest.mark.parametrize("start_offset, end_offset, minutes, capacity, field, message", [
    (-30, 60, 20, 3, "first_start", "must lie within the activity's time"),
    (0, 200, 20, 3, "first_start", "must lie within the activity's time"),
    (0, 60, 0, 3, "minutes", "at least one minute"),
    (0, 15, 20, 3, "minutes", "shorter than one slot"),
    (0, 60, 20, 0, "capacity_each", "at least one place"),
    (60, 0, 20, 3, "last_end", "must end after"),
])
def test_generate_rules(organiser, health, start_offset, end_offset, minutes, capacity, field, message):
    with pytest.raises(ValidationFailed) as excinfo:
        services.generate_slots(organiser, health.id, health.starts_at + timedelta(minutes=start_offset),
                                health.starts_at + timedelta(minutes=end_offset), minutes, capacity)
    assert message in errors_of(excinfo)[field][0]


def test_slots_may_not_overlap(organiser, health):
    services.generate_slots(organiser, health.id, health.starts_at, health.starts_at + timedelta(hours=1), 20, 3)
    with pytest.raises(ValidationFailed) as excinfo:
        services.generate_slots(organiser, health.id, health.starts_at + timedelta(minutes=40),
                                health.starts_at + timedelta(hours=2), 20, 3)
    assert "overlaps the existing slot" in errors_of(excinfo)["first_start"][0]
    with pytest.raises(ValidationFailed) as excinfo:
        services.add_slot(organiser, health.id, health.starts_at, health.starts_at + timedelta(minutes=20), 3)
    assert "overlaps" in errors_of(excinfo)["starts_at"][0]
    services.add_slot(organiser, health.id, health.starts_at + timedelta(hours=1),
                      health.starts_at + timedelta(hours=2), 5)
    assert db.session.get(Activity, health.id).capacity == 14


def test_add_slot_rules(organiser, health):
    with pytest.raises(ValidationFailed) as excinfo:
        services.add_slot(organiser, health.id, health.starts_at, health.starts_at, 0)
    assert set(errors_of(excinfo)) == {"ends_at", "capacity"}


def test_delete_slot_only_when_nobody_booked_it(organiser, health, enrol):
    first, second = services.generate_slots(organiser, health.id, health.starts_at,
                                            health.starts_at + timedelta(hours=1), 30, 4)
    enrol(db.session.get(Activity, health.id), S.CONFIRMED, slot=first)
    with pytest.raises(Conflict) as excinfo:
        services.delete_slot(organiser, health.id, first.id)
    assert "1 people have booked this slot" in str(excinfo.value.message)
    services.delete_slot(organiser, health.id, second.id)
    activity = db.session.get(Activity, health.id)
    assert [s.id for s in activity.slots] == [first.id]
    assert activity.capacity == 4
    assert audit_actions()[-1] == "slot.delete"


def test_a_slot_booked_only_by_a_cancelled_registration_can_go(organiser, health, enrol):
    slot = services.generate_slots(organiser, health.id, health.starts_at,
                                   health.starts_at + timedelta(minutes=30), 30, 4)[0]
    enrol(db.session.get(Activity, health.id), S.CANCELLED, slot=slot)
    services.delete_slot(organiser, health.id, slot.id)
    assert db.session.get(Activity, health.id).slots == []


# -- questions ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("choices, message", [
    ("只有一个", "at least two different choices"),
    ("黄叶\n黄叶", "“黄叶” appears more than once"),
    ("\n  \n", "at least two different choices"),
])
def test_choice_questions_need_two_distinct_choices(organiser, make, choices, message):
    activity = make.activity()
    with pytest.raises(ValidationFailed) as excinfo:
        services.create_question(organiser, activity.id, "问题", QuestionKind.SINGLE_CHOICE, choices=choices)
    assert message in errors_of(excinfo)["choices"][0]


def test_question_needs_a_label(organiser, make):
    with pytest.raises(ValidationFailed) as excinfo:
        services.create_question(organiser, make.activity().id, "  ", QuestionKind.TEXT)
    assert errors_of(excinfo)["label"] == ["Please enter the question."]


def test_choices_are_cleaned_and_dropped_for_other_kinds(organiser, make):
    activity = make.activity()
    question = services.create_question(organiser, activity.id, "植物", QuestionKind.MULTIPLE_CHOICE,
                                        choices=" 绿萝 \n\n吊兰\n")
    assert question.choices == ["绿萝", "吊兰"]
    services.update_question(organiser, activity.id, question.id, "植物", QuestionKind.TEXT, choices="a\nb")
    assert db.session.get(type(question), question.id).choices is None


def test_kind_cannot_change_once_answered(organiser, make, enrol):
    activity = make.activity()
    question = services.create_question(organiser, activity.id, "植物", QuestionKind.TEXT)
    enrol(activity, answers={str(question.id): "绿萝"})
    with pytest.raises(ValidationFailed) as excinfo:
        services.update_question(organiser, activity.id, question.id, "植物", QuestionKind.NUMBER)
    assert "its kind cannot change" in errors_of(excinfo)["kind"][0]
    services.update_question(organiser, activity.id, question.id, "家里的植物", QuestionKind.TEXT, required=True)
    assert db.session.get(type(question), question.id).label == "家里的植物"


def test_answered_question_cannot_be_deleted(organiser, make, enrol):
    activity = make.activity()
    question = services.create_question(organiser, activity.id, "植物", QuestionKind.TEXT)
    enrol(activity, answers={str(question.id): "绿萝"})
    with pytest.raises(Conflict) as excinfo:
        services.delete_question(organiser, activity.id, question.id)
    assert "throw their answers away" in str(excinfo.value.message)


def test_move_and_delete_keep_positions_in_order(organiser, make):
    activity = make.activity()
    a, b, c = (services.create_question(organiser, activity.id, label, QuestionKind.TEXT).id
               for label in "ABC")

    def order():
        db.session.expire_all()
        return [q.label for q in sorted(db.session.get(Activity, activity.id).questions, key=lambda q: q.position)]

    services.move_question(organiser, activity.id, c, "up")
    assert order() == ["A", "C", "B"]
    services.move_question(organiser, activity.id, a, "down")
    assert order() == ["C", "A", "B"]
    services.move_question(organiser, activity.id, b, "down")  # already last: nothing happens
    assert order() == ["C", "A", "B"]
    services.delete_question(organiser, activity.id, c)
    assert order() == ["A", "B"]
    assert sorted(q.position for q in db.session.get(Activity, activity.id).questions) == [0, 1]
    with pytest.raises(ValidationFailed):
        services.move_question(organiser, activity.id, a, "sideways")
    assert {"question.add", "question.move", "question.delete"} <= set(audit_actions())


# -- unit quotas ----------------------------------------------------------------------------------------

def test_quotas_may_not_exceed_the_capacity(organiser, make):
    activity = make.activity(mode=SignupMode.QUOTA, capacity=50)
    services.save_unit_quota(organiser, activity.id, find_by_name("玉泉营商场工会").id, 30)
    with pytest.raises(ValidationFailed) as excinfo:
        services.save_unit_quota(organiser, activity.id, find_by_name(AOYUNCUN).id, 25)
    assert "The quotas would add up to 55 places, more than the activity's 50" in errors_of(excinfo)["quota"][0]
    # Changing an existing quota replaces it rather than adding to it.
    services.save_unit_quota(organiser, activity.id, find_by_name("玉泉营商场工会").id, 50)
    assert [q.quota for q in db.session.get(Activity, activity.id).unit_quotas] == [50]


def test_quota_rules(organiser, make, enrol):
    activity = make.activity(mode=SignupMode.QUOTA, capacity=50)
    unit = find_by_name("玉泉营商场工会")
    row = services.save_unit_quota(organiser, activity.id, unit.id, 5)
    enrol(db.session.get(Activity, activity.id), unit=unit)
    enrol(db.session.get(Activity, activity.id), unit=unit)
    with pytest.raises(ValidationFailed) as excinfo:
        services.save_unit_quota(organiser, activity.id, unit.id, 1)
    assert "already registered 2 delegates" in errors_of(excinfo)["quota"][0]
    with pytest.raises(Conflict):
        services.remove_unit_quota(organiser, activity.id, row.id)
    with pytest.raises(ValidationFailed) as excinfo:
        services.save_unit_quota(organiser, activity.id, None, 1)
    assert "node_id" in errors_of(excinfo)
    with pytest.raises(ValidationFailed):
        services.save_unit_quota(organiser, activity.id, unit.id, -1)


def test_quotas_only_in_quota_mode(organiser, make):
    activity = make.activity(capacity=50)
    with pytest.raises(Conflict) as excinfo:
        services.save_unit_quota(organiser, activity.id, find_by_name("玉泉营商场工会").id, 5)
    assert "quota per unit" in str(excinfo.value.message)


def test_remove_an_unused_quota(organiser, make):
    activity = make.activity(mode=SignupMode.QUOTA, capacity=50)
    row = services.save_unit_quota(organiser, activity.id, find_by_name(AOYUNCUN).id, 5)  # any union
    services.remove_unit_quota(organiser, activity.id, row.id)
    assert db.session.get(Activity, activity.id).unit_quotas == []
    assert audit_actions()[-2:] == ["quota.set", "quota.remove"]


# -- the list -------------------------------------------------------------------------------------------

def test_list_covers_the_scope_only(organiser, rival, admin, make):
    mine = make.activity("玉泉营课")
    below = make.activity("商场课", node="玉泉营商场工会")
    theirs = make.activity("奥运村课", node=AOYUNCUN)
    assert {a.id for a in services.managed_activities(organiser).items} == {mine.id, below.id}
    assert {a.id for a in services.managed_activities(rival).items} == {theirs.id}
    assert services.managed_activities(admin).total == 3


def test_list_filters_and_pages(organiser, make):
    for i in range(3):
        make.activity(f"课{i}", starts_in=timedelta(days=10 + i))
    make.activity("草稿", publish=False, kind=ActivityKind.MEETING)
    make.activity("商场课", node="玉泉营商场工会")
    assert [a.title for a in services.managed_activities(organiser, status=ActivityStatus.DRAFT).items] == ["草稿"]
    assert services.managed_activities(organiser, kind=ActivityKind.MEETING).total == 1
    assert [a.title for a in services.managed_activities(
        organiser, node=find_by_name("玉泉营商场工会")).items] == ["商场课"]
    first = services.managed_activities(organiser, per_page=2)
    second = services.managed_activities(organiser, page=2, per_page=2)
    assert first.total == 5 and first.has_next and not first.has_previous
    assert len(second.items) == 2 and second.has_previous


def test_list_puts_coming_activities_first_soonest_first(organiser, make, frozen_time):
    later = make.activity("下月", starts_in=timedelta(days=30))
    sooner = make.activity("下周", starts_in=timedelta(days=7))
    past = make.activity("上周", starts_in=timedelta(days=1))
    frozen_time(now() + timedelta(days=2))
    assert [a.id for a in services.managed_activities(organiser).items] == [sooner.id, later.id, past.id]


def test_raising_the_capacity_promotes_the_first_in_line(organiser, make):
    from unionevents.registrations import services as registrations

    activity = make.activity(capacity=1)
    first, second, third = (make.user(f"职工{i}") for i in range(3))
    registrations.register(first, activity.id)
    waiting = [registrations.register(w, activity.id) for w in (second, third)]
    assert [r.state for r in waiting] == [S.WAITLISTED, S.WAITLISTED]

    services.update_activity(organiser, activity.id, data_for(capacity=2))

    states = [db.session.get(Registration, r.id).state for r in waiting]
    assert states == [S.CONFIRMED, S.WAITLISTED]
    assert db.session.get(Activity, activity.id).taken == 2
    promoted = db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == second.id)).all()
    assert any(m.kind == "registration.offered" for m in promoted)  # offered, held until a deadline
