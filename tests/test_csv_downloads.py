"""Every CSV download says ``text/csv; charset=utf-8``: one charset, not two (issue 14, defect 14).

``Response(mimetype="text/csv; charset=utf-8")`` made werkzeug append a second ``; charset=utf-8``;
some spreadsheet importers refuse such a header.  The list below is checked against the URL map, so
a new CSV download must join it.
"""
from __future__ import annotations

import csv
import inspect
import io

import pytest

from unionevents.accounts.models import Role
from unionevents.registrations import services as registrations

#: endpoint → how to fetch it: (method, url template, form data, role)
CSV_DOWNLOADS = {
    "reports.export": ("GET", "/reports/export.csv", None, "officer"),
    "reports.activity_export": ("GET", "/reports/activities/{activity}/export.csv", None, "officer"),
    "roster.export": ("POST", "/manage/activities/{activity}/roster/export", {"format": "csv"}, "organiser"),
    "admin.import_example": ("GET", "/admin/users/import/example.csv", None, "admin"),
}


def _serves_csv(app, rule) -> bool:
    view = inspect.unwrap(app.view_functions[rule.endpoint])
    try:
        source = inspect.getsource(view)
    except (OSError, TypeError):
        source = ""
    return (".csv" in rule.rule or ".<fmt>" in rule.rule or "text/csv" in source
            or "csv_response(" in source or '"csv"' in source and "Response" in source)


def test_the_list_holds_every_csv_download(app):
    found = {rule.endpoint for rule in app.url_map.iter_rules() if _serves_csv(app, rule)}
    assert found <= set(CSV_DOWNLOADS), f"add to CSV_DOWNLOADS: {sorted(found - set(CSV_DOWNLOADS))}"


@pytest.fixture
def people(make):
    tree = make.tree()
    city = tree["北京市总工会"]
    activity = make.activity("花卉养护课", node=tree["朝阳区总工会"], capacity=5)
    for n in range(2):
        registrations.register(make.user(f"职工{n}", union=tree["奥运村快递驿站联合工会"]), activity.id)
    return {
        "activity": activity,
        "officer": make.user("干部", role=Role.OFFICER, scope=city),
        "organiser": make.user("组织者", role=Role.ORGANISER, scope=city),
        "admin": make.user("管理员", role=Role.ADMIN, scope=city),
    }


@pytest.mark.parametrize("endpoint", sorted(CSV_DOWNLOADS))
def test_csv_download_has_exactly_one_charset(app, people, login, endpoint):
    method, url, data, role = CSV_DOWNLOADS[endpoint]
    client = login(people[role], app.test_client())
    url = url.format(activity=people["activity"].id)
    response = client.post(url, data=data) if method == "POST" else client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Type"].lower().count("charset") == 1
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows and rows[0]
