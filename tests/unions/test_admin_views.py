"""/admin/unions: the tree page, searchable, with its forms; refusals are flash messages, never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from unionevents.accounts.models import Role
from unionevents.extensions import db
from unionevents.unions.models import UnionNode


def node(name: str) -> UnionNode:
    return db.session.scalar(select(UnionNode).where(UnionNode.name == name))


@pytest.fixture
def admin_client(app, make, login):
    make.tree()
    return login(make.user("管理员", role=Role.ADMIN, scope="北京市总工会"))


@pytest.fixture
def organiser_client(app, make, login):
    make.tree()
    return login(make.user("街道组织者", role=Role.ORGANISER, scope="丰台区玉泉营街道总工会"))


def test_the_tree_page_lists_the_top_and_searches_any_part_of_a_name(admin_client):
    page = admin_client.get("/admin/unions").get_data(as_text=True)
    assert "北京市总工会" in page
    found = admin_client.get("/admin/unions?q=驿站").get_data(as_text=True)
    assert "奥运村快递驿站联合工会" in found and "北京市总工会 › 朝阳区总工会 › 朝阳区奥运村街道总工会" in found
    assert admin_client.get("/admin/unions?q=%25&page=99999999999").status_code == 200


def test_add_rename_move_retire_through_the_forms(admin_client):
    street = node("朝阳区奥运村街道总工会")
    response = admin_client.post(f"/admin/unions/{street.id}/children", data={"name": "新社区工会", "kind": "workplace"})
    assert response.status_code == 302
    child = node("新社区工会")
    assert child.parent_id == street.id
    admin_client.post(f"/admin/unions/{child.id}/rename", data={"name": "新社区联合工会"})
    assert node("新社区联合工会").id == child.id
    page = admin_client.get(f"/admin/unions/{child.id}?target_q=玉泉营").get_data(as_text=True)
    assert "移到此工会下" in page and "合并到此工会" in page
    target = node("丰台区玉泉营街道总工会")
    admin_client.post(f"/admin/unions/{child.id}/move", data={"target_id": target.id})
    assert node("新社区联合工会").parent_id == target.id
    admin_client.post(f"/admin/unions/{child.id}/retire")
    assert node("新社区联合工会").retired


def test_bad_input_is_a_message_not_a_500(admin_client):
    street = node("朝阳区奥运村街道总工会")
    leaf = node("奥运村快递驿站联合工会")
    for url, data in [
        (f"/admin/unions/{street.id}/children", {"name": "", "kind": "workplace"}),
        (f"/admin/unions/{street.id}/children", {"name": "名", "kind": "galaxy"}),
        (f"/admin/unions/{street.id}/children", {"name": "奥运村快递驿站联合工会", "kind": "workplace"}),
        (f"/admin/unions/{street.id}/children", {"name": "x" * 500, "kind": "workplace"}),
        (f"/admin/unions/{street.id}/rename", {"name": "\u202e"}),
        (f"/admin/unions/{street.id}/move", {"target_id": leaf.id}),
        (f"/admin/unions/{street.id}/move", {"target_id": "abc"}),
        (f"/admin/unions/{street.id}/move", {"target_id": "99999999999999999999"}),
        (f"/admin/unions/{street.id}/merge", {"target_id": 999999}),
        (f"/admin/unions/{street.id}/retire", {}),
    ]:
        response = admin_client.post(url, data=data, follow_redirects=True)
        assert response.status_code == 200, (url, data, response.status_code)
        assert 'class="flash flash-error' in response.get_data(as_text=True) or "flash-error" in \
            response.get_data(as_text=True), (url, data)
    assert node("朝阳区奥运村街道总工会").parent_id == node("朝阳区总工会").id
    assert not node("朝阳区奥运村街道总工会").retired
    assert admin_client.get("/admin/unions/999999").status_code == 404


def test_an_organiser_sees_and_manages_only_below_their_union(organiser_client):
    street, other = node("丰台区玉泉营街道总工会"), node("朝阳区奥运村街道总工会")
    assert organiser_client.get(f"/admin/unions/{other.id}").status_code == 403
    page = organiser_client.get(f"/admin/unions/{street.id}").get_data(as_text=True)
    assert 'action="/admin/unions/%d/children"' % street.id in page
    assert 'action="/admin/unions/%d/rename"' % street.id not in page  # their own union: not below it
    assert organiser_client.post(f"/admin/unions/{street.id}/rename", data={"name": "改名"}).status_code == 403
    assert organiser_client.post(f"/admin/unions/{other.id}/children", data={"name": "外区", "kind": "workplace"}
                                 ).status_code == 403
    found = organiser_client.get("/admin/unions?q=工会").get_data(as_text=True)
    assert "玉泉营商场工会" in found and "奥运村快递驿站联合工会" not in found
    leaf = node("玉泉营商场工会")
    organiser_client.post(f"/admin/unions/{leaf.id}/merge", data={"target_id": other.id})
    assert not node("玉泉营商场工会").retired  # the target lies outside their part of the tree


def test_workers_and_officers_may_not_reach_it(app, make, login):
    tree = make.tree()
    assert login(make.user("职工")).get("/admin/unions").status_code == 403
    officer = login(make.user("干部", role=Role.OFFICER, scope=tree["朝阳区总工会"]))
    assert officer.get("/admin/unions").status_code == 403
