"""One door for access (``unionevents.access``): pages and the API answer a missing or out-of-scope
activity by the same rule (404 / 403) and give the same reason."""
from __future__ import annotations

import html

from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.activities.models import ActivityKind

from tests.registrations.organiser_fixtures import (  # noqa: F401 - fixtures
    MALL, organiser, other_organiser, tree,
)

NOT_YOURS = "您不是本活动的组织者。"
NO_SUCH_ACTIVITY = "该活动不存在。"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, 'test')}"}


def test_out_of_scope_is_403_with_the_same_reason_on_a_page_and_in_the_api(client, login, make,
                                                                           other_organiser):
    activity = make.activity()
    login(other_organiser)
    for url in (f"/manage/activities/{activity.id}/roster", f"/manage/activities/{activity.id}/edit"):
        page = client.get(url)
        assert page.status_code == 403 and NOT_YOURS in text(page), url
    api = client.get(f"/api/v1/activities/{activity.id}/registrations", headers=bearer(other_organiser))
    assert api.status_code == 403 and api.json["message"] == NOT_YOURS


def test_a_missing_activity_is_404_with_the_same_reason_on_a_page_and_in_the_api(client, login, make,
                                                                                 organiser):
    missing = make.activity().id + 1000
    login(organiser)
    page = client.get(f"/manage/activities/{missing}/roster")
    assert page.status_code == 404 and NO_SUCH_ACTIVITY in text(page)
    api = client.get(f"/api/v1/activities/{missing}/registrations", headers=bearer(organiser))
    assert api.status_code == 404 and api.json["message"] == NO_SUCH_ACTIVITY


def test_a_page_of_another_kind_is_404_only_after_the_scope_check(client, login, make, organiser,
                                                                  other_organiser):
    course = make.activity(kind=ActivityKind.CLASS_)
    login(organiser)
    assert client.get(f"/manage/activities/{course.id}/swap").status_code == 404
    login(other_organiser)
    assert client.get(f"/manage/activities/{course.id}/swap").status_code == 403


def test_activity_roles_cover_their_activity_only(client, login, make, tree):
    mine, other = make.activity("体检一", kind=ActivityKind.HEALTH), make.activity("体检二", kind=ActivityKind.HEALTH)
    doctor = make.user("医生", union=tree[MALL], role=Role.MEDICAL, activity=mine)
    login(doctor)
    assert client.get(f"/medical/activities/{mine.id}").status_code == 200
    assert client.get(f"/medical/activities/{other.id}").status_code == 403
