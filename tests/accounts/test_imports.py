"""Bulk import of workers (accounts/imports/), its CLI, its upload page, and the imported worker's
first login with an SMS code."""
from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from unionevents.accounts import codes, imports
from unionevents.accounts.imports import import_workers
from unionevents.accounts.models import Occupation, Role, User
from unionevents.accounts.services import authenticate
from unionevents.core.audit import AuditLog
from unionevents.core.errors import NotAllowed, ValidationFailed
from unionevents.core.outbox import OutboxMessage
from unionevents.extensions import db
from ..factories import send_sms_code

pytestmark = pytest.mark.usefixtures("english")  # these tests assert English wording


HEADER_ZH = ["手机号", "姓名", "工会", "职业"]
HEADER_EN = ["mobile", "name", "union", "occupation"]
FENGTAI_SHOP = "玉泉营商场工会"          # under 丰台区总工会
AOYUNCUN_STATION = "奥运村快递驿站联合工会"  # under 朝阳区总工会


def csv_bytes(rows, header=HEADER_ZH, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER_EN) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def users_count() -> int:
    return db.session.scalar(select(func.count(User.id)))


def user(mobile: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.mobile == mobile))


def welcome_sms(user_id: int) -> str | None:
    return db.session.scalars(select(OutboxMessage.body).where(
        OutboxMessage.user_id == user_id, OutboxMessage.kind == codes.OUTBOX_KIND)
        .order_by(OutboxMessage.id.desc())).first()


@pytest.fixture
def tree(make):
    return make.tree()


@pytest.fixture
def admin(make, tree):
    return make.user("管理员", role=Role.ADMIN, scope="北京市总工会")


@pytest.fixture
def organiser(make, tree):
    return make.user("丰台组织者", role=Role.ORGANISER, scope="丰台区总工会")


# --------------------------------------------------------------------------- the service


def test_csv_with_bom_chinese_headers_and_occupation_names(tree, admin):
    data = csv_bytes([["13700000001", "张三", FENGTAI_SHOP, "快递员"],
                      ["137-0000-0002", "李四", FENGTAI_SHOP, "外卖骑手"],
                      ["+8613700000003", "王五", AOYUNCUN_STATION, "courier"]])
    report = import_workers(data, "名单.csv", admin)

    assert report.ok, [str(e) for e in report.errors]
    assert (report.rows, report.created, report.updated, report.welcome_messages) == (3, 3, 0, 3)
    zhang = user("13700000001")
    assert zhang.name == "张三" and zhang.union.name == FENGTAI_SHOP
    assert zhang.occupation is Occupation.COURIER and zhang.is_new_employment_form
    assert zhang.district == "丰台区"
    assert zhang.created_by_id == admin.id
    assert not zhang.activated and zhang.password_hash is None and not zhang.is_active
    assert user("13700000002").occupation is Occupation.RIDER
    assert user("13700000003").union.name == AOYUNCUN_STATION
    # One welcome SMS per new account: where to log in with a code, and no code (it would be stale).
    body = welcome_sms(zhang.id)
    assert "/account/login/code" in body and not re.search(r"\d{6}", body)


def test_imported_names_follow_the_text_rule_of_every_form(tree, admin):
    """A spoofed name (a direction control) is a row error; zero-width characters are dropped, and an
    NFD name is stored as NFC, exactly as the sign-up form does."""
    data = csv_bytes([["13700000001", "张三\u202egnaW", FENGTAI_SHOP, "快递员"],
                      ["13700000002", "李\u200b四", FENGTAI_SHOP, "快递员"],
                      ["13700000003", "Jose\u0301", FENGTAI_SHOP, "快递员"],
                      ["13700000004", "\u200b\u200d", FENGTAI_SHOP, "快递员"]])
    report = import_workers(data, "名单.csv", admin)
    assert sorted((e.row, e.column) for e in report.errors) == [(2, "name"), (5, "name")]
    assert "direction" in str([str(e.message) for e in report.errors if e.row == 2])  # no request: English
    assert user("13700000001") is None  # a file with errors writes nothing
    fixed = csv_bytes([["13700000002", "李\u200b四", FENGTAI_SHOP, "快递员"],
                       ["13700000003", "Jose\u0301", FENGTAI_SHOP, "快递员"]])
    assert import_workers(fixed, "名单.csv", admin).ok
    assert user("13700000002").name == "李四"
    assert user("13700000003").name == "Jos\u00e9"


