"""Roster exports (CSV with BOM, XLSX in write-only mode), masking, the audit row for full numbers,
and the printable sign-in sheet."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from unionevents.accounts.models import User
from unionevents.activities.models import QuestionKind
from unionevents.activities.services import add_question
from unionevents.core.audit import AuditLog
from unionevents.extensions import db
from unionevents.registrations.models import RegistrationState as S

from .organiser_fixtures import (  # noqa: F401 - fixtures
    MALL, StatementCounter, act_as, add_people, audit_count, fresh, organiser, tree,
)

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


def export(client, activity, **data):
    return client.post(f"/manage/activities/{activity.id}/roster/export", data=data)


def csv_rows(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def xlsx_rows(response) -> list[list]:
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def roster(make, tree):
    activity = make.activity(capacity=100)
    question = add_question(activity, "T-shirt", QuestionKind.SINGLE_CHOICE, choices=["M", "L"])
    db.session.commit()
    add_people(activity, 3, union=tree[MALL], answers={str(question.id): "L"})
    add_people(activity, 2, state=S.ATTENDED)
    add_people(activity, 1, state=S.CANCELLED)
    return activity


def mobiles() -> list[str]:
    return list(db.session.scalars(select(User.mobile).where(User.mobile.startswith("136"))))


def test_csv_has_a_bom_a_header_and_every_row_masked(roster, organiser, act_as):
    response = export(act_as(organiser), roster, format="csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0][:3] == ["No.", "Name", "Mobile number"] and rows[0][-1] == "T-shirt"
    assert len(rows) == 1 + 6
    text = response.get_data(as_text=True)
    assert all(m not in text for m in mobiles())
    assert all("****" in row[2] for row in rows[1:])
    assert sum(1 for row in rows[1:] if row[-1] == "L") == 3
    assert audit_count("roster.export_full_mobile") == 0


def test_xlsx_opens_and_has_the_rows(roster, organiser, act_as):
    response = export(act_as(organiser), roster, format="xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    rows = xlsx_rows(response)
    assert rows[0][1] == "Name" and len(rows) == 7
    assert all("****" in row[2] for row in rows[1:])
    assert {row[5] for row in rows[1:]} == {"Confirmed", "Attended", "Cancelled"}


def test_the_export_follows_the_filters(roster, organiser, act_as):
    rows = csv_rows(export(act_as(organiser), roster, format="csv", state="attended"))
    assert len(rows) == 1 + 2


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_full_mobile_numbers_are_shown_and_audited_with_ids_only(roster, organiser, act_as, fmt):
    response = export(act_as(organiser), roster, format=fmt, full_mobile="y")
    body = response.get_data(as_text=True) if fmt == "csv" else str(xlsx_rows(response))
    assert all(m in body for m in mobiles())
    fresh()
    (entry,) = db.session.scalars(select(AuditLog).where(AuditLog.action == "roster.export_full_mobile"))
    assert entry.actor_id == organiser.id and entry.object_type == "activity" and entry.object_id == roster.id
    assert entry.data == {"format": fmt}


def test_formula_like_names_stay_text(make, organiser, act_as):
    activity = make.activity()
    (reg,) = add_people(activity, 1)
    db.session.get(User, reg.user_id).name = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    rows = csv_rows(export(act_as(organiser), activity, format="csv"))
    assert rows[1][1].startswith("'=")
    cells = xlsx_rows(export(act_as(organiser), activity, format="xlsx"))
    assert cells[1][1].startswith("'=")


@pytest.mark.parametrize("data", [{"format": "pdf"}, {}, {"format": "csv", "state": "nonsense", "page": "x"}])
def test_bad_export_input_is_a_message_not_an_error(roster, organiser, act_as, data):
    response = export(act_as(organiser), roster, **data)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        page = act_as(organiser).get(f"/manage/activities/{roster.id}/roster").get_data(as_text=True)
        assert "flash-error" in page


def test_export_of_a_large_roster_uses_few_statements(make, organiser, act_as):
    activity = make.activity(capacity=2000)
    add_people(activity, 1200)
    client = act_as(organiser)
    with StatementCounter() as counter:
        response = export(client, activity, format="csv")
        assert len(csv_rows(response)) == 1201
    assert counter.count <= 10


def test_sign_in_sheet_lists_people_with_a_place_masked(roster, organiser, act_as):
    response = act_as(organiser).get(f"/manage/activities/{roster.id}/sign-in-sheet")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('<td class="signature">') == 5  # 3 confirmed + 2 attended, not the cancelled one
    assert all(m not in page for m in mobiles())
    assert "sheet-table" in page


def test_print_rules_live_at_the_end_of_the_stylesheet(app):
    from pathlib import Path

    css = Path(app.static_folder, "css", "app.css").read_text(encoding="utf-8")
    marker = css.index("Registrations: organiser roster, door check-in")
    assert "@media print" in css[marker:] and ".sheet-table" in css[marker:]
