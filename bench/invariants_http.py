"""The invariants with waiting-list offers over real HTTP (the second part of ``python -m bench invariants``).

gunicorn serves the product (2 sync workers) on a database of its own; one first-come activity with
4 places and a waiting list, 40 workers with API tokens.  Client threads draw, with a seeded RNG:

* sign up (``POST /api/v1/activities/<id>/registrations``) — a random worker;
* cancel (``POST /api/v1/registrations/<id>/cancel``) — a live registration, by its owner (an offer
  declined, a place released, a worker leaving the queue);
* accept (``POST /api/v1/registrations/<id>/accept``) — an open offer, by its owner;

while two expiry jobs (``expire_offers``, as ``flask notifications expire-offers`` runs it on two
machines) loop beside them, each run with its clock now, a little or well past the offers'
deadlines, so offers run out while their owners are accepting them (``EXPIRY_CLOCKS``).  A monitor checks a consistent
snapshot every 0.5 s and once at the end (``invariants.check_invariants``): ``taken`` equals the
registrations holding a place, ``taken <= capacity`` (confirmed ≤ capacity), nobody holds two live
registrations (no place held twice), waiting-list positions 1..n, and an offer only ever on a
confirmed registration.  A 5xx or a failed request is an error; 409/422 are the rules refusing.
"""
from __future__ import annotations

import argparse
import random
import threading
import time
import traceback
from collections import Counter
from datetime import timedelta
from pathlib import Path

import requests

from .common import HOST, Server, bench_app, product_env, raw_tokens, seed_signup_activity

WORKERS = 40
CAPACITY = 4
OPERATIONS = ("signup", "signup", "cancel", "accept", "accept")
#: The expiry jobs' clocks: mostly now (nothing due: offers live on), sometimes past the default
#: 12-hour deadline (every open offer runs out at once), each job running every 0.3 s.
EXPIRY_CLOCKS = (timedelta(0), timedelta(0), timedelta(0), timedelta(hours=1), timedelta(hours=13),
                 timedelta(days=3))
EXPIRY_EVERY = 0.3


