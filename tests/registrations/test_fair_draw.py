"""A draw anyone can check (commit, then reveal): the hash of a secret seed is on the activity page
from publication; the organiser runs the draw from the activity page; afterwards the seed and the full
order are published and recompute, from the page alone, to the same order; `flask activities
verify-draw` says whether it matches."""
from __future__ import annotations

import hashlib
import random
import re
from datetime import timedelta

from flask import g

from unionevents.accounts.models import Role
from unionevents.activities.cli import activities_cli
from unionevents.activities.models import Activity, SignupMode
from unionevents.activities.services import publish
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

STREET = "丰台区玉泉营街道总工会"


def _client(app, user=None):
    g.pop("_login_user", None)
    client = app.test_client()
    client.set_cookie("lang", "en")
    if user is not None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
    return client


def _page(app, activity_id, user=None) -> str:
    return _client(app, user).get(f"/activities/{activity_id}").get_data(as_text=True)


def test_the_published_draw_recomputes_from_the_page_alone(app, make, workers, frozen_time):
    tree = make.tree()
    organiser = make.user("组织者", role=Role.ORGANISER, scope=tree[STREET])
    activity = make.activity("抽签音乐会", node=STREET, capacity=3, mode=SignupMode.LOTTERY)
    applicant = make.user("申请人")  # logs in to read the result
    for person in [*workers(8), applicant]:
        services.register(person, activity.id)

    # Before the draw: the hash is public, the seed is not.
    stored = db.session.get(Activity, activity.id)
    before = _page(app, activity.id)
    shown_hash = re.search(r'<code class="digest">([0-9a-f]{64})</code>', before).group(1)
    assert shown_hash == stored.lottery_seed_hash and stored.lottery_seed not in before
    assert stored.lottery_seed not in _page(app, activity.id, organiser)

    draw_url = f"/manage/activities/{activity.id}/draw"
    # Workers cannot draw; an organiser cannot draw before sign-up closes.
    bystander = make.user("旁观职工")
    assert _client(app, bystander).post(draw_url).status_code == 403
    assert _client(app, organiser).post(draw_url).status_code == 303
    assert db.session.get(Activity, activity.id).drawn_at is None

    frozen_time(activity.signup_closes_at + timedelta(minutes=5))
    manage = _client(app, organiser).get(f"/manage/activities/{activity.id}").get_data(as_text=True)
    assert f'action="{draw_url}"' in manage
    done = _client(app, organiser).post(draw_url, follow_redirects=True)
    assert "The draw is done: 3 confirmed, 6 on the waiting list" in done.get_data(as_text=True)

    # After: recompute from what the page shows, as any worker would.
    after = _page(app, activity.id, applicant)
    seed = re.search(r'<code class="draw-seed">([^<]+)</code>', after).group(1)
    order = [int(n) for n in re.findall(r"<tr[^>]*><td>\d+</td><td>(\d+)", after)]
    assert hashlib.sha256(seed.encode()).hexdigest() == shown_hash
    recomputed = sorted(order)
    random.Random(seed).shuffle(recomputed)
    assert recomputed == order and len(order) == 9
    assert "(you)" in after and "random.Random(seed).shuffle" in after
    # Places went down the order; the rest joined the waiting list in draw order.
    states = [db.session.get(Registration, i) for i in order]
    assert [r.state for r in states] == [S.CONFIRMED] * 3 + [S.WAITLISTED] * 6
    assert [r.queue_rank for r in states[3:]] == [1, 2, 3, 4, 5, 6]
    # A second draw is refused, from the page as from the CLI.
    _client(app, organiser).post(draw_url)
    assert db.session.get(Activity, activity.id).lottery_order == ",".join(map(str, order))

    runner = app.test_cli_runner()
    verified = runner.invoke(activities_cli, ["verify-draw", str(activity.id)])
    assert verified.exit_code == 0 and "draw verified" in verified.output, verified.output


def test_verify_draw_says_when_the_published_order_does_not_follow(app, make, workers, frozen_time):
    activity = make.activity("抽签讲座", capacity=1, mode=SignupMode.LOTTERY)
    for person in workers(4):
        services.register(person, activity.id)
    frozen_time(activity.signup_closes_at)
    services.draw_lottery(activity.id)
    stored = db.session.get(Activity, activity.id)
    order = stored.lottery_order.split(",")
    stored.lottery_order = ",".join(reversed(order))  # what a tampered publication would show
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(activities_cli, ["verify-draw", str(activity.id)])
    assert result.exit_code == 1 and "does NOT match" in result.output
    undrawn = make.activity("未抽签", mode=SignupMode.LOTTERY, signup_closes_at=activity.signup_closes_at + timedelta(days=1))
    refused = runner.invoke(activities_cli, ["verify-draw", str(undrawn.id)])
    assert refused.exit_code != 0 and "not been drawn" in refused.output


def test_the_seed_is_committed_when_a_draft_lottery_is_published(make):
    tree = make.tree()
    organiser = make.user("组织者", role=Role.ORGANISER, scope=tree[STREET])
    draft = make.activity("抽签草稿", node=STREET, mode=SignupMode.LOTTERY, publish=False)
    assert draft.lottery_seed_hash is None and draft.lottery_seed is None
    publish(organiser, draft.id)
    stored = db.session.get(Activity, draft.id)
    assert stored.lottery_seed_hash == hashlib.sha256(stored.lottery_seed.encode()).hexdigest()
    first_come = make.activity("先到先得")
    assert first_come.lottery_seed_hash is None  # only lotteries commit a seed