def test_import_is_audited_once_with_counts_only(tree, admin):
    import_workers(csv_bytes([["13700000001", "张三", FENGTAI_SHOP, "快递员"]]), "a.csv", admin)
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "user.import")).all()
    assert len(rows) == 1
    assert rows[0].actor_id == admin.id
    assert rows[0].data == {"rows": 1, "created": 1, "updated": 0, "unchanged": 0, "welcome_messages": 1}
    assert "13700000001" not in str(rows[0].data) and "张三" not in str(rows[0].data)


def test_xlsx_with_english_headers_numeric_mobiles_and_extra_columns(tree, admin):
    data = xlsx_bytes([[1, 13700000011, "Zhao Liu", FENGTAI_SHOP, "truck_driver", "备注"],
                       [None, None, None, None, None, None],  # an empty row Excel leaves behind
                       [2, 13700000012.0, "钱七", FENGTAI_SHOP, "Domestic worker", ""]],
                      header=["序号", "Mobile", "Name", "Union", "Occupation", "备注"])
    report = import_workers(data, "members.xlsx", admin)
    assert report.ok, [str(e) for e in report.errors]
    assert report.created == 2
    assert user("13700000011").occupation is Occupation.TRUCK_DRIVER
    assert user("13700000012").occupation is Occupation.DOMESTIC_WORKER


def test_gb18030_csv_from_chinese_excel(tree, admin):
    data = csv_bytes([["13700000021", "孙八", FENGTAI_SHOP, "网约车司机"]], encoding="gb18030")
    report = import_workers(data, "名单.csv", admin)
    assert report.ok
    assert user("13700000021").name == "孙八"
    assert user("13700000021").occupation is Occupation.RIDE_HAILING_DRIVER


def test_header_notes_in_brackets_and_tab_separated_text(tree, admin):
    text = "手机号（必填）\t姓名\t所属工会\t职业\r\n13700000031\t周九\t" + FENGTAI_SHOP + "\t教师\r\n"
    report = import_workers(text.encode("utf-16"), "export.txt", admin)
    assert report.ok, [str(e) for e in report.errors]
    assert user("13700000031").occupation is Occupation.TEACHER


def test_rows_with_a_password_are_active_and_can_log_in(tree, admin):
    data = csv_bytes([["13700000041", "吴十", FENGTAI_SHOP, "其他", "Start2024x"]],
                     header=HEADER_ZH + ["初始密码"])
    report = import_workers(data, "a.csv", admin)
    assert report.ok and report.welcome_messages == 0
    assert authenticate("13700000041", "Start2024x").name == "吴十"
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_importing_twice_updates_and_never_duplicates(tree, admin, make):
    existing = make.user("老名字", mobile="13700000051", union=AOYUNCUN_STATION)
    rows = [["13700000051", "新名字", FENGTAI_SHOP, "快递员"],
            ["13700000052", "郑一", FENGTAI_SHOP, "快递员"]]
    first = import_workers(csv_bytes(rows), "a.csv", admin)
    assert (first.created, first.updated, first.unchanged) == (1, 1, 0)
    updated = user("13700000051")
    assert (updated.name, updated.union.name, updated.occupation) == ("新名字", FENGTAI_SHOP, Occupation.COURIER)
    assert updated.id == existing.id and updated.is_active  # an active account stays active, no SMS
    messages = db.session.scalar(select(func.count(OutboxMessage.id)))
    assert messages == 1

    rows[1][1] = "郑一一"
    second = import_workers(csv_bytes(rows), "a.csv", admin)
    assert (second.created, second.updated, second.unchanged) == (0, 1, 1)
    assert users_count() == 3  # admin + two imported
    assert user("13700000052").name == "郑一一"
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == messages  # no second SMS


def test_one_bad_row_writes_nothing_and_names_the_row(tree, admin):
    before = users_count()
    data = csv_bytes([["13700000061", "甲", FENGTAI_SHOP, "快递员"],
                      ["12345", "乙", FENGTAI_SHOP, "快递员"],
                      ["13700000063", "丙", FENGTAI_SHOP, "快递员"]])
    report = import_workers(data, "a.csv", admin)
    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [(3, "mobile")]
    assert "12345" in str(report.errors[0].message)
    assert users_count() == before
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "user.import")) == 0


