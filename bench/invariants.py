"""R4 under real concurrency: 10,000 random operations from 8 threads, the invariants checked throughout.

The Hypothesis state machine (tests/hardening/test_registration_invariants.py) explores operation
orders one at a time; this driver runs the same services from 8 threads at once against a real
database file (SQLite, WAL) or a PostgreSQL database, each thread in its own app context and session:

* two first-come activities with small capacities (one plain, one with two time slots) and
  40 workers, so places run out, waiting lists form and promotions race with cancellations;
* operations, drawn with a seeded RNG per thread: register (with or without a slot), cancel by the
  worker or the organiser, promote, fill free places, change the capacity (0..6), check in (the
  door's override: the activities are days away), undo a check-in, mark a no-show, accept an offer
  from the waiting list, and the expiry job (``expire_offers``, its clock now or hours/days on, so
  offers run out and pass on while others are being accepted);
* a monitor thread takes a consistent snapshot every 0.5 s (REPEATABLE READ on PostgreSQL, one read
  transaction on SQLite's WAL) and checks: ``taken`` equals the registrations holding a place, for
  the activity and for each slot; ``taken <= capacity``; nobody holds two live registrations of an
  activity; waiting-list positions are 1..n; an offer is only on a confirmed registration; and once
  more after the last operation.

Then the same with offers **over real HTTP** (bench/invariants_http.py; ``--http-ops 0`` skips it):
gunicorn serves the product, client threads sign up, cancel and accept offers through the API while
two expiry jobs loop beside them, and the monitor checks the same invariants.

Refusals the rules give (full, not eligible, illegal transition, cut-off) are expected and counted;
anything else — an exception that is not a domain refusal, including ``Busy`` — is an error.
Target: 0 invariant violations, 0 errors.  Contest scoring is not among the operations (it touches
no place counter; its own rules are tested in tests/contests).

    python -m bench invariants [-- --ops 10000 --threads 8 --seed 1 --http-ops 2000 --http-threads 8]
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python -m bench invariants
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from .common import account_password, bench_app, database_url, engine_label, machine_line

WORKERS = 40
OPERATIONS = ("register", "register", "register", "cancel", "cancel", "promote", "fill", "capacity",
              "check_in", "undo_check_in", "no_show", "accept", "accept", "expire")


def prepare(url: str, secret_key: str):
    from unionevents.accounts.models import Role
    from unionevents.accounts.services import create_user, grant_role
    from unionevents.activities.models import ActivityKind, SignupMode
    from unionevents.activities.services import add_slots, create_activity
    from unionevents.core.timeutil import now
    from unionevents.extensions import db
    from unionevents.unions.models import NodeLevel
    from unionevents.unions.services import create_node

    app = bench_app(url, secret_key)
    with app.app_context():
        db.create_all()
        city = create_node("不变量市总工会", NodeLevel.CITY)
        unit = create_node("不变量快递联合工会", NodeLevel.WORKPLACE, city, "朝阳区")
        # Through the account services (an account is active once it has a password; nobody logs in).
        password = account_password()
        organiser = create_user("13700000000", "组织者", password, union=unit, accept_privacy=True)
        grant_role(organiser, Role.ORGANISER, node=city)
        workers = [create_user(f"1370000{i:04d}", f"职工{i}", password, union=unit, accept_privacy=True)
                   for i in range(1, WORKERS + 1)]
        starts = now() + timedelta(days=7)
        common = dict(kind=ActivityKind.CLASS_, node=unit, starts_at=starts, ends_at=starts + timedelta(hours=2),
                      signup_opens_at=now() - timedelta(hours=1), signup_closes_at=starts - timedelta(hours=2),
                      mode=SignupMode.FIRST_COME, waitlist_enabled=True, publish=True)
        plain = create_activity(title="不变量：小班课", capacity=3, **common)
        slotted = create_activity(title="不变量：分时段体检", capacity=6, **common)
        add_slots(slotted, starts, starts + timedelta(hours=1), 30, 2)
        db.session.commit()
        fixture = {"organiser": organiser.id, "workers": [w.id for w in workers],
                   "activities": [plain.id, slotted.id], "slots": [s.id for s in slotted.slots]}
    return app, fixture


def run_operations(app, fixture, ops: int, seed: int, counts: Counter, errors: list, lock: threading.Lock):
    from sqlalchemy import select

    from unionevents.accounts.models import User
    from unionevents.activities.models import Activity
    from unionevents.activities.services import ActivityData, update_activity
    from unionevents.core.db import write_transaction
    from unionevents.core.errors import DomainError
    from unionevents.core.timeutil import now
    from unionevents.extensions import db
    from unionevents.registrations import services
    from unionevents.registrations.models import Registration, RegistrationState as S

    rng = random.Random(seed)
    live_states = [S.PENDING, S.CONFIRMED, S.WAITLISTED]

    def pick_offer():
        ids = list(db.session.scalars(select(Registration.id).where(
            Registration.activity_id.in_(fixture["activities"]), Registration.offer_expires_at.is_not(None))))
        return rng.choice(ids) if ids else None

    def pick(states=None):
        stmt = select(Registration.id).where(Registration.activity_id.in_(fixture["activities"]))
        if states:
            stmt = stmt.where(Registration.state.in_(states))
        ids = list(db.session.scalars(stmt))
        return rng.choice(ids) if ids else None

    with app.app_context(), app.test_request_context():
        organiser = db.session.get(User, fixture["organiser"])
        for _ in range(ops):
            op = rng.choice(OPERATIONS)
            try:
                if op == "register":
                    which = rng.randrange(2)
                    worker = db.session.get(User, rng.choice(fixture["workers"]))
                    slot_id = rng.choice(fixture["slots"]) if which == 1 else None
                    services.register(worker, fixture["activities"][which], slot_id=slot_id)
                elif op == "cancel":
                    registration_id = pick(live_states)
                    if registration_id is None:
                        op = "cancel (none live)"
                    else:
                        registration = db.session.get(Registration, registration_id)
                        actor = registration.user if rng.random() < 0.7 else organiser
                        services.cancel(registration_id, actor)
                elif op == "promote":
                    registration_id = pick([S.WAITLISTED])
                    if registration_id is None:
                        op = "promote (none waiting)"
                    else:
                        services.promote(registration_id, organiser)
                elif op == "fill":
                    with write_transaction():
                        services.fill_free_places(rng.choice(fixture["activities"]), organiser.id)
                elif op == "accept":  # the worker takes the place offered from the waiting list
                    registration_id = pick_offer()
                    if registration_id is None:
                        op = "accept (no offer)"
                    else:
                        registration = db.session.get(Registration, registration_id)
                        services.accept_offer(registration_id, registration.user)
                elif op == "expire":  # the timer's job, its clock at, past or before the deadlines
                    passed = services.expire_offers(at=now() + timedelta(hours=rng.choice([0, 0, 1, 24, 96])))
                    with lock:
                        counts[("offers passed on", "ok")] += passed
                elif op == "capacity":
                    activity = db.session.get(Activity, fixture["activities"][0])
                    data = replace(ActivityData.from_activity(activity), capacity=rng.randint(0, 6))
                    update_activity(organiser, activity.id, data)
                else:
                    registration_id = pick()
                    if registration_id is None:
                        op += " (none)"
                    else:
                        if op == "check_in":  # days before the start: the door's override, with its reason
                            services.check_in(registration_id, organiser, override_reason="压测：提前入场")
                        else:
                            action = {"undo_check_in": services.undo_check_in, "no_show": services.mark_no_show}[op]
                            action(registration_id, organiser)
                outcome = "ok"
            except DomainError as refusal:
                db.session.rollback()
                outcome = f"refused ({type(refusal).__name__})"
            except Exception as error:  # anything else is a failure of the engine
                db.session.rollback()
                outcome = "ERROR"
                with lock:
                    errors.append(f"{op}: {error!r}\n{traceback.format_exc(limit=4)}")
            finally:
                db.session.remove()  # a fresh session per operation, as per request
                organiser = db.session.get(User, fixture["organiser"])
            with lock:
                counts[(op, outcome)] += 1


def check_invariants(app, fixture) -> list[str]:
    """The invariants in one consistent snapshot; the list of violations (empty when they hold)."""
    from sqlalchemy import func, select

    from unionevents.activities.models import Activity, TimeSlot
    from unionevents.core.db import is_sqlite
    from unionevents.extensions import db
    from unionevents.registrations import services
    from unionevents.registrations.models import Registration, RegistrationState as S

    problems = []
    with app.app_context():
        if not is_sqlite():
            db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            for activity_id in fixture["activities"]:
                activity = db.session.get(Activity, activity_id)
                holding = db.session.scalar(select(func.count()).where(
                    Registration.activity_id == activity_id, Registration.holds_place))
                if activity.taken != holding:
                    problems.append(f"activity {activity_id}: taken {activity.taken} != {holding} holding a place")
                if activity.taken > activity.capacity:
                    problems.append(f"activity {activity_id}: taken {activity.taken} > capacity {activity.capacity}")
                doubles = db.session.execute(
                    select(Registration.user_id, func.count()).where(
                        Registration.activity_id == activity_id, Registration.is_live)
                    .group_by(Registration.user_id).having(func.count() > 1)).all()
                if doubles:
                    problems.append(f"activity {activity_id}: two live registrations for {doubles}")
                stray = db.session.scalar(select(func.count()).where(
                    Registration.activity_id == activity_id, Registration.offer_expires_at.is_not(None),
                    Registration.state != S.CONFIRMED))
                if stray:
                    problems.append(f"activity {activity_id}: {stray} offers on registrations not confirmed")
                for slot_id in fixture["slots"] if activity_id in fixture["activities"][1:] else [None]:
                    waiting = list(db.session.scalars(select(Registration).where(
                        Registration.activity_id == activity_id, Registration.state == S.WAITLISTED,
                        Registration.slot_id.is_(None) if slot_id is None else Registration.slot_id == slot_id)))
                    positions = sorted(services.waitlist_position(r) for r in waiting)
                    if positions != list(range(1, len(waiting) + 1)):
                        problems.append(f"activity {activity_id} slot {slot_id}: positions {positions}")
            for slot_id in fixture["slots"]:
                slot = db.session.get(TimeSlot, slot_id)
                holding = db.session.scalar(select(func.count()).where(
                    Registration.slot_id == slot_id, Registration.holds_place))
                if slot.taken != holding or slot.taken > slot.capacity:
                    problems.append(f"slot {slot_id}: taken {slot.taken}, holding {holding}, capacity {slot.capacity}")
        finally:
            db.session.rollback()
            db.session.remove()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.invariants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a PostgreSQL server URL (default: $DATABASE_URL; a SQLite file when unset)")
    parser.add_argument("--ops", type=int, default=10_000, help="operations in all (default 10,000)")
    parser.add_argument("--threads", type=int, default=8, help="threads (default 8)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--http-ops", type=int, default=2000,
                        help="then offers over real HTTP: this many API requests (default 2,000; 0 skips it)")
    parser.add_argument("--http-threads", type=int, default=8, help="client threads of the HTTP part (default 8)")
    opts, _unknown = parser.parse_known_args(argv)
    seed = opts.seed if opts.seed is not None else secrets.randbelow(10**6)

    tmp = Path(tempfile.mkdtemp(prefix="bench_invariants_"))
    try:
        url = database_url(opts.database_url, tmp, "invariants")
        app, fixture = prepare(url, secrets.token_urlsafe(32))
        print(f"engine {engine_label(url)}; {opts.ops} operations from {opts.threads} threads; seed {seed}; "
              f"{machine_line()}", flush=True)
        counts: Counter = Counter()
        errors: list[str] = []
        violations: list[str] = []
        lock = threading.Lock()
        per_thread = opts.ops // opts.threads
        threads = [threading.Thread(target=run_operations,
                                    args=(app, fixture, per_thread + (i < opts.ops % opts.threads), seed + i,
                                          counts, errors, lock))
                   for i in range(opts.threads)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        snapshots = 0
        while any(thread.is_alive() for thread in threads):
            time.sleep(0.5)
            violations += check_invariants(app, fixture)
            snapshots += 1
        for thread in threads:
            thread.join()
        violations += check_invariants(app, fixture)
        snapshots += 1
        elapsed = time.perf_counter() - started

        done = sum(n for (op, _outcome), n in counts.items() if op != "offers passed on")
        by_op: Counter = Counter()
        for (op, outcome), n in counts.items():
            by_op[(op.split(" ")[0], "ok" if outcome == "ok" else "refused" if outcome.startswith("refused")
                   else "error")] += n
        print(f"{done} operations in {elapsed:.1f} s ({done / elapsed:.0f}/s); {snapshots} snapshots checked")
        for op in sorted({op for op, _ in by_op}):
            print(f"  {op:14} ok {by_op[(op, 'ok')]:5}  refused {by_op[(op, 'refused')]:5}  "
                  f"error {by_op[(op, 'error')]}")
        refusals: Counter = Counter()
        for (_op, outcome), n in counts.items():
            if outcome.startswith("refused"):
                refusals[outcome[len("refused ("):-1]] += n
        print("  refusals: " + ", ".join(f"{name} {n}" for name, n in refusals.most_common()))
        print(f"invariant violations {len(violations)}; errors {len(errors)}")
        for line in (violations + errors)[:10]:
            print("  " + line.replace("\n", "\n  "))
        # A run where some operation never succeeds (say, the organiser lost their scope) would check
        # the invariants against far less than it claims.
        idle = [op for op in ("register", "cancel", "promote", "fill", "capacity", "check_in", "accept",
                              "offers") if not by_op[(op, "ok")]]
        ok = not violations and not errors and done == opts.ops and not idle
        if idle:
            print(f"MISSED: these operations never succeeded: {', '.join(idle)}")
        if violations or errors:
            print("MISSED: R4 target is 0 violations and 0 errors")
        if opts.http_ops:
            from . import invariants_http

            http_url = database_url(opts.database_url, tmp, "invariants_http")
            ok = invariants_http.run(http_url, secrets.token_urlsafe(32), tmp, opts.http_ops, opts.http_threads,
                                     seed) and ok
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
