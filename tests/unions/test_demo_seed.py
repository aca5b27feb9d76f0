"""`flask seed-demo`: the seed page's unions, one login per role, its activities and the showcase — once."""
from __future__ import annotations

from sqlalchemy import func, select

from unionevents import demo, demo_showcase
from unionevents.accounts.models import Role, User
from unionevents.accounts.services import authenticate
from unionevents.activities.models import Activity, Visibility
from unionevents.core.permissions import has_role
from unionevents.extensions import db
from unionevents.unions.models import UnionNode


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_twice_creates_the_data_once_and_every_page_renders(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    counts = (count(Activity), count(UnionNode), count(User))
    # the seed page's seven activities, then the organiser showcase (demo_showcase.py): a contest, a
    # drawn lottery, a meeting and a weekly class of six dates
    assert counts == (7 + 3 + 6, len(demo.NODES), len(demo.USERS) + len(demo_showcase.PEOPLE))
    assert {n.name for n in db.session.scalars(select(UnionNode))} == {name for name, *_ in demo.NODES}

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "nothing changed" in second.output
    assert (count(Activity), count(UnionNode), count(User)) == counts

    for activity in db.session.scalars(select(Activity)):
        response = client.get(f"/activities/{activity.id}")
        if activity.visibility == Visibility.INVITATION:  # anonymous visitors are asked to log in
            assert response.status_code == 302 and "/account/login" in response.headers["Location"]
            continue
        assert response.status_code == 200, activity.title
        assert activity.title in response.get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)
    assert "以书换蔬 共建书屋" in home
    assert "东京地下铁" not in home  # invitation only


def test_demo_logins_work_and_hold_their_roles(app):
    app.test_cli_runner().invoke(args=["seed-demo"])
    expected = {"13800000001": Role.ADMIN, "13800000002": Role.ORGANISER, "13800000003": Role.ORGANISER,
                "13800000004": Role.OFFICER,
                "13700000001": Role.JUDGE, "13700000002": Role.MEDICAL}
    for label, mobile in demo.DEMO_LOGINS:
        user = authenticate(mobile, demo.DEMO_PASSWORD)
        assert user is not None, label
        if mobile in expected:
            assert {g.role for g in user.grants} == {expected[mobile]}
        else:
            assert not user.grants
    organiser = authenticate("13800000003", demo.DEMO_PASSWORD)
    nodes = {n.name: n for n in db.session.scalars(select(UnionNode))}
    assert has_role(organiser, Role.ORGANISER, node=nodes["丰台区玉泉营街道总工会"])
    assert not has_role(organiser, Role.ORGANISER, node=nodes["朝阳区奥运村街道总工会"])


def test_print_demo_logins_names_one_login_per_role(capsys):
    demo.print_demo_logins()
    out = capsys.readouterr().out
    assert demo.DEMO_PASSWORD in out
    for word in ("admin", "organiser", "officer", "judge", "medical", "worker"):
        assert word in out


def test_seed_demo_refuses_to_run_in_production(app):
    """The demo's city admin has the README's password: never in a production database."""
    runner = app.test_cli_runner()
    saved, app.config["ENV_NAME"] = app.config["ENV_NAME"], "production"
    try:
        result = runner.invoke(args=["seed-demo"])
    finally:
        app.config["ENV_NAME"] = saved
    assert result.exit_code == 1
    assert "seed-demo refused" in result.output and "production" in result.output
    assert (count(Activity), count(UnionNode), count(User)) == (0, 0, 0)
