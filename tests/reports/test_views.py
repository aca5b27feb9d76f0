"""Dashboard, drill-down, activity statistics, exports and the API: numbers, scope, bounded queries."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from unionevents.accounts.models import Occupation, Role
from unionevents.accounts.services import issue_token
from unionevents.activities.models import ActivityKind
from unionevents.core.db import is_sqlite
from unionevents.extensions import db
from unionevents.registrations import services as engine

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English sheet names and headers

Q2 = {"from": "2025-04-01", "to": "2025-06-30"}


def test_dashboard_shows_the_district_figures(scenario, officer, client, login):
    login(officer("朝阳区总工会"))
    page = client.get("/reports/", query_string=Q2)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "朝阳区奥运村街道总工会" in html and "丰台区" not in html.replace("丰台区总工会", "")
    assert '<dd>6</dd>' in html  # registrations
    assert "50.0%" in html  # attendance rate of the activities already held
    assert 'role="img"' in html and "<title id=\"chart-children-title\">" in html


def test_drill_down_to_a_child_and_to_an_activity(scenario, officer, client, login):
    tree = scenario["tree"]
    login(officer("朝阳区总工会"))
    street = tree["朝阳区奥运村街道总工会"]
    page = client.get("/reports/", query_string={**Q2, "node": street.id})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "奥运村快递驿站联合工会" in html
    a1 = scenario["activities"]["a1"]
    assert f"/reports/activities/{a1.id}" in html
    detail = client.get(f"/reports/activities/{a1.id}")
    assert detail.status_code == 200
    assert "花卉养护课" in detail.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/reports/?node={node}", "/reports/export.csv?node={node}",
                                 "/reports/export.xlsx?node={node}", "/reports/activities/{activity}",
                                 "/reports/activities/{activity}/export.xlsx",
                                 "/reports/activities/{activity}/export.csv"])
def test_chaoyang_officer_cannot_see_fengtai(scenario, officer, client, login, url):
    tree = scenario["tree"]
    login(officer("朝阳区总工会"))
    response = client.get(url.format(node=tree["丰台区玉泉营街道总工会"].id,
                                     activity=scenario["activities"]["a3"].id))
    assert response.status_code == 403
    assert "插花课" not in response.get_data(as_text=True)


def test_unknown_node_and_activity_are_404(scenario, officer, client, login):
    login(officer("朝阳区总工会"))
    assert client.get("/reports/?node=99999").status_code == 404
    assert client.get("/reports/?node=abc").status_code == 404
    assert client.get("/reports/activities/99999").status_code == 404
    assert client.get("/reports/export.pdf").status_code == 404


def test_bad_dates_and_kinds_get_field_messages(scenario, officer, client, login):
    login(officer("朝阳区总工会"))
    page = client.get("/reports/", query_string={"from": "2025-13-01", "to": "2025-01-01", "kind": "party"})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'id="date-from-error"' in html and 'aria-invalid="true"' in html
    assert "Please choose kinds of activity from the list." in html or "kind" in html


def test_workers_and_organisers_cannot_open_the_dashboard(scenario, make, client, login):
    login(scenario["users"]["r1"])
    assert client.get("/reports/").status_code == 403
    login(scenario["organiser"])
    assert client.get("/reports/").status_code == 403


def test_organiser_in_scope_sees_activity_statistics(scenario, make, client, login):
    tree = scenario["tree"]
    organiser = make.user("街道组织者", role=Role.ORGANISER, scope=tree["朝阳区奥运村街道总工会"])
    login(organiser)
    assert client.get(f"/reports/activities/{scenario['activities']['a1'].id}").status_code == 200
    assert client.get(f"/reports/activities/{scenario['activities']['a3'].id}").status_code == 403


def test_admin_sees_the_city(scenario, make, client, login):
    login(make.user("管理员", role=Role.ADMIN, scope=scenario["tree"]["北京市总工会"]))
    page = client.get("/reports/", query_string=Q2)
    assert page.status_code == 200 and "丰台区总工会" in page.get_data(as_text=True)


def test_csv_export_has_bom_and_the_numbers(scenario, officer, client, login):
    login(officer("朝阳区总工会"))
    response = client.get("/reports/export.csv", query_string=Q2)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    by_union = rows.index(["By union"])
    header = rows[by_union + 1]
    street = next(r for r in rows[by_union:] if r and r[0] == "朝阳区奥运村街道总工会")
    assert street[header.index("Number of registrations")] == "5"
    assert street[header.index("Unique participants")] == "2"


def test_xlsx_export_has_a_sheet_per_breakdown(scenario, officer, client, login):
    login(officer("朝阳区总工会"))
    response = client.get("/reports/export.xlsx", query_string=Q2)
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames == ["Summary", "By union", "By kind", "By month", "Top activities"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True)}
    assert summary["Number of registrations"] == 6 and summary["Unique participants"] == 2
    months = list(book["By month"].iter_rows(values_only=True))
    assert [r[0] for r in months[1:]] == ["2025-04", "2025-05", "2025-06"]


def test_activity_statistics_by_state_slot_union_occupation_and_answers(make, client, login, frozen_time):
    from tests.reports.conftest import T0
    from unionevents.activities.models import QuestionKind
    from unionevents.activities.services import add_question

    frozen_time(T0)
    tree = make.tree()
    activity = make.activity("问卷课", node=tree["朝阳区奥运村街道总工会"], capacity=2)
    q_size = add_question(activity, "T恤尺码", QuestionKind.SINGLE_CHOICE, choices=["S", "M", "L"])
    q_topics = add_question(activity, "感兴趣的内容", QuestionKind.MULTIPLE_CHOICE, choices=["插花", "绿植"])
    q_age = add_question(activity, "工龄", QuestionKind.NUMBER)
    q_bus = add_question(activity, "需要班车", QuestionKind.YES_NO)
    db.session.commit()
    answers = [("M", ["插花"], 3, True), ("M", ["插花", "绿植"], 10, False), ("L", [], 5, True)]
    people = [make.user(f"职工{i}", union=tree["奥运村快递驿站联合工会"],
                        occupation=Occupation.RIDER if i else Occupation.TEACHER) for i in range(3)]
    for person, (size, topics, years, bus) in zip(people, answers):
        engine.register(person, activity.id, answers={str(q_size.id): size, str(q_topics.id): topics,
                                                      str(q_age.id): years, str(q_bus.id): bus})
    from unionevents.reports import queries

    stats = queries.activity_stats(db.session.get(type(activity), activity.id))
    states = dict(stats.by_state)
    assert states[engine.S.CONFIRMED] == 2 and states[engine.S.WAITLISTED] == 1
    occupations = {row["occupation"]: row["registrations"] for row in stats.by_occupation}
    assert occupations == {Occupation.RIDER: 2, Occupation.TEACHER: 1}
    assert stats.by_union[0]["name"] == "奥运村快递驿站联合工会" and stats.by_union[0]["places"] == 2
    summaries = {s.question.label: s for s in stats.questions}
    assert summaries["T恤尺码"].counts == [("S", 0), ("M", 2), ("L", 1)]
    assert summaries["感兴趣的内容"].counts == [("插花", 2), ("绿植", 1)]
    assert (summaries["工龄"].mean, summaries["工龄"].minimum, summaries["工龄"].maximum) == (6.0, 3.0, 10.0)
    assert summaries["需要班车"].counts == [("Yes", 2), ("No", 1)]
    officer = make.user("干部", role=Role.OFFICER, scope=tree["朝阳区总工会"])
    login(officer)
    page = client.get(f"/reports/activities/{activity.id}")
    assert page.status_code == 200 and "T恤尺码" in page.get_data(as_text=True)
    book = load_workbook(io.BytesIO(client.get(f"/reports/activities/{activity.id}/export.xlsx").data))
    assert "Answers" in book.sheetnames


def _count_statements(fn):
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_dashboard_runs_a_fixed_number_of_statements(scenario, officer, client, login, make, frozen_time):
    from tests.reports.conftest import T0

    login(officer("北京市总工会"))
    pages = ["/reports/?from=2025-04-01&to=2025-06-30", "/reports/export.xlsx?from=2025-04-01&to=2025-06-30",
             f"/reports/activities/{scenario['activities']['a1'].id}"]
    db.session.expire_all()
    small = [_count_statements(lambda url=url: client.get(url)) for url in pages]
    # Ten times the data: more unions, activities, workers and registrations.
    frozen_time(T0)
    tree = scenario["tree"]
    for i in range(6):
        node = make.node(f"新工会{i}", parent=tree["朝阳区奥运村街道总工会" if i % 2 else "丰台区总工会"])
        for j in range(3):
            activity = make.activity(f"活动{i}-{j}", node=node, capacity=5, kind=list(ActivityKind)[j + 1],
                                     starts_in=timedelta(days=5 + i + j))
            for k in range(3):
                engine.register(make.user(f"工{i}{j}{k}", union=node), activity.id)
    db.session.expire_all()
    large = [_count_statements(lambda url=url: client.get(url)) for url in pages]
    # The same statements with ten times the data, and with the new registrations' reach rows still
    # waiting for the settle (a page never settles them): 6 for the dashboard (every figure
    # provider's in one), whatever is marked.
    assert large == small
    # + the login and the header's unread-message count (one statement each per page for a logged-in
    # user); PostgreSQL adds the report requests' plan settings (core.db.plan_each_run).
    limit = 9 if is_sqlite() else 10
    assert small[0] <= limit and small[1] <= limit, small


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE")


def _writes_during(fn) -> list[str]:
    """The statements ``fn`` sends that write or take a write lock, and every write_transaction()."""
    from unionevents.core import db as core_db

    seen: list[str] = []

    def watch(_conn, _cursor, statement, *_args):
        text = " ".join(statement.split()).upper()
        if text.startswith(WRITES) or " FOR UPDATE" in text or "ADVISORY" in text:
            seen.append(text[:80])

    real = core_db.write_transaction

    def watched_write_transaction(*args, **kwargs):
        seen.append("write_transaction()")
        return real(*args, **kwargs)

    event.listen(db.engine, "before_cursor_execute", watch)
    core_db.write_transaction = watched_write_transaction
    try:
        fn()
    finally:
        core_db.write_transaction = real
        event.remove(db.engine, "before_cursor_execute", watch)
    return seen


def test_report_pages_never_write_even_with_changes_waiting(scenario, officer, client, login, make):
    """An officer's GET takes no write transaction, no write lock and sends no INSERT/UPDATE/DELETE,
    even right after a burst of sign-ups left report_reach rows to settle; the page says how current
    its unique counts are instead, and `flask reports settle` brings them up to date."""
    from unionevents.reports.models import ReportReach
    from unionevents.reports.services import check, settle_reach

    tree = scenario["tree"]
    course = make.activity("突发报名课", node=tree["玉泉营商场工会"], capacity=30, starts_in=timedelta(days=10))
    for i in range(12):
        engine.register(make.user(f"突发{i}", union=tree["玉泉营商场工会"]), course.id)
    waiting = db.session.query(ReportReach).filter(ReportReach.pending == 1).count()
    assert waiting == 48  # twelve workers at four levels
    user = officer("北京市总工会")
    login(user)
    token = {"Authorization": f"Bearer {issue_token(user, 'test')}"}
    db.session.commit()
    db.session.expire_all()
    pages = [("/reports/?from=2025-04-01&to=2025-06-30", None),
             ("/reports/?from=2025-04-01&to=2025-06-30&kind=class&kind=meeting", None),
             ("/reports/export.xlsx?from=2025-04-01&to=2025-06-30", None),
             ("/reports/export.csv?from=2025-04-01&to=2025-06-30", None),
             (f"/reports/activities/{course.id}", None),
             ("/api/v1/reports/summary?from=2025-04-01&to=2025-06-30", token)]
    responses = []
    writes = _writes_during(lambda: responses.extend(client.get(url, headers=headers) for url, headers in pages))
    assert [r.status_code for r in responses] == [200] * len(pages)
    assert writes == []
    assert db.session.query(ReportReach).filter(ReportReach.pending == 1).count() == 48  # nothing settled
    html = responses[0].get_data(as_text=True)
    assert 'id="unique-freshness"' in html and "Unique counts as of" in html
    assert responses[-1].json["unique_as_of"] is not None
    assert responses[-1].json["totals"]["registrations"] == 7 + 12  # counted in the sign-ups' transactions

    assert settle_reach() == 48  # what the timer runs
    assert check() == []
    page = client.get("/reports/?from=2025-04-01&to=2025-06-30").get_data(as_text=True)
    assert 'id="unique-freshness"' not in page  # nothing waits: no line
    body = client.get("/api/v1/reports/summary?from=2025-04-01&to=2025-06-30", headers=token).json
    assert body["unique_as_of"] is None and body["totals"]["unique_participants"] == 3 + 12


def test_api_summary_has_the_same_figures(scenario, officer, client):
    user = officer("朝阳区总工会")
    headers = {"Authorization": f"Bearer {issue_token(user, 'test')}"}
    response = client.get("/api/v1/reports/summary", query_string=Q2, headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["node"]["name"] == "朝阳区总工会" and body["from"] == "2025-04-01"
    assert body["totals"]["registrations"] == 6 and body["totals"]["unique_participants"] == 2
    assert body["totals"]["attendance_rate"] == 0.5
    street = next(c for c in body["by_child"] if c["node"]["name"] == "朝阳区奥运村街道总工会")
    assert street["figures"]["places"] == 3
    meetings = client.get("/api/v1/reports/summary", query_string={**Q2, "kind": "meeting"}, headers=headers)
    assert meetings.json["totals"]["registrations"] == 3 and meetings.json["kinds"] == ["meeting"]


def test_api_is_scope_checked(scenario, officer, client):
    tree = scenario["tree"]
    user = officer("朝阳区总工会")
    headers = {"Authorization": f"Bearer {issue_token(user, 'test')}"}
    denied = client.get("/api/v1/reports/summary", query_string={"node": tree["丰台区总工会"].id}, headers=headers)
    assert denied.status_code == 403 and denied.json["code"] == "forbidden"
    assert client.get("/api/v1/reports/summary", query_string={"node": 99999}, headers=headers).status_code == 404
    bad = client.get("/api/v1/reports/summary", query_string={"from": "2025-06-01", "to": "2025-01-01"},
                     headers=headers)
    assert bad.status_code == 422
    assert client.get("/api/v1/reports/summary").status_code == 401
    worker = {"Authorization": f"Bearer {issue_token(scenario['users']['r1'], 'test')}"}
    assert client.get("/api/v1/reports/summary", headers=worker).status_code == 403
