"""Integers beyond the database's range in contest pages' query strings and forms are never a 500."""
from __future__ import annotations

HUGE = "99999999999999999999"


def test_huge_ties_and_tier_ids_are_never_a_500(client, login, contest_world):
    world = contest_world()
    login(world.organiser)
    page = f"/manage/activities/{world.activity.id}/contest/awards"
    assert client.get(f"{page}?tie={HUGE}&tie=-{HUGE}").status_code == 200
    response = client.post(page, data={"tier-name": "一等奖", "tier-quota": "1", "tier_id": HUGE})
    assert response.status_code < 500
