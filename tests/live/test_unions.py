"""The union tree through the real server: an admin adds a member union, renames, moves and merges it with
the page's own forms (CSRF tokens and all), and the public API lists it."""
from __future__ import annotations

import uuid

import pytest
import requests

from .client import Browser
from .world import ADMIN

pytestmark = pytest.mark.xdist_group("live-gunicorn")


@pytest.fixture(scope="module")
def world(gunicorn_world):
    return gunicorn_world


def _flash(response) -> str:
    return response.text[:2000]


def test_admin_adds_renames_moves_and_merges_a_union_through_the_forms(gunicorn_server, world):
    db, ids = world.db, world.ids
    admin = Browser(gunicorn_server.url, ADMIN)
    district = ids["union_district"]
    name = f"实况测试工会{uuid.uuid4().hex[:6]}"
    page = f"/admin/unions/{district}"

    added = admin.fill_and_post(page, {"name": name, "kind": "workplace"}, action=f"/admin/unions/{district}/children")
    assert added.status_code == 302, _flash(added)
    child = db.scalar("SELECT id FROM union_node WHERE name = :n AND parent_id = :p", n=name, p=district)
    assert child, "the new union is under the district"
    # (The crawl may have switched this admin's language: the flash is checked by its kind and the name.)
    shown = admin.get(added.headers["Location"]).text
    assert 'class="flash flash-success"' in shown and name in shown

    renamed = admin.fill_and_post(f"/admin/unions/{child}", {"name": name + "（新）"},
                                  action=f"/admin/unions/{child}/rename")
    assert renamed.status_code == 302
    assert db.scalar("SELECT name FROM union_node WHERE id = :i", i=child) == name + "（新）"

    # A name already used under the same parent is refused with a message, not a 500.
    sibling = db.scalar("SELECT name FROM union_node WHERE parent_id = :p AND id <> :c ORDER BY id", p=district, c=child)
    refused = admin.fill_and_post(f"/admin/unions/{child}", {"name": sibling}, action=f"/admin/unions/{child}/rename")
    assert refused.status_code == 302
    assert 'class="flash flash-error"' in admin.get(refused.headers["Location"]).text
    assert db.scalar("SELECT name FROM union_node WHERE id = :i", i=child) == name + "（新）"

    # Move it under the top union (found with the page's search step), then merge it into the district.
    root = ids["union_root"]
    root_name = db.scalar("SELECT name FROM union_node WHERE id = :i", i=root)
    search = f"/admin/unions/{child}?target_q={root_name}"
    moved = admin.fill_and_post(search, {"target_id": str(root)}, action=f"/admin/unions/{child}/move")
    assert moved.status_code == 302
    assert db.scalar("SELECT parent_id FROM union_node WHERE id = :i", i=child) == root
    district_name = db.scalar("SELECT name FROM union_node WHERE id = :i", i=district)
    merged = admin.fill_and_post(f"/admin/unions/{child}?target_q={district_name}", {"target_id": str(district)},
                                 action=f"/admin/unions/{child}/merge")
    assert merged.status_code == 302
    assert db.scalar("SELECT merged_into_id FROM union_node WHERE id = :i", i=child) == district
    actions = db.scalars("SELECT action FROM audit_log WHERE object_type = 'union_node' AND object_id = :i "
                         "ORDER BY id", i=child)
    assert actions == ["union.add", "union.rename", "union.move", "union.merge"]


def test_the_public_api_lists_the_tree(gunicorn_server, world):
    response = requests.get(gunicorn_server.url + "/api/v1/unions", params={"parent": world.ids["union_root"]},
                            timeout=60)
    assert response.status_code == 200
    items = response.json()["items"]
    assert items and all(item["parent_id"] == world.ids["union_root"] and item["level"] == 1 for item in items)
