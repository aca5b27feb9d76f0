"""Every route declares who may reach it, and each identity gets exactly what its rule says.

Add an identity to IDENTITIES (and what it holds) and every route is checked for it; routes
with URL parameters get ids from SAMPLE_ARGS once a later issue covers them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
from flask import url_for

from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.core.permissions import ACCESS_ATTR

EXEMPT_ENDPOINTS = {"static"}
EXEMPT_PREFIXES = ("api-docs.",)  # flask-smorest's OpenAPI document


@dataclass(frozen=True)
class Identity:
    name: str
    roles: frozenset[Role]           # node-scoped roles held (admin: all node-scoped roles)
    build: Callable | None           # (make, tree) -> User; None for an anonymous visitor


def _user(name, role=None, scope="北京市总工会"):
    def build(make, tree):
        return make.user(name, union=tree["玉泉营商场工会"], role=role, scope=tree[scope] if role else None)
    return build


IDENTITIES = [
    Identity("anonymous", frozenset(), None),
    Identity("worker", frozenset(), _user("职工")),
    Identity("organiser", frozenset({Role.ORGANISER}), _user("组织者", Role.ORGANISER, "丰台区玉泉营街道总工会")),
    Identity("officer", frozenset({Role.OFFICER}), _user("干部", Role.OFFICER, "朝阳区总工会")),
    Identity("admin", frozenset({Role.ADMIN, Role.ORGANISER, Role.OFFICER}), _user("管理员", Role.ADMIN)),
]


def classified_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXEMPT_ENDPOINTS or rule.endpoint.startswith(EXEMPT_PREFIXES):
            continue
        yield rule, getattr(app.view_functions[rule.endpoint], ACCESS_ATTR, None)


def expected_allowed(access_rule: str, identity: Identity) -> bool:
    if access_rule == "public":
        return True
    if identity.build is None:
        return False
    if access_rule in ("login", "token"):  # "token": any account, by bearer token (as_identity sends one)
        return True
    assert access_rule.startswith("role:"), access_rule
    needed = {Role(value) for value in access_rule[len("role:"):].split(",")}
    return bool(needed & identity.roles)


def is_denial(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and response.headers["Location"].startswith("/account/login")


def is_allowed(response) -> bool:
    return 200 <= response.status_code < 400 and not is_denial(response)


def test_every_route_is_classified(app):
    unclassified = sorted(f"{rule.rule} ({rule.endpoint})" for rule, access in classified_rules(app)
                          if access is None)
    assert not unclassified, "routes without @public / @login_required / @token_required / @role_required: " + \
        ", ".join(unclassified)


def test_access_rules_are_known(app):
    for rule, access in classified_rules(app):
        assert access in ("public", "login", "token") or access.startswith("role:"), (rule.rule, access)
        if access.startswith("role:"):
            for value in access[len("role:"):].split(","):
                Role(value)


@pytest.fixture
def as_identity(app, make):
    """``as_identity(identity)`` -> (client, headers): a session for HTML, a bearer token for /api/."""
    tree = make.tree()

    def _as(identity: Identity):
        client = app.test_client()
        if identity.build is None:
            return client, {}
        user = identity.build(make, tree)
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return client, {"Authorization": f"Bearer {issue_token(user, 'matrix')}"}

    return _as


def get_routes_without_parameters(app):
    for rule, access in classified_rules(app):
        if "GET" in rule.methods and not rule.arguments:
            yield rule, access


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i.name)
def test_get_routes_allow_and_deny_as_declared(app, as_identity, identity):
    client, headers = as_identity(identity)
    cells = []
    for rule, access in get_routes_without_parameters(app):
        response = client.get(rule.rule, headers=headers)
        assert response.status_code < 500, (rule.rule, response.status_code)
        if expected_allowed(access, identity):
            assert is_allowed(response), \
                f"{identity.name} denied {rule.rule} ({access}): {response.status_code}"
        else:
            assert is_denial(response), \
                f"{identity.name} reached {rule.rule} ({access}): {response.status_code}"
        cells.append(rule.rule)
    assert len(cells) >= 10


def _all_methods(app):
    """(rule, method, url, access) for every route and method, URL parameters filled with 1."""
    with app.test_request_context():
        for rule, access in classified_rules(app):
            url = url_for(rule.endpoint, **{arg: 1 for arg in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, url, access


@pytest.mark.parametrize("identity", [i for i in IDENTITIES if not i.roles], ids=lambda i: i.name)
def test_protected_routes_deny_every_method_before_doing_anything(app, as_identity, identity):
    """Anonymous visitors are sent to log in (401 under /api/); workers get 403 from role routes."""
    client, headers = as_identity(identity)
    checked = 0
    for rule, method, url, access in _all_methods(app):
        if expected_allowed(access, identity):
            continue
        response = client.open(url, method=method, headers=headers)
        if identity.build is None:
            expected = 401 if url.startswith("/api/") else 302
            assert response.status_code == expected and is_denial(response), \
                (method, url, response.status_code)
        else:
            assert response.status_code == 403, (method, url, response.status_code)
        checked += 1
    assert checked >= 3
