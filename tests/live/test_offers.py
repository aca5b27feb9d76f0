"""Waiting-list offers under real concurrency, on both servers (gunicorn, ``flask run``): workers
accept their offers (the HTML button with its CSRF token, and the API), press twice, release their
place, leave the waiting list and sign up late, all at once — while ``flask notifications
expire-offers --every 0.2`` runs beside the server against its database, passing on the offers whose
deadline comes during the race.  Afterwards the places are exact: confirmed ≤ capacity, the
activity's counter equals a recount, nobody holds two places, an offer is only ever on a confirmed
registration, nobody waits while a place is free, and no offer past its deadline is left open."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from .conftest import ROOT
from .test_concurrency import N, Live, api, browser, crowd, fire, live, signed_up, soon_activity  # noqa: F401

CAPACITY = 4


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def open_offers(live: Live, activity_id: int) -> list[int]:
    return live.db.scalars("SELECT id FROM registration WHERE activity_id = :a AND offer_expires_at IS NOT NULL "
                           "ORDER BY id", a=activity_id)


def expired_offers(live: Live, activity_id: int) -> int:
    """Offers the expiry job has passed on so far (its audit rows)."""
    return live.db.scalar(
        "SELECT count(*) FROM audit_log l JOIN registration r ON r.id = l.object_id WHERE l.object_type = "
        "'registration' AND l.action = 'registration.offer_expire' AND r.activity_id = :a", a=activity_id) or 0


def rows(live: Live, activity_id: int, state: str) -> list[tuple[int, int]]:
    """(registration id, user id) in ``state`` without an open offer."""
    return [tuple(r) for r in live.db.rows(
        "SELECT id, user_id FROM registration WHERE activity_id = :a AND state = :s AND offer_expires_at IS NULL "
        "ORDER BY id", a=activity_id, s=state)]


def check_places(live: Live, activity_id: int) -> dict:
    db = live.db
    taken, capacity = db.rows("SELECT taken, capacity FROM activity WHERE id = :a", a=activity_id)[0]
    holding = db.scalar("SELECT count(*) FROM registration WHERE activity_id = :a "
                        "AND state IN ('confirmed', 'attended')", a=activity_id)
    waiting = db.scalar("SELECT count(*) FROM registration WHERE activity_id = :a AND state = 'waitlisted'",
                        a=activity_id)
    assert taken == holding, f"counter {taken} != {holding} holding a place"
    assert holding <= capacity == CAPACITY, f"{holding} hold a place of {capacity}"
    assert db.scalars("SELECT user_id FROM registration WHERE activity_id = :a AND state IN "
                      "('pending', 'confirmed', 'waitlisted') GROUP BY user_id HAVING count(*) > 1",
                      a=activity_id) == [], "someone holds two live registrations"
    assert db.scalar("SELECT count(*) FROM registration WHERE activity_id = :a AND offer_expires_at IS NOT NULL "
                     "AND state <> 'confirmed'", a=activity_id) == 0, "an offer on a registration not confirmed"
    assert not waiting or holding == capacity, f"{waiting} wait while {capacity - holding} places are free"
    return {"holding": holding, "waiting": waiting}


class Expirer:
    """``flask notifications expire-offers --every 0.2`` as the timer runs it, on the server's database."""

    def __init__(self, live: Live):
        self.log = open(live.server.workdir / "expirer.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "notifications", "expire-offers", "--every", "0.2"], cwd=ROOT,
            env=live.server._env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code


def test_offers_accepts_cancels_and_signups_race_the_expiry_job(live):
    # Fresh tokens and logins: tests before this one on the same server may have signed the shared
    # ones out (the full suite's run found the organiser's cached token answering 401).
    live.world.__dict__.pop("crowd_tokens", None)
    live.world.__dict__.pop("browsers", None)
    mobiles = crowd(live)
    log_from = live.server.log_size()
    activity_id = soon_activity(live, CAPACITY, title="并发候补名额")
    registered = signed_up(live, activity_id, mobiles[:12])  # 4 places, 8 waiting
    latecomers = list(mobiles[12:])
    by_user = {live.db.user_id(m): m for m in mobiles}
    for registration in registered[:2]:  # two places freed one after the other: two offers
        response = api(live, by_user[live.db.scalar("SELECT user_id FROM registration WHERE id = :r",
                                                   r=registration)]).post(
            f"{live.url}/api/v1/registrations/{registration}/cancel", timeout=60)
        assert response.status_code == 200, response.text[:300]
    assert len(open_offers(live, activity_id)) == 2
    check_places(live, activity_id)

    expirer = Expirer(live)
    try:
        time.sleep(4)  # the job is running (its app imported) before the first deadline comes
        for wave in range(3):
            offers = open_offers(live, activity_id)
            assert offers, f"wave {wave}: no open offer to race"
            owner = {r: by_user[u] for r, u in live.db.rows(
                "SELECT id, user_id FROM registration WHERE activity_id = :a", a=activity_id)}
            calls = []
            for i, registration in enumerate(offers):
                person = browser(live, owner[registration])
                if i % 2 == 0:  # the SMS link's button, pressed twice (two taps, one form)
                    form = person.form(f"/t/{registration}/ok", action="/ok")
                    calls += [lambda p=person, f=form: p.submit(f)] * 2
                else:  # the app
                    session = api(live, owner[registration])
                    calls.append(lambda s=session, r=registration: s.post(
                        f"{live.url}/api/v1/registrations/{r}/accept", timeout=60))
            placed = rows(live, activity_id, "confirmed")
            waiting = rows(live, activity_id, "waitlisted")
            for registration, user_id in placed[:1] + waiting[-1:]:  # one releases a place, one stops waiting
                person = browser(live, by_user[user_id])
                form = person.form(f"/me/registrations/{registration}/cancel", action="/cancel")
                calls.append(lambda p=person, f=form: p.submit(f))
            for mobile in latecomers[:1]:  # late sign-ups go to the back of the line
                person = browser(live, mobile)
                form = person.form(f"/activities/{activity_id}/signup", action="/signup")
                calls.append(lambda p=person, f=form: p.submit(f))
            latecomers = latecomers[1:]
            # Half the offers (at least one) run out while the race is on: the job and the
            # worker's own tap on "accept" meet at the deadline.
            running_out = offers[: max(1, len(offers) // 2)]
            with live.db.engine.begin() as conn:
                conn.execute(text("UPDATE registration SET offer_expires_at = :at WHERE id = :r"),
                             [{"at": utcnow() + timedelta(milliseconds=200), "r": r} for r in running_out])
            time.sleep(0.15)
            statuses = fire(live, f"offers wave {wave}: accept ×{len(offers)} (HTML ×2, API), cancel, sign up, "
                                  "expire-offers", calls)
            assert set(statuses) <= {200, 302, 303, 409}, statuses
            time.sleep(1.5)  # the job passes on what ran out
            print(f"wave {wave}: {check_places(live, activity_id)}")
        # On a loaded machine every tap can beat its deadline; an offer nobody answers must still run
        # out through the job and pass on: leave one unanswered and wait for the job to move it.
        if not expired_offers(live, activity_id):
            offers = open_offers(live, activity_id)
            if not offers:
                registration, user_id = rows(live, activity_id, "confirmed")[0]
                response = api(live, by_user[user_id]).post(
                    f"{live.url}/api/v1/registrations/{registration}/cancel", timeout=60)
                assert response.status_code == 200, response.text[:300]
                offers = open_offers(live, activity_id)
            assert offers, "no offer left to run out"
            with live.db.engine.begin() as conn:
                conn.execute(text("UPDATE registration SET offer_expires_at = :at WHERE id = :r"),
                             {"at": utcnow() - timedelta(seconds=1), "r": offers[0]})
            deadline = time.monotonic() + 60
            while not expired_offers(live, activity_id) and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        code = expirer.stop()
    assert code in (0, -signal.SIGTERM), code
    figures = check_places(live, activity_id)
    assert live.db.scalar("SELECT count(*) FROM registration WHERE activity_id = :a AND offer_expires_at <= :now",
                          a=activity_id, now=utcnow()) == 0, "an offer past its deadline is still open"
    actions = dict(live.db.rows(
        "SELECT l.action, count(*) FROM audit_log l JOIN registration r ON r.id = l.object_id "
        "WHERE l.object_type = 'registration' AND r.activity_id = :a "
        "AND l.action IN ('registration.offer_accept', 'registration.offer_expire', 'registration.offer') "
        "GROUP BY l.action", a=activity_id))
    print(f"offers {live.name} ({live.server.engine}): {actions}, {figures}")
    # The race was real: offers were accepted, and offers ran out and passed on.
    assert actions.get("registration.offer_accept", 0) >= 1, actions
    assert actions.get("registration.offer_expire", 0) >= 1, actions
    assert live.server.errors(log_from) == [], live.server.errors(log_from)[:5]
