"""`flask unions import FILE`: CSV or XLSX, UTF-8 or GB18030, idempotent, all or nothing, Chinese errors."""
from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import func, select

from unionevents.accounts.models import Role
from unionevents.core.audit import AuditLog
from unionevents.extensions import db
from unionevents.reports import services as reports
from unionevents.unions.imports import import_unions
from unionevents.unions.models import NodeLevel, UnionNode

HEADER = "工会名称,上级工会,编码,类型,所属区\n"
SMALL = HEADER + (
    "北京市总工会,,BJ,市总工会,\n"
    "朝阳区总工会,北京市总工会,CY,区总工会,朝阳区\n"
    "奥运村街道总工会,朝阳区总工会,AYC,街道,\n"
    "奥运村快递驿站联合工会,奥运村街道总工会,,基层,\n"
    "朝阳区交通运输行业工会,朝阳区总工会,,行业,\n"
)


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def nodes() -> dict[str, UnionNode]:
    return {n.name: n for n in db.session.scalars(select(UnionNode))}


def messages(report) -> list[str]:
    return [str(error) for error in report.errors]


def generated_tree(size: int) -> str:
    """A city, 16 districts, 20 streets in each, and workplaces under the streets: ``size`` unions."""
    lines = ["name,parent,code,kind,district", "测试市总工会,,C0,federation,"]
    streets = []
    for d in range(16):
        lines.append(f"第{d}区总工会,测试市总工会,D{d},district,第{d}区")
        for s in range(20):
            lines.append(f"第{d}区第{s}街道总工会,第{d}区总工会,,street/township,")
            streets.append(f"第{d}区第{s}街道总工会")
    for w in range(size - len(lines) + 1):
        lines.append(f"企业{w}工会,{streets[w % len(streets)]},W{w},workplace,")
    return "\n".join(lines) + "\n"


def test_a_small_tree_is_built_with_kinds_codes_and_districts(app):
    report = import_unions(csv_bytes(SMALL), "tree.csv")
    assert report.ok, messages(report)
    assert (report.rows, report.created) == (5, 5)
    tree = nodes()
    leaf = tree["奥运村快递驿站联合工会"]
    assert (leaf.level, leaf.depth, leaf.district) == (NodeLevel.WORKPLACE, 3, "朝阳区")
    assert leaf.path == f"{tree['奥运村街道总工会'].path}{leaf.id}/"
    assert tree["朝阳区总工会"].code == "CY" and tree["朝阳区交通运输行业工会"].level == NodeLevel.INDUSTRY
    assert db.session.scalar(select(AuditLog.data).where(AuditLog.action == "union.import"))["created"] == 5


def test_importing_twice_changes_nothing(app):
    assert import_unions(csv_bytes(SMALL), "tree.csv").ok
    again = import_unions(csv_bytes(SMALL), "tree.csv")
    assert again.ok and (again.created, again.updated, again.moved, again.unchanged) == (0, 0, 0, 5)
    assert db.session.scalar(select(func.count(UnionNode.id))) == 5


def test_gb18030_and_xlsx_files(app):
    from openpyxl import Workbook

    assert import_unions(csv_bytes(SMALL, "gb18030"), "tree.csv").ok
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "parent", "kind"])
    sheet.append(["奥运村第二工会", "奥运村街道总工会", "workplace"])
    out = io.BytesIO()
    workbook.save(out)
    report = import_unions(out.getvalue(), "more.xlsx")
    assert report.ok and report.created == 1
    assert nodes()["奥运村第二工会"].parent_id == nodes()["奥运村街道总工会"].id


def test_a_code_renames_and_moves_a_union_and_reports_stay_right(app, make):
    assert import_unions(csv_bytes(SMALL), "tree.csv").ok
    tree = nodes()
    activity = make.activity("街道的课", node=tree["奥运村街道总工会"], capacity=5)
    from unionevents.registrations import services as engine
    engine.register(make.user("职工甲"), activity.id)
    db.session.commit()
    moved = HEADER + "丰台区总工会,北京市总工会,FT,区总工会,丰台区\n" \
                     "奥运村街道总工会,丰台区总工会,AYC,街道,\n" \
                     "朝阳区总工会改,北京市总工会,CY,,\n"
    report = import_unions(csv_bytes(moved), "move.csv")
    assert report.ok, messages(report)
    assert (report.created, report.moved, report.updated) == (1, 1, 1)
    tree = nodes()
    assert tree["奥运村街道总工会"].parent_id == tree["丰台区总工会"].id
    assert tree["奥运村快递驿站联合工会"].path.startswith(tree["丰台区总工会"].path)
    assert "朝阳区总工会改" in tree and tree["奥运村街道总工会"].code == "AYC"
    assert reports.check() == []