@pytest.mark.parametrize("row, column, fragment", [
    (["1370000", "甲", FENGTAI_SHOP, "快递员"], "mobile", "mobile number"),
    (["", "甲", FENGTAI_SHOP, "快递员"], "mobile", "missing"),
    (["13700000071", "", FENGTAI_SHOP, "快递员"], "name", "name is missing"),
    (["13700000071", "名" * 41, FENGTAI_SHOP, "快递员"], "name", "at most 40"),
    (["13700000071", "甲", "不存在的工会", "快递员"], "union", "no union named"),
    (["13700000071", "甲", "", "快递员"], "union", "union is missing"),
    (["13700000071", "甲", FENGTAI_SHOP, "宇航员"], "occupation", "Unknown occupation"),
    (["13700000071", "甲", FENGTAI_SHOP, ""], "occupation", "occupation is missing"),
    (["13700000071", "甲", FENGTAI_SHOP, "快递员", "short1"], "password", "too weak"),
    (["13700000071", "甲", FENGTAI_SHOP, "快递员", "onlyletters"], "password", "too weak"),
])
def test_each_row_error_kind(tree, admin, row, column, fragment):
    data = csv_bytes([["13700000070", "好", FENGTAI_SHOP, "快递员", ""], row + [""] * (5 - len(row))],
                     header=HEADER_ZH + ["初始密码"])
    report = import_workers(data, "a.csv", admin)
    assert [(e.row, e.column) for e in report.errors] == [(3, column)]
    assert fragment in str(report.errors[0].message)
    assert users_count() == 1  # only the admin


def test_duplicate_mobile_within_the_file(tree, admin):
    data = csv_bytes([["13700000081", "甲", FENGTAI_SHOP, "快递员"],
                      ["13700000082", "乙", FENGTAI_SHOP, "快递员"],
                      ["137 0000 0081", "丙", FENGTAI_SHOP, "快递员"]])
    report = import_workers(data, "a.csv", admin)
    assert [(e.row, e.column) for e in report.errors] == [(4, "mobile")]
    assert "row 2" in str(report.errors[0].message)
    assert users_count() == 1


def test_every_bad_row_is_reported_in_row_order(tree, admin):
    data = csv_bytes([["1", "", "无", "无"], ["13700000091", "好", FENGTAI_SHOP, "快递员"]])
    report = import_workers(data, "a.csv", admin)
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "mobile"), (2, "name"), (2, "union"), (2, "occupation")]


@pytest.mark.parametrize("data, filename, fragment", [
    (b"", "a.csv", "empty"),
    (b"\xef\xbb\xbf\r\n\r\n", "a.csv", "empty"),
    ("手机号,姓名,工会,职业\r\n".encode(), "a.csv", "no rows"),
    ("手机号,姓名\r\n13700000001,甲\r\n".encode(), "a.csv", "lacks these columns"),
    ("手机号,手机,姓名,工会,职业\r\n".encode(), "a.csv", "appears twice"),
    (b"PK\x03\x04 not really a workbook", "a.xlsx", "could not be read"),
    (b"%PDF-1.4", "a.pdf", "Only CSV and XLSX"),
])
def test_file_level_errors(tree, admin, data, filename, fragment):
    report = import_workers(data, filename, admin)
    assert len(report.errors) == 1 and report.errors[0].row is None
    assert fragment in str(report.errors[0].message)
    assert users_count() == 1


def test_too_many_rows(tree, admin, monkeypatch):
    monkeypatch.setattr(imports.rows, "MAX_ROWS", 3)  # read by the row reader
    rows = [[f"137000001{i:02d}", "甲", FENGTAI_SHOP, "快递员"] for i in range(4)]
    report = import_workers(csv_bytes(rows), "a.csv", admin)
    assert "more than 3 rows" in str(report.errors[0].message)
    assert users_count() == 1


def test_web_limit_on_initial_passwords(tree, admin):
    rows = [[f"137000002{i:02d}", "甲", FENGTAI_SHOP, "快递员", "Passw0rd1"] for i in range(3)]
    report = import_workers(csv_bytes(rows, header=HEADER_ZH + ["初始密码"]), "a.csv", admin, max_passwords=2)
    assert not report.ok and report.errors[0].column == "password"
    assert users_count() == 1


# --------------------------------------------------------------------------- scope


def test_organiser_imports_into_unions_in_scope(tree, organiser):
    report = import_workers(csv_bytes([["13700000101", "甲", FENGTAI_SHOP, "快递员"]]), "a.csv", organiser)
    assert report.ok and report.created == 1


def test_organiser_may_not_import_into_other_unions(tree, organiser):
    data = csv_bytes([["13700000111", "甲", FENGTAI_SHOP, "快递员"],
                      ["13700000112", "乙", AOYUNCUN_STATION, "快递员"]])
    report = import_workers(data, "a.csv", organiser)
    assert [(e.row, e.column) for e in report.errors] == [(3, "union")]
    assert "not one of the unions you organise" in str(report.errors[0].message)
    assert user("13700000111") is None


