"""GET /api/v1/unions: the tree as a list, public, by parent or by a search, a page at a time."""
from __future__ import annotations

import pytest

from unionevents.accounts.models import Role
from unionevents.extensions import db
from unionevents.unions import services
from unionevents.unions.models import UnionNode


def test_the_tree_is_public_and_listed_parents_first(client, make):
    tree = make.tree()
    response = client.get("/api/v1/unions")
    assert response.status_code == 200
    body = response.get_json()
    items = body["items"]
    assert body["pagination"]["total"] == len(tree) == len(items)
    assert items[0] == {"id": tree["北京市总工会"].id, "name": "北京市总工会", "parent_id": None, "level": 0,
                        "kind": "city", "code": None, "path": ["北京市总工会"], "retired": False}
    seen = set()
    for item in items:
        assert item["parent_id"] is None or item["parent_id"] in seen
        seen.add(item["id"])
    leaf = next(i for i in items if i["name"] == "奥运村快递驿站联合工会")
    assert leaf["path"] == ["北京市总工会", "朝阳区总工会", "朝阳区奥运村街道总工会", "奥运村快递驿站联合工会"]
    assert (leaf["level"], leaf["kind"]) == (3, "workplace")


def test_filter_by_parent_and_search_any_part_of_the_name(client, make):
    tree = make.tree()
    children = client.get(f"/api/v1/unions?parent={tree['北京市总工会'].id}").get_json()["items"]
    assert {c["name"] for c in children} == {"朝阳区总工会", "丰台区总工会"}
    roots = client.get("/api/v1/unions?parent=0").get_json()["items"]
    assert [r["name"] for r in roots] == ["北京市总工会"]
    found = client.get("/api/v1/unions", query_string={"q": "奥运村"}).get_json()["items"]
    assert [f["name"] for f in found] == ["朝阳区奥运村街道总工会", "奥运村快递驿站联合工会"]
    assert client.get("/api/v1/unions", query_string={"q": "%"}).get_json()["items"] == []


def test_retired_unions_only_when_asked(client, make):
    tree = make.tree()
    admin = make.user("管理员", role=Role.ADMIN, scope=tree["北京市总工会"])
    services.retire_node(admin, db.session.get(UnionNode, tree["玉泉营商场工会"].id))
    names = {i["name"] for i in client.get("/api/v1/unions").get_json()["items"]}
    assert "玉泉营商场工会" not in names
    everything = client.get("/api/v1/unions?include_retired=true").get_json()["items"]
    assert {i["name"]: i["retired"] for i in everything}["玉泉营商场工会"] is True


def test_pages_are_bounded(client, make):
    make.tree()
    body = client.get("/api/v1/unions?per_page=3&page=99").get_json()
    assert body["pagination"] == {"page": 3, "per_page": 3, "total": 7, "pages": 3}
    assert len(body["items"]) == 1


@pytest.mark.parametrize("query, field", [("per_page=501", "per_page"), ("per_page=0", "per_page"),
                                          ("parent=x", "parent"), ("parent=-1", "parent"),
                                          ("q=" + "长" * 61, "q"), ("page=0", "page")])
def test_bad_arguments_are_422_per_field(client, make, query, field):
    response = client.get(f"/api/v1/unions?{query}")
    assert response.status_code == 422
    assert field in str(response.get_json())


def test_the_endpoint_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/unions" in document["paths"]
    assert document["paths"]["/api/v1/unions"]["get"]["security"] == []
