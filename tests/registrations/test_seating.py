"""Delegation seating for a meeting: the organiser sets the hall, seats are assigned by unit from the
quotas, and each delegate sees their seat on the ticket, the roster, its export, the chart and the badges."""
from __future__ import annotations

import csv
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from unionevents.accounts.models import Role
from unionevents.activities.models import ActivityKind, SignupMode
from unionevents.activities.services import set_unit_quota
from unionevents.core.audit import AuditLog
from unionevents.core.errors import Conflict, NotAllowed, ValidationFailed
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import SeatAssignment
from unionevents.registrations.seating_rules import Seat
from unionevents.registrations.services import seating

from .organiser_fixtures import (  # noqa: F401 - fixtures
    COURIERS, MALL, act_as, organiser, other_organiser, tree,
)

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def meeting(make, tree):
    activity = make.activity("劳模事迹报告会", kind=ActivityKind.MEETING, mode=SignupMode.QUOTA, capacity=8,
                             node="丰台区玉泉营街道总工会")
    set_unit_quota(activity, tree[MALL], 3)
    set_unit_quota(activity, tree[COURIERS], 2)
    db.session.commit()
    return activity


@pytest.fixture
def delegates(meeting, workers, make):
    mall = [make.user(f"商场职工{i}", union=MALL) for i in range(3)]
    couriers = workers(2, union=COURIERS)
    # sign-up order: a courier first, then the mall, then the second courier
    order = [couriers[0], *mall, couriers[1]]
    return [services.register(person, meeting.id) for person in order]


def seat_map(activity_id):
    return seating.seat_labels(activity_id)


def test_seats_come_in_unit_blocks_from_the_quotas(meeting, delegates, organiser):
    seating.save_layout(organiser, meeting.id, 2, 4)
    result = seating.assign_seats(organiser, meeting.id)
    assert (result.seated, result.unseated) == (5, 0)
    seats = seat_map(meeting.id)
    courier_first, mall_a, mall_b, mall_c, courier_second = delegates
    # the mall's quota was added first: seats 1-3 of row 1; the couriers: row 1 seat 4 and row 2 seat 1
    assert [seats[r.id] for r in (mall_a, mall_b, mall_c)] == [Seat(1, 1), Seat(1, 2), Seat(1, 3)]
    assert seats[courier_first.id] == Seat(1, 4) and seats[courier_second.id] == Seat(2, 1)
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "seating.assign")) == 1


def test_assigning_again_keeps_seats_and_frees_a_cancelled_one(meeting, delegates, organiser, workers):
    seating.save_layout(organiser, meeting.id, 2, 4)
    seating.assign_seats(organiser, meeting.id)
    before = seat_map(meeting.id)
    mall_a = delegates[1]
    services.cancel(mall_a.id, organiser)
    newcomer = services.register(workers(1, union=MALL)[0], meeting.id)
    seating.assign_seats(organiser, meeting.id)
    after = seat_map(meeting.id)
    assert mall_a.id not in after
    assert after[newcomer.id] == before[mall_a.id]
    assert all(after[r.id] == before[r.id] for r in delegates if r.id != mall_a.id)


def test_the_chart_drops_a_cancelled_delegate_before_seats_are_assigned_again(meeting, delegates, organiser,
                                                                             workers):
    seating.save_layout(organiser, meeting.id, 2, 4)
    seating.assign_seats(organiser, meeting.id)
    mall_a = delegates[1]
    services.cancel(mall_a.id, organiser)
    services.register(workers(1, union=MALL)[0], meeting.id)
    chart = seating.seating_chart(meeting.id)
    names = [seat.name for row in chart.grid for seat in row if seat.name]
    assert mall_a.user.name not in names and len(names) == 4
    assert chart.without_seat == 1  # the newcomer, until the organiser assigns again


def test_a_hall_too_small_for_the_quotas_is_refused(meeting, organiser):
    with pytest.raises(ValidationFailed) as error:
        seating.save_layout(organiser, meeting.id, 1, 4)
    assert "cannot hold" in str(error.value.errors["rows"][0])
    assert seating.seating_plan(meeting.id) is None


def test_assigning_before_a_layout_and_outside_scope_are_refused(meeting, organiser, other_organiser, make):
    with pytest.raises(Conflict):
        seating.assign_seats(organiser, meeting.id)
    with pytest.raises(NotAllowed):
        seating.save_layout(other_organiser, meeting.id, 2, 4)
    a_class = make.activity("花卉课")
    with pytest.raises(Conflict):
        seating.save_layout(organiser, a_class.id, 2, 4)


def test_the_database_refuses_two_people_on_one_seat(meeting, delegates):
    from sqlalchemy.exc import IntegrityError

    db.session.add_all([SeatAssignment(activity_id=meeting.id, registration_id=delegates[0].id, row=1, seat=1),
                        SeatAssignment(activity_id=meeting.id, registration_id=delegates[1].id, row=1, seat=1)])
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# --------------------------------------------------------------------------- pages

def test_organiser_sets_the_layout_assigns_and_prints(client, act_as, meeting, delegates, organiser):
    act_as(organiser)
    base = f"/manage/activities/{meeting.id}/seating"
    bad = client.post(base, data={"rows": "0", "seats_per_row": "4"})
    assert bad.status_code == 422
    too_small = client.post(base, data={"rows": "1", "seats_per_row": "4"})
    assert too_small.status_code == 422 and "cannot hold" in too_small.get_data(as_text=True)
    assert client.post(base, data={"rows": "2", "seats_per_row": "4"}).status_code == 302
    assert client.post(f"{base}/assign").status_code == 302
    page = client.get(base).get_data(as_text=True)
    assert "玉泉营商场工会" in page and "Row 1, seat 1" in page
    chart = client.get(f"{base}/chart")
    text = chart.get_data(as_text=True)
    assert chart.status_code == 200 and "Row 2" in text and delegates[0].user.name in text
    assert "(free)" in text  # 8 seats, 5 delegates