def test_organiser_may_not_take_over_accounts_of_other_unions(tree, organiser, make):
    make.user("朝阳职工", mobile="13700000121", union=AOYUNCUN_STATION)
    make.user("无工会", mobile="13700000122")
    data = csv_bytes([["13700000121", "甲", FENGTAI_SHOP, "快递员"],
                      ["13700000122", "乙", FENGTAI_SHOP, "快递员"]])
    report = import_workers(data, "a.csv", organiser)
    assert [(e.row, e.column) for e in report.errors] == [(2, "mobile"), (3, "mobile")]
    assert user("13700000121").union.name == AOYUNCUN_STATION
    assert user("13700000122").union is None


def test_organiser_may_not_take_over_a_worker_without_a_union(tree, organiser, make):
    """A worker who belongs to no union is outside every organiser's scope: the row is refused,
    the account keeps its name and stays without a union, and the report does not name them."""
    make.user("无工会职工", mobile="13700000123")
    data = csv_bytes([["13700000124", "甲", FENGTAI_SHOP, "快递员"],
                      ["13700000123", "冒名", FENGTAI_SHOP, "快递员"]])
    report = import_workers(data, "a.csv", organiser)
    assert [(e.row, e.column) for e in report.errors] == [(3, "mobile")]
    assert "outside the unions you organise" in str(report.errors[0])
    assert "无工会职工" not in str(report.errors[0])
    account = user("13700000123")
    assert (account.name, account.union, account.occupation) == ("无工会职工", None, Occupation.OTHER)
    assert user("13700000124") is None  # all or nothing


def test_organiser_updates_a_worker_of_their_own_union(tree, organiser, make):
    make.user("丰台职工", mobile="13700000125", union=FENGTAI_SHOP)
    report = import_workers(csv_bytes([["13700000125", "丰台职工改名", FENGTAI_SHOP, "快递员"]]), "a.csv",
                            organiser)
    assert report.ok and report.updated == 1
    assert user("13700000125").name == "丰台职工改名"


def test_admin_may_place_a_worker_without_a_union(tree, admin, make):
    make.user("无工会职工", mobile="13700000126")
    report = import_workers(csv_bytes([["13700000126", "有工会了", FENGTAI_SHOP, "快递员"]]), "a.csv", admin)
    assert report.ok and report.updated == 1
    assert user("13700000126").union.name == FENGTAI_SHOP


def test_worker_may_not_import(tree, make):
    worker = make.user("职工")
    with pytest.raises(NotAllowed):
        import_workers(csv_bytes([["13700000131", "甲", FENGTAI_SHOP, "快递员"]]), "a.csv", worker)


def test_ten_thousand_rows(tree, admin):
    rows = [[f"136{i:08d}", f"职工{i}", FENGTAI_SHOP, "快递员"] for i in range(10_000)]
    report = import_workers(csv_bytes(rows), "big.csv", admin)
    assert report.ok and report.created == 10_000
    again = import_workers(csv_bytes(rows), "big.csv", admin)
    assert (again.created, again.unchanged) == (0, 10_000)
    assert users_count() == 10_001


# --------------------------------------------------------------------------- first login


def test_an_imported_worker_logs_in_with_a_code_and_may_then_set_a_password(tree, admin, client):
    import_workers(csv_bytes([["13700000201", "甲", FENGTAI_SHOP, "快递员"]]), "a.csv", admin)
    assert authenticate("13700000201", "") is None and not user("13700000201").is_active

    code = send_sms_code(client, "/account/login/code", "13700000201")
    response = client.post("/account/login/code", data={"mobile": "13700000201", "code": code})
    assert response.status_code == 302
    account = user("13700000201")
    assert account.activated and account.is_active and account.password_hash is None
    # The union made the account: its worker accepts the privacy notice first (tests/accounts/test_privacy_consent.py).
    assert client.get("/account/profile").location == "/account/privacy/accept?next=/account/profile"
    assert client.post("/account/privacy/accept", data={"accept_privacy": "y"}).status_code == 302
    profile = client.get("/account/profile").get_data(as_text=True)
    assert "Set a password" in profile  # offered on the account page

    response = client.post("/account/password", data={"new_password": "NewPass123",
                                                       "new_password_again": "NewPass123"})
    assert response.status_code == 302
    assert authenticate("13700000201", "NewPass123").id == account.id
    assert client.get("/account/profile").status_code == 200  # this session goes on


def test_importing_again_sends_no_second_welcome(tree, admin):
    rows = [["13700000211", "甲", FENGTAI_SHOP, "快递员"]]
    import_workers(csv_bytes(rows), "a.csv", admin)
    report = import_workers(csv_bytes(rows), "a.csv", admin)
    assert report.ok and report.welcome_messages == 0 and report.unchanged == 1


