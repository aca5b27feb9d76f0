"""Admins grant and revoke scoped roles in the UI."""
from __future__ import annotations

from sqlalchemy import select

from unionevents.accounts.models import Role, RoleGrant
from unionevents.core.audit import AuditLog
from unionevents.core.permissions import has_role
from unionevents.extensions import db


def test_admin_grants_and_revokes_a_scoped_role(client, make, tree, worker, login):
    admin = make.user("管理员", role=Role.ADMIN, scope=tree["北京市总工会"])
    login(admin)
    page = client.get("/admin/users?q=王骑手").get_data(as_text=True)
    assert "王骑手" in page and "139****5678" in page and "13912345678" not in page

    node = tree["丰台区玉泉营街道总工会"]
    response = client.post("/admin/grants", data={"mobile": worker.mobile, "role": "organiser",
                                                  "node_id": str(node.id)})
    assert response.status_code == 302
    db.session.expire_all()
    grant = db.session.scalar(select(RoleGrant).where(RoleGrant.user_id == worker.id))
    assert grant.role == Role.ORGANISER and grant.node_id == node.id and grant.granted_by_id == admin.id
    assert has_role(grant.user, Role.ORGANISER, node=tree["玉泉营商场工会"])
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "role.grant")
                              .order_by(AuditLog.id.desc()))
    assert audit.actor_id == admin.id and "13912345678" not in str(audit.data)

    assert client.post(f"/admin/grants/{grant.id}/revoke").status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(RoleGrant).where(RoleGrant.user_id == worker.id)) is None


def test_bad_grants_are_refused_with_a_message(client, make, tree, worker, login):
    admin = make.user("管理员", role=Role.ADMIN, scope=tree["北京市总工会"])
    login(admin)
    for data in ({"mobile": "13700000000", "role": "organiser", "node_id": str(tree["北京市总工会"].id)},
                 {"mobile": worker.mobile, "role": "organiser", "node_id": "999999"},
                 {"mobile": worker.mobile, "role": "judge", "node_id": str(tree["北京市总工会"].id)},
                 {"mobile": "not-a-number", "role": "organiser", "node_id": ""}):
        response = client.post("/admin/grants", data=data)
        assert response.status_code == 302
        assert 'class="flash flash-error"' in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(RoleGrant).where(RoleGrant.user_id == worker.id)) is None


def test_revoking_a_missing_grant_is_a_404(client, make, tree, login):
    login(make.user("管理员", role=Role.ADMIN, scope=tree["北京市总工会"]))
    assert client.post("/admin/grants/999999/revoke").status_code == 404


def test_audit_filter_at_the_ends_of_the_calendar_is_not_a_500(client, make, tree, login):
    """Found by the bad-input crawl on PostgreSQL: "to" 9999-12-31 overflowed the day after."""
    login(make.user("管理员", role=Role.ADMIN, scope=tree["北京市总工会"]))
    for days in ({"from": "0001-01-01", "to": "9999-12-31"}, {"to": "9999-12-31"}, {"from": "0001-01-01"}):
        response = client.get("/admin/audit", query_string=days)
        assert response.status_code == 200, days


def _statements_for_page(client, url: str) -> int:
    from flask import g

    from tests.registrations.organiser_fixtures import StatementCounter

    g.pop("_login_user", None)  # the test's app context is shared: load the page's user afresh
    db.session.expire_all()
    with StatementCounter() as counter:
        assert client.get(url).status_code == 200
    return len(counter.statements)


def test_the_people_list_costs_the_same_statements_for_2_or_8_people_with_roles(client, make, tree, login):
    admin = make.user("管理员", role=Role.ADMIN, scope=tree["北京市总工会"])
    login(admin)
    node = tree["丰台区玉泉营街道总工会"]
    for i in range(2):
        make.user(f"组织者{i}", role=Role.ORGANISER, scope=node)
    assert client.get("/admin/users").status_code == 200  # a first visit costs one statement more: compare later ones
    few = _statements_for_page(client, "/admin/users")
    for i in range(2, 8):
        make.user(f"组织者{i}", role=Role.ORGANISER, scope=node)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "组织者7" in page
    assert _statements_for_page(client, "/admin/users") == few
