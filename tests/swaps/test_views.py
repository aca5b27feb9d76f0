"""Swap desk pages over HTTP: scope, the desk flow, bad input with field messages, the export."""
from __future__ import annotations

import html
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from unionevents.activities.models import ActivityKind
from unionevents.extensions import db
from unionevents.registrations import services as engine
from unionevents.swaps import services
from unionevents.swaps.models import SwapDonation, SwapRule


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def ready(organiser, swap):
    services.set_rule(organiser, swap.id, 1, 1, 5)
    services.change_stock(organiser, swap.id, delta=20)
    return swap


def urls(activity_id, registration_id, node_id):
    return [("GET", f"/manage/activities/{activity_id}/swap"),
            ("POST", f"/manage/activities/{activity_id}/swap/rule"),
            ("POST", f"/manage/activities/{activity_id}/swap/stock"),
            ("GET", f"/manage/activities/{activity_id}/swap/registrations/{registration_id}"),
            ("POST", f"/manage/activities/{activity_id}/swap/registrations/{registration_id}"),
            ("GET", f"/manage/activities/{activity_id}/swap/ledger"),
            ("GET", f"/manage/activities/{activity_id}/swap/ledger.xlsx"),
            ("GET", f"/manage/library/{node_id}")]


def test_only_organisers_in_scope(client, login, make, rival, ready, register):
    registration = register(ready)
    worker = registration.user
    for who, expected in ((rival, 403), (worker, 403)):
        login(who)
        for method, url in urls(ready.id, registration.id, ready.node_id):
            response = client.get(url) if method == "GET" else client.post(url, data={})
            assert response.status_code == expected, (who.name, url, response.status_code)
    assert db.session.scalar(select(func.count(SwapDonation.id))) == 0


def test_missing_things_are_404(client, login, organiser, ready, make):
    login(organiser)
    assert client.get("/manage/activities/999999/swap").status_code == 404
    assert client.get(f"/manage/activities/{ready.id}/swap/registrations/999999").status_code == 404
    assert client.get("/manage/library/999999").status_code == 404
    course = make.activity("花卉课", kind=ActivityKind.CLASS_, node="北京建工资源公司工会")
    assert client.get(f"/manage/activities/{course.id}/swap").status_code == 404


def test_the_desk_flow(client, login, organiser, swap, register):
    login(organiser)
    page = client.get(f"/manage/activities/{swap.id}/swap")
    assert page.status_code == 200
    response = client.post(f"/manage/activities/{swap.id}/swap/rule",
                           data={"books_per_lot": "1", "portions_per_lot": "1", "per_person_cap": "5"})
    assert response.status_code == 303
    response = client.post(f"/manage/activities/{swap.id}/swap/stock",
                           data={"mode": "delta", "amount": "２０", "reason": "到货"})
    assert response.status_code == 303 and db.session.get(SwapRule, swap.id).stock == 20
    registration = register(swap, "刘师傅", "13800004321")
    found = text(client.get(f"/manage/activities/{swap.id}/swap?q=4321"))
    assert "刘师傅" in found and "13800004321" not in found
    token = engine.ticket_token(registration)
    response = client.get(f"/manage/activities/{swap.id}/swap?q={token}")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/swap/registrations/{registration.id}")
    response = client.post(f"/manage/activities/{swap.id}/swap/registrations/{registration.id}",
                           data={"books": "3", "titles": "红楼梦 9787020002207"}, follow_redirects=True)
    page = text(response)
    assert response.status_code == 200 and "3" in page and "17" in page
    ledger = text(client.get(f"/manage/activities/{swap.id}/swap/ledger"))
    assert "刘师傅" in ledger and "9787020002207" in ledger
    export = client.get(f"/manage/activities/{swap.id}/swap/ledger.xlsx")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    rows = list(load_workbook(io.BytesIO(export.data)).worksheets[0].iter_rows(values_only=True))
    assert rows[1][3:5] == (3, 3)
    library = text(client.get("/manage/library"))
    assert "北京建工资源公司工会" in library
    node_page = text(client.get(f"/manage/library/{swap.node_id}"))
    assert "红楼梦" in node_page


@pytest.mark.parametrize("data, field", [
    ({"books": ""}, "books"), ({"books": "abc"}, "books"), ({"books": "0"}, "books"),
    ({"books": "99999999999999"}, "books"), ({"books": "-2"}, "books"),
    ({"books": "1", "titles": "9787020002208"}, "titles"), ({"books": "1", "titles": "a\nb"}, "titles"),
    ({"books": "1", "titles": "书" * 300}, "titles"),
])
def test_bad_donations_get_field_messages(client, login, organiser, ready, register, data, field):
    registration = register(ready)
    login(organiser)
    response = client.post(f"/manage/activities/{ready.id}/swap/registrations/{registration.id}", data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in text(response)
    assert db.session.scalar(select(func.count(SwapDonation.id))) == 0


@pytest.mark.parametrize("url_part, data, field, status", [
    ("rule", {"books_per_lot": "0", "portions_per_lot": "x"}, "books_per_lot", 422),
    ("rule", {"books_per_lot": "1", "portions_per_lot": "1", "per_person_cap": "-1"}, "per_person_cap", 422),
    ("stock", {"mode": "delta", "amount": "-50"}, "amount", 409),
    ("stock", {"mode": "delta", "amount": "abc"}, "amount", 422),
    ("stock", {"mode": "set", "amount": ""}, "amount", 422),
    ("stock", {"mode": "weird", "amount": "0"}, "amount", 422),
    ("stock", {"mode": "delta", "amount": "5", "reason": "x" * 300}, "reason", 422),
])
def test_bad_rule_and_stock_input(client, login, organiser, ready, url_part, data, field, status):
    login(organiser)
    response = client.post(f"/manage/activities/{ready.id}/swap/{url_part}", data=data)
    assert response.status_code == status
    assert f'id="{field}-error"' in text(response)
    assert db.session.get(SwapRule, ready.id).stock == 20


def test_a_cancelled_registration_is_refused_at_the_desk(client, login, organiser, ready, register):
    registration = register(ready)
    engine.cancel(registration.id, registration.user)
    login(organiser)
    response = client.post(f"/manage/activities/{ready.id}/swap/registrations/{registration.id}",
                           data={"books": "1"})
    assert response.status_code == 409
