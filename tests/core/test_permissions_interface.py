"""core.permissions takes the user through an interface: plain objects with the same attributes work,
so the rule (a role over a node covers everything below; admins hold every node-scoped role, not the
activity-scoped ones) does not depend on the accounts domain."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from unionevents.core.permissions import has_role


@dataclass(frozen=True)
class FakeRole:
    value: str
    covers_all_nodes: bool = False
    activity_scoped: bool = False


ADMIN = FakeRole("admin", covers_all_nodes=True)
ORGANISER = FakeRole("organiser")
JUDGE = FakeRole("judge", activity_scoped=True)
CITY, DISTRICT, OTHER = (SimpleNamespace(path=p) for p in ("/1/", "/1/5/", "/2/"))


def person(*grants, authenticated=True):
    return SimpleNamespace(is_authenticated=authenticated, grants=[
        SimpleNamespace(role=role, node=node, activity_id=activity_id) for role, node, activity_id in grants])


def test_a_node_grant_covers_the_node_and_below_only():
    organiser = person((ORGANISER, DISTRICT, None))
    assert has_role(organiser, ORGANISER)
    assert has_role(organiser, ORGANISER, node=SimpleNamespace(path="/1/5/9/"))
    assert not has_role(organiser, ORGANISER, node=CITY)
    assert not has_role(organiser, ORGANISER, node=OTHER)
    assert not has_role(organiser, JUDGE)


def test_an_activity_grant_covers_that_activity_only():
    judge = person((JUDGE, None, 7))
    assert has_role(judge, JUDGE, activity_id=7)
    assert not has_role(judge, JUDGE, activity_id=8)


def test_admins_hold_node_roles_everywhere_but_not_activity_roles():
    admin = person((ADMIN, CITY, None))
    assert has_role(admin, ORGANISER, node=OTHER)
    assert not has_role(admin, JUDGE, activity_id=7)


def test_nobody_holds_a_role_when_not_logged_in():
    assert not has_role(None, ORGANISER)
    assert not has_role(person((ADMIN, CITY, None), authenticated=False), ORGANISER)