def test_badges_are_a_pdf_with_names_and_seats(client, act_as, meeting, delegates, organiser):
    seating.save_layout(organiser, meeting.id, 2, 4)
    seating.assign_seats(organiser, meeting.id)
    act_as(organiser)
    response = client.get(f"/manage/activities/{meeting.id}/seating/badges.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.get_data()))
    assert len(reader.pages) == 1  # 5 badges, 8 a page
    text = reader.pages[0].extract_text()
    fonts = [str(f.get_object()["/BaseFont"]) for f in reader.pages[0]["/Resources"]["/Font"].values()]
    assert any("STSong-Light" in name for name in fonts)
    assert "Row 1, seat 1" in text and "劳模事迹报告会" in text and "商场职工0" in text


def test_badges_for_nine_delegates_take_two_pages(client, act_as, make, tree, organiser, workers):
    activity = make.activity("大会", kind=ActivityKind.MEETING, capacity=20, node="丰台区玉泉营街道总工会")
    for person in workers(9, union=MALL):
        services.register(person, activity.id)
    act_as(organiser)
    response = client.get(f"/manage/activities/{activity.id}/seating/badges.pdf")
    assert len(PdfReader(io.BytesIO(response.get_data())).pages) == 2


def test_seat_is_on_the_ticket_roster_and_export(client, act_as, login, meeting, delegates, organiser):
    seating.save_layout(organiser, meeting.id, 2, 4)
    seating.assign_seats(organiser, meeting.id)
    mall_a = delegates[1]
    act_as(mall_a.user)
    ticket = client.get(f"/me/registrations/{mall_a.id}").get_data(as_text=True)
    assert "Your seat: row 1, seat 1" in ticket
    act_as(organiser)
    roster = client.get(f"/manage/activities/{meeting.id}/roster").get_data(as_text=True)
    assert "Row 1, seat 1" in roster
    export = client.post(f"/manage/activities/{meeting.id}/roster/export", data={"format": "csv"})
    rows = list(csv.reader(io.StringIO(export.get_data().decode("utf-8-sig"))))
    header = rows[0]
    row_at, seat_at = header.index("Seat row"), header.index("Seat number")
    line = next(r for r in rows[1:] if r[0] == str(mall_a.id))
    assert (line[row_at], line[seat_at]) == ("1", "1")


def test_seating_pages_are_for_meetings_and_their_organisers(client, act_as, make, meeting, other_organiser,
                                                              delegates):
    act_as(other_organiser)
    assert client.get(f"/manage/activities/{meeting.id}/seating").status_code == 403
    assert client.get(f"/manage/activities/{meeting.id}/seating/badges.pdf").status_code == 403
    act_as(delegates[1].user)  # a delegate: a worker holds no organiser role
    assert client.get(f"/manage/activities/{meeting.id}/seating/chart").status_code == 403
    a_class = make.activity("花卉课")
    act_as(make.user("组织者2", role=Role.ORGANISER, scope="丰台区玉泉营街道总工会"))
    assert client.get(f"/manage/activities/{a_class.id}/seating").status_code == 404


def test_a_cancelled_delegate_loses_the_seat_everywhere_before_seats_are_assigned_again(
        client, act_as, meeting, delegates, organiser):
    seating.save_layout(organiser, meeting.id, 2, 4)
    seating.assign_seats(organiser, meeting.id)
    mall_a = delegates[1]
    services.cancel(mall_a.id, organiser)
    assert mall_a.id not in seating.seat_labels(meeting.id)  # the roster and its export read this
    assert seating.seat_of(mall_a.id) is None  # the ticket reads this
    assert len(seating.seat_labels(meeting.id)) == 4
    act_as(organiser)
    export = client.post(f"/manage/activities/{meeting.id}/roster/export", data={"format": "csv"})
    rows = list(csv.reader(io.StringIO(export.get_data().decode("utf-8-sig"))))
    row_at = rows[0].index("Seat row")
    line = next(r for r in rows[1:] if r[0] == str(mall_a.id))
    assert line[row_at] == ""


def test_assigning_is_idempotent_and_stable(meeting, delegates, organiser):
    seating.save_layout(organiser, meeting.id, 2, 4)
    first = seating.assign_seats(organiser, meeting.id)
    seats = seat_map(meeting.id)
    again = seating.assign_seats(organiser, meeting.id)
    assert seat_map(meeting.id) == seats and (again.seated, again.moved, again.unseated) == (first.seated, 0, 0)
    rows = db.session.scalar(select(func.count()).select_from(SeatAssignment)
                             .where(SeatAssignment.activity_id == meeting.id))
    assert rows == 5


def test_the_seating_page_has_the_assign_button(client, act_as, meeting, delegates, organiser):
    seating.save_layout(organiser, meeting.id, 2, 4)
    act_as(organiser)
    page = client.get(f"/manage/activities/{meeting.id}/seating").get_data(as_text=True)
    assert f'action="/manage/activities/{meeting.id}/seating/assign"' in page
    response = client.post(f"/manage/activities/{meeting.id}/seating/assign")
    assert response.status_code in (302, 303) and len(seat_map(meeting.id)) == 5
