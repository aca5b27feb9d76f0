"""Administering the union tree: add, rename, move, retire, merge — scoped, audited, reports kept right."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from unionevents.accounts.models import Role, User
from unionevents.activities.models import Activity
from unionevents.core.audit import AuditLog
from unionevents.core.errors import Conflict, NotAllowed, ValidationFailed
from unionevents.extensions import db
from unionevents.registrations import services as engine
from unionevents.reports import services as reports
from unionevents.unions import services
from unionevents.unions.models import NodeLevel, UnionNode
from tests.factories import check_in_at_the_door


def node(name: str) -> UnionNode:
    return db.session.scalar(select(UnionNode).where(UnionNode.name == name))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


@pytest.fixture
def admin(make):
    make.tree()
    return make.user("管理员", role=Role.ADMIN, scope="北京市总工会")


@pytest.fixture
def street_organiser(make):
    make.tree()
    return make.user("街道组织者", role=Role.ORGANISER, scope="丰台区玉泉营街道总工会")


def test_add_child_and_rename_are_audited(admin):
    child = services.add_child(admin, node("朝阳区奥运村街道总工会"), " 奥运村社区工会 ")
    assert (child.name, child.level, child.depth) == ("奥运村社区工会", NodeLevel.WORKPLACE, 3)
    assert child.path == node("朝阳区奥运村街道总工会").path + f"{child.id}/"
    services.rename_node(admin, child, "奥运村第一社区工会")
    assert node("奥运村第一社区工会").id == child.id
    assert audit_actions()[-2:] == ["union.add", "union.rename"]


def test_a_name_is_unique_under_its_parent_only(admin):
    services.add_child(admin, node("朝阳区奥运村街道总工会"), "社区工会")
    services.add_child(admin, node("丰台区玉泉营街道总工会"), "社区工会")  # another parent: fine
    with pytest.raises(Conflict) as error:
        services.add_child(admin, node("朝阳区奥运村街道总工会"), "社区工会")
    assert error.value.field == "name"
    with pytest.raises(Conflict):
        services.rename_node(admin, node("玉泉营商场工会"), "社区工会")


def test_bad_names_are_refused(admin):
    parent = node("朝阳区总工会")
    for bad in ("", "   ", "x" * 121, "坏\u202e名"):
        with pytest.raises(ValidationFailed):
            services.add_child(admin, parent, bad)


def test_move_carries_the_subtree_and_never_goes_under_itself(admin):
    street = node("朝阳区奥运村街道总工会")
    leaf = node("奥运村快递驿站联合工会")
    with pytest.raises(ValidationFailed):
        services.move_node(admin, street, leaf)
    with pytest.raises(ValidationFailed):
        services.move_node(admin, street, street)
    with pytest.raises(Conflict):
        services.move_node(admin, node("北京市总工会"), street)
    services.move_node(admin, street, node("丰台区总工会"))
    street, leaf, fengtai = node("朝阳区奥运村街道总工会"), node("奥运村快递驿站联合工会"), node("丰台区总工会")
    assert street.parent_id == fengtai.id and street.path == f"{fengtai.path}{street.id}/"
    assert leaf.path == f"{street.path}{leaf.id}/" and leaf.depth == 3
    assert audit_actions()[-1] == "union.move"


def test_an_organiser_manages_only_below_their_union(street_organiser):
    street = node("丰台区玉泉营街道总工会")
    child = services.add_child(street_organiser, street, "玉泉营第二工会")
    services.rename_node(street_organiser, child, "玉泉营二号工会")
    with pytest.raises(NotAllowed):
        services.rename_node(street_organiser, street, "改名")          # their own union: not below it
    with pytest.raises(NotAllowed):
        services.add_child(street_organiser, node("朝阳区总工会"), "外区工会")
    with pytest.raises(NotAllowed):
        services.move_node(street_organiser, child, node("朝阳区总工会"))
    with pytest.raises(NotAllowed):
        services.merge_nodes(street_organiser, child, node("奥运村快递驿站联合工会"))
    services.move_node(street_organiser, child, node("玉泉营商场工会"))
    assert node("玉泉营二号工会").parent_id == node("玉泉营商场工会").id


def test_retire_needs_no_working_children_and_leaves_the_pickers(admin):
    with pytest.raises(Conflict):
        services.retire_node(admin, node("朝阳区奥运村街道总工会"))
    leaf = node("奥运村快递驿站联合工会")
    services.retire_node(admin, leaf)
    assert node("奥运村快递驿站联合工会").retired
    assert leaf.id not in dict(services.tree_choices())
    assert not services.search_nodes("快递驿站")
    with pytest.raises(Conflict):
        services.rename_node(admin, node("奥运村快递驿站联合工会"), "新名")
    services.retire_node(admin, node("朝阳区奥运村街道总工会"))  # now it has no working children


def _people_in(make, activity, union, count, attend=0):
    ids = []
    for i in range(count):
        worker = make.user(f"职工{activity.id}-{i}", union=union)
        ids.append(engine.register(worker, activity.id).id)
    for registration_id in ids[:attend]:
        check_in_at_the_door(registration_id, None)
    db.session.commit()


def test_merge_moves_everything_and_reports_still_agree(make, admin):
    tree = make.tree()
    source, target = tree["奥运村快递驿站联合工会"], tree["玉泉营商场工会"]
    sub = make.node("驿站一分会", NodeLevel.WORKPLACE, source)
    own = make.activity("驿站的课", node=source, capacity=10)
    below = make.activity("分会的课", node=sub, capacity=10)
    elsewhere = make.activity("商场的课", node=target, capacity=10)
    _people_in(make, own, source, 3, attend=1)
    _people_in(make, below, sub, 2)
    _people_in(make, elsewhere, target, 2)
    organiser = make.user("驿站组织者", role=Role.ORGANISER, scope=source)
    db.session.commit()
    assert reports.check() == []
    before = reports.snapshot()["daily"]

    moved = services.merge_nodes(admin, db.session.get(UnionNode, source.id), db.session.get(UnionNode, target.id))

    assert moved["activities"] == 1 and moved["unions"] == 1 and moved["workers"] == 3 and moved["grants"] == 1
    source, target = db.session.get(UnionNode, source.id), db.session.get(UnionNode, target.id)
    assert source.retired and source.merged_into_id == target.id
    assert db.session.get(Activity, own.id).node_id == target.id
    assert db.session.get(UnionNode, sub.id).parent_id == target.id
    assert db.session.get(UnionNode, sub.id).path.startswith(target.path)
    assert db.session.scalar(select(func.count(User.id)).where(User.union_id == source.id)) == 0
    assert db.session.get(User, organiser.id).grants[0].node_id == target.id
    assert reports.check() == []
    after = reports.snapshot()["daily"]
    assert sum(r["confirmed"] + r["attended"] for r in after.values()) == \
        sum(r["confirmed"] + r["attended"] for r in before.values())
    assert audit_actions()[-1] == "union.merge"


def test_move_keeps_reports_equal_to_a_recount(make, admin):
    tree = make.tree()
    activity = make.activity("街道的课", node=tree["朝阳区奥运村街道总工会"], capacity=10)
    _people_in(make, activity, tree["奥运村快递驿站联合工会"], 3, attend=2)
    assert reports.check() == []
    services.move_node(admin, db.session.get(UnionNode, tree["朝阳区奥运村街道总工会"].id),
                       db.session.get(UnionNode, tree["丰台区总工会"].id))
    assert reports.check() == []


def test_merge_refuses_its_own_subtree_and_name_clashes(make, admin):
    tree = make.tree()
    with pytest.raises(ValidationFailed):
        services.merge_nodes(admin, tree["朝阳区总工会"], tree["奥运村快递驿站联合工会"])
    make.node("奥运村快递驿站联合工会", NodeLevel.WORKPLACE, tree["丰台区玉泉营街道总工会"])
    with pytest.raises(ValidationFailed):
        services.merge_nodes(admin, tree["朝阳区奥运村街道总工会"], tree["丰台区玉泉营街道总工会"])