class Offers:
    """Shared state of one run: the app (for look-ups and the expiry jobs), tokens by user id, tallies."""

    def __init__(self, app, activity_id: int, tokens: dict[int, str]):
        self.app, self.activity_id, self.tokens = app, activity_id, tokens
        self.counts: Counter = Counter()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.running = True
        self.port = 0

    def tally(self, key, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def error(self, line: str) -> None:
        with self.lock:
            self.errors.append(line)


def _ids(offers: Offers, *where) -> list[tuple[int, int]]:
    from sqlalchemy import select

    from unionevents.extensions import db
    from unionevents.registrations.models import Registration

    with offers.app.app_context():
        try:
            return [tuple(row) for row in db.session.execute(
                select(Registration.id, Registration.user_id).where(
                    Registration.activity_id == offers.activity_id, *where))]
        finally:
            db.session.remove()


def client(offers: Offers, ops: int, seed: int) -> None:
    from unionevents.registrations.models import Registration, RegistrationState as S

    rng = random.Random(seed)
    http = requests.Session()
    users = sorted(offers.tokens)
    for _ in range(ops):
        op = rng.choice(OPERATIONS)
        try:
            if op == "signup":
                user_id = rng.choice(users)
                path = f"/api/v1/activities/{offers.activity_id}/registrations"
            else:
                where = ([Registration.offer_expires_at.is_not(None)] if op == "accept"
                         else [Registration.state.in_([S.PENDING, S.CONFIRMED, S.WAITLISTED])])
                found = _ids(offers, *where)
                if not found:
                    offers.tally((op + " (none)", "skipped"))
                    continue
                registration_id, user_id = rng.choice(found)
                path = f"/api/v1/registrations/{registration_id}/{op}"
            response = http.post(f"http://{HOST}:{offers.port}{path}", json={}, timeout=60,
                                 headers={"Authorization": "Bearer " + offers.tokens[user_id]})
            status = response.status_code
            outcome = "ok" if status < 300 else "refused" if status in (409, 422) else "error"
            if outcome == "error":
                offers.error(f"{op} {path}: HTTP {status} {response.text[:200]}")
        except Exception as error:  # a failed request is a failure of the server
            outcome = "error"
            offers.error(f"{op}: {error!r}")
        offers.tally((op, outcome))


def expiry_job(offers: Offers, seed: int) -> None:
    from unionevents.core.timeutil import now
    from unionevents.extensions import db
    from unionevents.registrations.services import expire_offers

    rng = random.Random(seed)
    with offers.app.app_context():
        while offers.running:
            try:
                passed = expire_offers(at=now() + rng.choice(EXPIRY_CLOCKS))
                offers.tally(("expire", "ok"))
                offers.tally(("offers passed on", "ok"), passed)
            except Exception as error:
                db.session.rollback()
                offers.tally(("expire", "error"))
                offers.error(f"expire_offers: {error!r}\n{traceback.format_exc(limit=4)}")
            finally:
                db.session.remove()
            time.sleep(EXPIRY_EVERY)


def run(url: str, secret_key: str, tmp: Path, ops: int, threads: int, seed: int) -> bool:
    """One run; prints its figures; True when there were no violations, no errors and every operation
    (sign-up, cancel, accept, an offer passed on) happened at least once."""
    from unionevents.accounts.models import User
    from unionevents.extensions import db

    from .invariants import check_invariants

    tokens = raw_tokens(WORKERS)
    app = bench_app(url, secret_key)
    activity_id = seed_signup_activity(url, tokens, CAPACITY, False, secret_key, app=app)
    with app.app_context():
        ids = list(db.session.scalars(db.select(User.id).where(User.password_hash == "!").order_by(User.id)))
        db.session.remove()
    offers = Offers(app, activity_id, dict(zip(ids, tokens)))
    fixture = {"activities": [activity_id], "slots": []}
    options = argparse.Namespace(gunicorn_workers=2, worker_class="sync", threads=1)
    violations: list[str] = []
    with Server("offers", "unionevents:create_app()", product_env(url, secret_key), tmp / "offers-http.log",
                options) as server:
        offers.port = server.port
        clients = [threading.Thread(target=client, args=(offers, ops // threads + (i < ops % threads), seed + i))
                   for i in range(threads)]
        jobs = [threading.Thread(target=expiry_job, args=(offers, seed + 100 + i)) for i in range(2)]
        started = time.perf_counter()
        for thread in clients + jobs:
            thread.start()
        snapshots = 0
        while any(thread.is_alive() for thread in clients):
            time.sleep(0.5)
            violations += check_invariants(app, fixture)
            snapshots += 1
        offers.running = False
        for thread in clients + jobs:
            thread.join()
        elapsed = time.perf_counter() - started
    violations += check_invariants(app, fixture)
    snapshots += 1

    requests_done = sum(n for (op, _o), n in offers.counts.items() if op in ("signup", "cancel", "accept"))
    print(f"offers over HTTP: {requests_done} requests from {threads} clients + 2 expiry jobs in {elapsed:.1f} s "
          f"({requests_done / elapsed:.0f}/s); {snapshots} snapshots checked")
    for op in ("signup", "cancel", "accept", "expire"):
        print(f"  {op:8} ok {offers.counts[(op, 'ok')]:5}  refused {offers.counts[(op, 'refused')]:5}  "
              f"error {offers.counts[(op, 'error')]}")
    passed_on = offers.counts[("offers passed on", "ok")]
    print(f"  offers passed on by the jobs: {passed_on}; nothing to cancel/accept: "
          f"{offers.counts[('cancel (none)', 'skipped')]}/{offers.counts[('accept (none)', 'skipped')]}")
    print(f"offers over HTTP: invariant violations {len(violations)}; errors {len(offers.errors)}")
    for line in (violations + offers.errors)[:10]:
        print("  " + line.replace("\n", "\n  "))
    idle = [op for op in ("signup", "cancel", "accept") if not offers.counts[(op, "ok")]] + (
        [] if passed_on else ["offers passed on"])
    if idle:
        print(f"MISSED: these never happened over HTTP: {', '.join(idle)}")
    with app.app_context():
        db.engine.dispose()
    return not violations and not offers.errors and not idle