def test_errors_are_per_row_in_chinese_and_nothing_is_written(app):
    bad = HEADER + (
        "北京市总工会,,,市总工会,\n"
        "朝阳区总工会,北京市总工会,,区总工会,\n"
        "朝阳区总工会,北京市总工会,,区总工会,\n"      # 4: the same name under the same parent
        "海淀区总工会,北京总工会,,区总工会,\n"         # 5: unknown parent
        "某工会,朝阳区总工会,,宇宙级,\n"               # 6: bad kind
        "甲工会,乙工会,,基层,\n"                       # 7: a loop with row 8
        "乙工会,甲工会,,基层,\n"
        "丙工会,,,基层,\n"                             # 9: a second top union
    )
    report = import_unions(csv_bytes(bad), "bad.csv")
    assert not report.ok
    text = "\n".join(messages(report))
    assert "第 4 行" in text or "第4行" in text, text
    assert "同一上级工会下" in text and "上级工会不存在" in text, text
    rows = {error.row for error in report.errors}
    assert {4, 5, 6, 7, 9} <= rows, text
    assert any("循环" in str(e) for e in report.errors if e.row in (7, 8)), text
    assert db.session.scalar(select(func.count(UnionNode.id))) == 0


def test_a_move_under_its_own_descendant_is_a_loop(app):
    assert import_unions(csv_bytes(SMALL), "tree.csv").ok
    report = import_unions(csv_bytes(HEADER + "朝阳区总工会,奥运村快递驿站联合工会,CY,,\n"), "loop.csv")
    assert not report.ok and "循环" in "".join(messages(report))
    assert nodes()["朝阳区总工会"].parent_id == nodes()["北京市总工会"].id


@pytest.mark.parametrize("data, name", [
    (b"", "empty.csv"), (b"\xff\xfe\x00\xd8", "utf16.csv"), ("名称\n甲".encode(), "no-parent-column.csv"),
    (b"PK\x03\x04broken", "broken.xlsx"), (b"name,parent\n", "header-only.csv"), (SMALL.encode(), "tree.pdf"),
])
def test_unreadable_files_are_refused_whole(app, data, name):
    report = import_unions(data, name)
    assert not report.ok and report.errors[0].row is None
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(report.errors[0]))  # said in Chinese


def test_ten_thousand_unions_in_well_under_a_minute(app):
    data = generated_tree(10_000).encode()
    started = time.perf_counter()
    report = import_unions(data, "big.csv")
    first = time.perf_counter() - started
    assert report.ok, messages(report)[:5]
    assert report.created == 10_000
    started = time.perf_counter()
    again = import_unions(data, "big.csv")
    second = time.perf_counter() - started
    assert again.ok and again.unchanged == 10_000
    print(f"\n10,000-union import: {first:.1f}s first, {second:.1f}s again")
    assert first < 30 and second < 30
    deepest = db.session.scalar(select(UnionNode).order_by(UnionNode.id.desc()).limit(1))
    assert deepest.depth == 3 and deepest.path.count("/") == 5


def test_the_command(app, tmp_path):
    path = tmp_path / "tree.csv"
    path.write_bytes(SMALL.encode("gb18030"))
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["unions", "import", "--check", str(path)])
    assert checked.exit_code == 0 and "5 rows checked" in checked.output
    assert db.session.scalar(select(func.count(UnionNode.id))) == 0
    done = runner.invoke(args=["unions", "import", str(path)])
    assert done.exit_code == 0 and "5 created" in done.output, done.output
    path.write_bytes((HEADER + "某工会,不存在的工会,,,\n").encode())
    failed = runner.invoke(args=["unions", "import", str(path)])
    assert failed.exit_code == 1 and "nothing was imported" in failed.output