def test_the_old_activation_address_leads_to_the_code_login(client):
    response = client.get("/account/activate?mobile=13700000241")
    assert response.status_code == 301
    assert response.location == "/account/login/code?mobile=13700000241"


# --------------------------------------------------------------------------- CLI


def test_cli_import_prints_counts(tree, app, tmp_path):
    path = tmp_path / "members.csv"
    path.write_bytes(csv_bytes([["13700000301", "甲", FENGTAI_SHOP, "快递员"],
                                ["13700000302", "乙", FENGTAI_SHOP, "快递员"]]))
    result = app.test_cli_runner().invoke(args=["users", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "created 2" in result.output
    assert users_count() == 2


def test_cli_import_prints_row_errors_and_writes_nothing(tree, app, tmp_path):
    path = tmp_path / "members.xlsx"
    path.write_bytes(xlsx_bytes([[13700000311, "甲", FENGTAI_SHOP, "courier"],
                                 [13700000312, "乙", "不存在的工会", "courier"]]))
    result = app.test_cli_runner().invoke(args=["users", "import", str(path)])
    assert result.exit_code == 1
    assert "3" in result.output and "不存在的工会" in result.output
    assert "nothing was imported" in result.output
    assert users_count() == 0


# --------------------------------------------------------------------------- upload page


def test_anonymous_is_sent_to_login(client, tree):
    response = client.get("/admin/users/import")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    assert client.get("/admin/users/import/example.csv").status_code == 302


def test_worker_is_refused(client, login, make, tree):
    login(make.user("职工"))
    assert client.get("/admin/users/import").status_code == 403
    response = client.post("/admin/users/import", data={
        "file": (io.BytesIO(csv_bytes([["13700000401", "甲", FENGTAI_SHOP, "快递员"]])), "a.csv")})
    assert response.status_code == 403
    assert user("13700000401") is None


def test_upload_page_shows_columns_and_example(client, login, admin):
    login(admin)
    page = client.get("/admin/users/import").get_data(as_text=True)
    assert "手机号" in page and "快递员" in page and "/admin/users/import/example.csv" in page
    assert "/admin/users/import" in client.get("/admin/users").get_data(as_text=True)


def test_example_file_has_a_bom_and_imports(client, login, organiser, make):
    login(organiser)
    response = client.get("/admin/users/import/example.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert "丰台区总工会" in response.data.decode("utf-8-sig")  # the organiser's own union
    report = import_workers(response.data, "example.csv", organiser)
    assert report.ok and report.created == 3


def test_upload_success_shows_counts(client, login, organiser):
    login(organiser)
    response = client.post("/admin/users/import", data={
        "file": (io.BytesIO(xlsx_bytes([[13700000411, "甲", FENGTAI_SHOP, "快递员"]])), "a.xlsx")},
        content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<dd>1</dd>" in page
    assert user("13700000411").union.name == FENGTAI_SHOP


def test_upload_errors_show_a_table_and_write_nothing(client, login, organiser):
    login(organiser)
    data = csv_bytes([["13700000421", "甲", FENGTAI_SHOP, "快递员"],
                      ["13700000422", "乙", AOYUNCUN_STATION, "快递员"]])
    response = client.post("/admin/users/import", data={"file": (io.BytesIO(data), "a.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<td>3</td>" in page and AOYUNCUN_STATION in page
    assert user("13700000421") is None


def test_upload_refuses_a_worker_outside_scope_in_chinese_without_naming_them(client, login, organiser,
                                                                              make):
    make.user("无工会职工", mobile="13700000431")
    make.user("朝阳职工", mobile="13700000432", union=AOYUNCUN_STATION)
    login(organiser)
    client.delete_cookie("lang")  # the default language, Chinese
    data = csv_bytes([["13700000431", "甲", FENGTAI_SHOP, "快递员"],
                      ["13700000432", "乙", FENGTAI_SHOP, "快递员"]])
    response = client.post("/admin/users/import", data={"file": (io.BytesIO(data), "a.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.count("该手机号已注册，该职工不在您管辖的工会范围内") == 2
    assert "无工会职工" not in page and "朝阳职工" not in page and AOYUNCUN_STATION not in page
    assert user("13700000431").name == "无工会职工" and user("13700000431").union is None


def test_upload_without_a_file_or_of_the_wrong_type(client, login, admin):
    login(admin)
    assert client.post("/admin/users/import", data={}).status_code == 422
    response = client.post("/admin/users/import", data={"file": (io.BytesIO(b"x"), "a.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
