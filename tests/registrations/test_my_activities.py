"""我的活动 by when things happen: upcoming soonest first with the next ticket one tap away, then past
ones latest first with their follow-ups; the API lists the same order."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from unionevents.accounts.services import issue_token
from unionevents.registrations import services
from unionevents.activities.models import ActivityKind
from tests.factories import check_in_at_the_door

NOW = datetime(2026, 12, 10, 2, 0)


@pytest.fixture
def rider(make, frozen_time):
    frozen_time(NOW)
    make.tree()
    return make.user("骑手小李")


def test_upcoming_in_start_order_then_past_latest_first(make, rider, client, login, frozen_time):
    # Signed up in the "wrong" order on purpose: 12/21 first, then 12/17 (the issue's example).
    dec21 = make.activity("读书会", starts_in=timedelta(days=11))
    dec17 = make.activity("花卉课", starts_in=timedelta(days=7))
    past_a = make.activity("旧课一", starts_in=timedelta(days=1), signup_opens_at=NOW - timedelta(days=2))
    past_b = make.activity("旧课二", starts_in=timedelta(days=2), signup_opens_at=NOW - timedelta(days=2),
                           kind=ActivityKind.CLASS_)
    waiting = make.activity("热门课", starts_in=timedelta(days=9), capacity=1)
    services.register(make.user("先到的人"), waiting.id)
    regs = {a.title: services.register(rider, a.id) for a in (dec21, dec17, past_a, past_b, waiting)}
    check_in_at_the_door(regs["旧课二"].id, None)
    frozen_time(NOW + timedelta(days=4))  # the two old classes are over now
    order = ["花卉课", "热门课", "读书会", "旧课二", "旧课一"]
    assert [r.activity.title for r in services.my_registrations(rider)] == order
    api = client.get("/api/v1/me/registrations", headers={"Authorization": f"Bearer {issue_token(rider, 't')}"})
    assert [r["activity"]["title"] for r in api.json] == order

    login(rider)
    client.set_cookie("lang", "zh_Hans")
    page = client.get("/me/registrations").get_data(as_text=True)
    positions = [page.index(title, page.index('id="upcoming-heading"')) for title in order]
    assert positions == sorted(positions)
    assert "下一场" in page.split('id="upcoming-heading"')[0] and "花卉课" in page.split('id="upcoming-heading"')[0]
    ticket_link = f'/me/registrations/{regs["花卉课"].id}#ticket-heading'
    assert ticket_link in page.split('id="upcoming-heading"')[0]  # the next ticket, one tap away
    assert "候补第" in page or "number 1 on the waiting list" in page or "候补" in page
    assert f'/me/feedback/{regs["旧课二"].id}' in page  # attended class: rate it
    assert f'/me/feedback/{regs["旧课一"].id}' not in page  # not attended: nothing to rate


def test_no_next_ticket_without_a_place(make, rider, client, login):
    activity = make.activity("热门课", capacity=1)
    services.register(make.user("先到的人"), activity.id)
    services.register(rider, activity.id)
    login(rider)
    page = client.get("/me/registrations").get_data(as_text=True)
    assert 'id="next-heading"' not in page
