"""The union tree: subtree queries, scoped roles, the union search."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from unionevents.accounts.models import Role
from unionevents.core.permissions import has_role, in_scope_clause, scope_node_ids
from unionevents.extensions import db
from unionevents.unions.models import NodeLevel, UnionNode


def subtree_names(node: UnionNode) -> set[str]:
    ids = set(db.session.scalars(node.subtree_ids_select()))
    return {n.name for n in db.session.scalars(select(UnionNode).where(UnionNode.id.in_(ids)))}


def test_subtree_is_the_node_and_all_descendants_only(make):
    tree = make.tree()
    assert subtree_names(tree["朝阳区总工会"]) == {"朝阳区总工会", "朝阳区奥运村街道总工会", "奥运村快递驿站联合工会"}
    assert subtree_names(tree["玉泉营商场工会"]) == {"玉泉营商场工会"}
    assert subtree_names(tree["北京市总工会"]) == set(tree)


def test_subtree_does_not_leak_into_nodes_whose_id_or_name_shares_a_prefix(make):
    """Paths /1/ and /10/ share a text prefix; so do the sibling names 奥运村工会 and 奥运村工会二分会."""
    root = make.node("总会", NodeLevel.CITY)
    first = make.node("奥运村工会", NodeLevel.STREET, root)
    child_of_first = make.node("奥运村工会一队", NodeLevel.WORKPLACE, first)
    grandchild = make.node("奥运村工会一队一组", NodeLevel.WORKPLACE, child_of_first)
    siblings = [make.node("奥运村工会二分会", NodeLevel.STREET, root)]
    # Add siblings until one's id starts with the digits of first's id (path /r/2/ vs /r/21/).
    while not str(siblings[-1].id).startswith(str(first.id)) or siblings[-1].id == first.id:
        siblings.append(make.node(f"奥运村工会{len(siblings)}", NodeLevel.STREET, root))
    make.node("奥运村工会下属", NodeLevel.WORKPLACE, siblings[-1])
    assert siblings[-1].path.startswith(first.path.rstrip("/"))
    assert subtree_names(first) == {"奥运村工会", "奥运村工会一队", "奥运村工会一队一组"}
    assert grandchild.is_within(first) and not siblings[0].is_within(first)


def test_node_paths_and_depths(make):
    tree = make.tree()
    leaf = tree["奥运村快递驿站联合工会"]
    assert leaf.depth == 3
    assert leaf.ancestor_ids() == [tree["北京市总工会"].id, tree["朝阳区总工会"].id,
                                   tree["朝阳区奥运村街道总工会"].id, leaf.id]


@pytest.fixture
def people(make):
    tree = make.tree()
    return tree, {
        "yuquanying": make.user("玉泉营组织者", role=Role.ORGANISER, scope=tree["丰台区玉泉营街道总工会"]),
        "admin": make.user("管理员", role=Role.ADMIN, scope=tree["北京市总工会"]),
        "officer": make.user("朝阳区干部", role=Role.OFFICER, scope=tree["朝阳区总工会"]),
        "worker": make.user("职工", union=tree["玉泉营商场工会"]),
    }


def test_organiser_scope_covers_own_subtree_only(people):
    tree, p = people
    organiser = p["yuquanying"]
    assert has_role(organiser, Role.ORGANISER, node=tree["丰台区玉泉营街道总工会"])
    assert has_role(organiser, Role.ORGANISER, node=tree["玉泉营商场工会"])
    assert not has_role(organiser, Role.ORGANISER, node=tree["朝阳区奥运村街道总工会"])
    assert not has_role(organiser, Role.ORGANISER, node=tree["丰台区总工会"])  # not upwards
    assert not has_role(organiser, Role.OFFICER, node=tree["玉泉营商场工会"])  # not another role
    assert has_role(organiser, Role.ORGANISER)  # somewhere


def test_admin_holds_node_roles_everywhere_but_not_activity_roles(people, make):
    tree, p = people
    admin = p["admin"]
    for node in tree.values():
        for role in (Role.ADMIN, Role.ORGANISER, Role.OFFICER):
            assert has_role(admin, role, node=node)
    activity = make.activity()
    assert not has_role(admin, Role.JUDGE, activity_id=activity.id)
    assert not has_role(admin, Role.MEDICAL, activity_id=activity.id)


def test_activity_roles_cover_their_activity_only(make):
    first, second = make.activity("甲"), make.activity("乙")
    judge = make.user("评委", role=Role.JUDGE, activity=first)
    assert has_role(judge, Role.JUDGE, activity_id=first.id)
    assert not has_role(judge, Role.JUDGE, activity_id=second.id)
    assert not has_role(judge, Role.ORGANISER)


def test_workers_and_anonymous_hold_nothing(people):
    from flask_login import AnonymousUserMixin

    tree, p = people
    for role in Role:
        assert not has_role(p["worker"], role)
        assert not has_role(AnonymousUserMixin(), role)
        assert not has_role(None, role)


def test_scope_clauses_select_the_same_nodes_as_has_role(people):
    tree, p = people
    for user in p.values():
        for role in (Role.ORGANISER, Role.OFFICER):
            via_sql = {n.name for n in db.session.scalars(
                select(UnionNode).where(in_scope_clause(user, role, UnionNode.id)))}
            via_ids = {n.name for n in db.session.scalars(
                select(UnionNode).where(UnionNode.id.in_(scope_node_ids(user, role))))}
            via_python = {name for name, node in tree.items() if has_role(user, role, node=node)}
            assert via_sql == via_ids == via_python, (user.name, role)


def test_union_search_finds_by_part_of_the_name(client, make):
    make.tree()
    names = [n["name"] for n in client.get("/unions/search?q=奥运村").json]
    assert names == ["朝阳区奥运村街道总工会", "奥运村快递驿站联合工会"]  # shallow first
    assert client.get("/unions/search?q=%25").json == []  # LIKE wildcards are literal
    assert len(client.get("/unions/search").json) == 7
