"""Who sees an invitation-only activity (issue 14, defect 13; docs/design-decisions.md).

Anonymous visitors get the login page (the API: 401); a logged-in person sees it when their union is
one of the invited units (or lies inside one), when they organise an invited unit or the activity's
own union (officers and admins likewise), when they hold a role for this very activity, or when they
are registered for it.  Everyone else gets 404, exactly as for an activity that does not exist.
Public lists never show it.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g

from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.activities.models import SignupMode, Visibility
from unionevents.activities.services import set_unit_quota
from unionevents.extensions import db

CITY = "北京市总工会"
INVITED_UNIT = "奥运村快递驿站联合工会"
INVITED_STREET = "朝阳区奥运村街道总工会"
OTHER_STREET = "丰台区玉泉营街道总工会"
OTHER_UNIT = "玉泉营商场工会"
TITLE = "东京地下铁代表团交流座谈"


@pytest.fixture
def exchange(make, tree):
    """A city-wide meeting by invitation: only 奥运村快递驿站联合工会 is given places."""
    activity = make.activity(TITLE, node=CITY, capacity=10, mode=SignupMode.QUOTA,
                             visibility=Visibility.INVITATION)
    set_unit_quota(activity, tree[INVITED_UNIT], 5)
    db.session.commit()
    return activity


def people(make):
    return {
        "invited worker": make.user("受邀骑手", union=INVITED_UNIT),
        "organiser of the invited unit's street": make.user("奥运村组织者", role=Role.ORGANISER,
                                                             scope=INVITED_STREET),
        "city organiser": make.user("市总组织者", role=Role.ORGANISER, scope=CITY),
        "city officer": make.user("市总干部", role=Role.OFFICER, scope=CITY),
        "admin": make.user("管理员", role=Role.ADMIN, scope=CITY),
    }, {
        "worker of another union": make.user("商场职工", union=OTHER_UNIT),
        "worker without a union": make.user("无工会职工"),
        "organiser of another street": make.user("玉泉营组织者", role=Role.ORGANISER, scope=OTHER_STREET),
        "officer of another street": make.user("玉泉营干部", role=Role.OFFICER, scope=OTHER_STREET),
    }


def log_in(login, user):
    g.pop("_login_user", None)  # requests share the test's app context, where Flask-Login caches the user
    login(user)


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, 'test')}"}


def test_anonymous_visitors_are_sent_to_log_in(client, exchange):
    response = client.get(f"/activities/{exchange.id}")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]
    assert TITLE not in response.get_data(as_text=True)
    api = client.get(f"/api/v1/activities/{exchange.id}")
    assert api.status_code == 401 and TITLE not in api.get_data(as_text=True)


def test_public_activities_stay_public(client, make, tree):
    activity = make.activity("花卉养护课")
    assert client.get(f"/activities/{activity.id}").status_code == 200
    assert client.get(f"/api/v1/activities/{activity.id}").status_code == 200


def test_invited_and_responsible_people_see_it(client, login, make, exchange):
    allowed, _refused = people(make)
    for who, user in allowed.items():
        log_in(login, user)
        page = client.get(f"/activities/{exchange.id}")
        assert page.status_code == 200, who
        assert TITLE in page.get_data(as_text=True), who
        api = client.get(f"/api/v1/activities/{exchange.id}", headers=bearer(user))
        assert api.status_code == 200 and api.json["title"] == TITLE, who


def test_everyone_else_gets_404_as_if_it_did_not_exist(client, login, make, exchange):
    _allowed, refused = people(make)
    for who, user in refused.items():
        log_in(login, user)
        for url in (f"/activities/{exchange.id}", f"/activities/{exchange.id}/signup"):
            response = client.get(url)
            assert response.status_code == 404, (who, url)
            assert TITLE not in response.get_data(as_text=True), (who, url)
        api = client.get(f"/api/v1/activities/{exchange.id}", headers=bearer(user))
        assert api.status_code == 404 and TITLE not in api.get_data(as_text=True), who
        assert api.json == client.get("/api/v1/activities/999999", headers=bearer(user)).json


def test_a_registered_worker_keeps_seeing_it(client, login, make, exchange, tree):
    """Registered while their union was invited, then moved: their registration still shows it."""
    from unionevents.registrations import services as registrations

    worker = make.user("调岗骑手", union=INVITED_UNIT)
    registrations.register(worker, exchange.id)
    worker.union = tree[OTHER_UNIT]
    db.session.commit()
    log_in(login, worker)
    assert client.get(f"/activities/{exchange.id}").status_code == 200


def test_lists_never_show_it(client, login, make, exchange):
    allowed, _refused = people(make)
    assert TITLE not in client.get("/").get_data(as_text=True)
    assert TITLE not in client.get("/activities/").get_data(as_text=True)
    assert TITLE not in client.get("/api/v1/activities").get_data(as_text=True)
    log_in(login, allowed["invited worker"])
    assert TITLE not in client.get("/activities/?open_now=1").get_data(as_text=True)


def test_signing_up_through_the_api_uninvited_is_404_too(client, make, exchange):
    _allowed, refused = people(make)
    response = client.post(f"/api/v1/activities/{exchange.id}/registrations", json={},
                           headers=bearer(refused["worker of another union"]))
    assert response.status_code == 404 and TITLE not in response.get_data(as_text=True)
    invited = make.user("受邀快递员", union=INVITED_UNIT)
    assert client.post(f"/api/v1/activities/{exchange.id}/registrations", json={},
                       headers=bearer(invited)).status_code == 201


def test_an_api_sign_up_refused_for_another_reason_still_answers_404_to_the_uninvited(client, make, exchange):
    """Closed, cancelled or full: any refusal would tell an outsider that the activity exists."""
    from unionevents.core.timeutil import now

    _, outsiders = people(make)
    exchange.signup_closes_at = now() - timedelta(hours=1)
    db.session.commit()
    for person in outsiders.values():
        response = client.post(f"/api/v1/activities/{exchange.id}/registrations", json={}, headers=bearer(person))
        assert response.status_code == 404, person.name
