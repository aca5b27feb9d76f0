"""Unique workers reached: report_reach_span (and report_reach for several kinds) against a count
straight from the registrations, for every union, ragged and whole-month ranges and kind filters."""
from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from unionevents.accounts.models import NEW_EMPLOYMENT_FORM, Occupation, Role, User
from unionevents.activities import services as activity_services
from unionevents.activities.models import Activity, ActivityKind, SignupMode
from unionevents.core.errors import DomainError
from unionevents.extensions import db
from unionevents.registrations import services as engine
from unionevents.registrations.models import PLACE_STATES, Registration, RegistrationState as S
from unionevents.reports import queries, rules, services
from unionevents.reports.models import ReportReach
from unionevents.reports.queries import ReportFilter, Unique
from unionevents.reports.services import local_day
from unionevents.unions.models import UnionNode

from .conftest import T0
from tests.factories import check_in_at_the_door

D = date
Q2 = (D(2025, 4, 1), D(2025, 6, 30))
RANGES = [
    (D(2025, 5, 1), D(2025, 7, 31)),     # whole months
    (D(2025, 5, 14), D(2025, 8, 9)),     # ragged at both ends
    (D(2025, 6, 1), D(2025, 6, 17)),     # from a first of the month, within it
    (D(2025, 6, 10), D(2025, 6, 30)),    # to a month's end
    (D(2025, 6, 20), D(2025, 7, 12)),    # two ragged months, none whole
    (D(2025, 11, 20), D(2026, 2, 10)),   # across the new year, ragged
    (D(2025, 12, 1), D(2026, 1, 31)),    # across the new year, whole months
    (D(2025, 1, 1), D(2026, 12, 31)),    # two calendar years
    (D(2025, 9, 2), D(2025, 9, 2)),      # one day
]
KIND_FILTERS = [[], [ActivityKind.CLASS_], [ActivityKind.MEETING],
                [ActivityKind.CLASS_, ActivityKind.MEETING], list(ActivityKind)]
#: Every choice of two to four kinds (read from the kind sets' MONTH rows and report_reach's ragged days).
KIND_SETS = [list(kinds) for size in (2, 3, 4) for kinds in itertools.combinations(list(ActivityKind), size)]


def places_taken() -> list:
    """Every registration holding a place, with its activity's union, start and kind and the worker's occupation."""
    return db.session.execute(
        select(Registration.user_id, Registration.state, Activity.node_id, Activity.starts_at, Activity.kind,
               User.occupation).join(Activity, Activity.id == Registration.activity_id)
        .join(User, User.id == Registration.user_id)
        .where(Registration.state.in_(PLACE_STATES))).all()


class Places:
    """The places held and the union tree, read once (two statements) for many counts: a comparison
    costs a pass over the places in Python, not a read of the registrations and the tree per
    (union, range, kinds)."""

    def __init__(self):
        self.paths = {n.id: n.path for n in db.session.scalars(select(UnionNode))}
        self.children = {node_id: [] for node_id in self.paths}
        for n in db.session.scalars(select(UnionNode).where(UnionNode.parent_id.is_not(None))):
            self.children[n.parent_id].append(n.id)
        #: (worker, attended, union, day, kind, new employment form) of every place held
        self.rows = [(user_id, S(state) == S.ATTENDED, node_id, local_day(starts_at), ActivityKind(kind),
                      Occupation(occupation) in NEW_EMPLOYMENT_FORM)
                     for user_id, state, node_id, starts_at, kind, occupation in places_taken()]
        self._under: dict[int, list] = {}

    def under(self, node_id: int) -> list:
        """The places in the node's subtree, each with the node and children (ids) whose subtree holds
        it, and whether it is the node's own activity."""
        if node_id not in self._under:
            tops = [node_id, *self.children[node_id]]
            self._under[node_id] = [
                (row, [top for top in tops if path.startswith(self.paths[top])], row[2] == node_id)
                for row in self.rows for path in [self.paths[row[2]]] if path.startswith(self.paths[node_id])]
        return self._under[node_id]


def counted_from_registrations(node: UnionNode, first: date, last: date, kinds: list,
                               places: Places | None = None) -> tuple[dict, Unique]:
    """Unique participants, attendees and nef participants of the node and each child, and of the
    node's own activities, straight from registrations, activities, the tree and occupations."""
    places = places or Places()
    people: dict[int, tuple[set, set, set]] = {
        node_id: (set(), set(), set()) for node_id in [node.id, *places.children[node.id]]}
    own = (set(), set(), set())
    for (user_id, attended, _node_id, day, kind, nef), tops, is_own in places.under(node.id):
        if not first <= day <= last or (kinds and kind not in kinds):
            continue
        groups = [people[top] for top in tops]
        if is_own:
            groups.append(own)
        for participants, attendees, nefs in groups:
            participants.add(user_id)
            if attended:
                attendees.add(user_id)
            if nef:
                nefs.add(user_id)

    def unique(sets):
        return Unique(len(sets[0]), len(sets[1]), len(sets[2]))

    return {node_id: unique(sets) for node_id, sets in people.items()}, unique(own)


def random_world(make, frozen_time, seed: int, steps: int = 320):
    """Activities over ten months (across a new year) at every level, and a few workers who come back
    often: sign-ups, cancellations, approvals, check-ins, no-shows, undone check-ins, activities moved
    to another union and day, and cancelled activities — all through the services."""
    frozen_time(T0)
    rng = random.Random(seed)
    tree = make.tree()
    organiser = make.user("组织者", role=Role.ORGANISER, scope=tree["北京市总工会"])
    nodes = list(tree.values())
    occupations = [Occupation.RIDER, Occupation.COURIER, Occupation.OFFICE_WORKER, Occupation.TEACHER]
    workers = [make.user(f"职工{i}", union=tree["奥运村快递驿站联合工会" if i % 2 else "玉泉营商场工会"],
                         occupation=occupations[i % 4]) for i in range(10)]
    activities = [make.activity(f"活动{i}", node=rng.choice(nodes), kind=rng.choice(list(ActivityKind)[1:]),
                                capacity=rng.randint(2, 6), starts_in=timedelta(days=rng.randint(3, 300)),
                                mode=SignupMode.APPROVAL if i % 5 == 0 else SignupMode.FIRST_COME)
                  for i in range(18)]
    for _step in range(steps):
        action, activity = rng.random(), rng.choice(activities)
        try:
            if action < 0.5:
                engine.register(rng.choice(workers), activity.id)
                continue
            regs = list(db.session.scalars(
                select(Registration).where(Registration.activity_id == activity.id)))
            if not regs:
                continue
            reg = rng.choice(regs)
            if action < 0.6:
                engine.cancel(reg.id, organiser)
            elif action < 0.66:
                engine.approve(reg.id, organiser)
            elif action < 0.82:
                check_in_at_the_door(reg.id, organiser)
            elif action < 0.87:
                engine.mark_no_show(reg.id, organiser)
            elif action < 0.92:
                engine.undo_check_in(reg.id, organiser)
            elif action < 0.98:
                data = activity_services.ActivityData.from_activity(activity)
                data.node_id = rng.choice(nodes).id
                shift = timedelta(days=rng.randint(-40, 40))
                data.starts_at += shift
                data.ends_at += shift
                data.signup_closes_at += shift
                activity_services.update_activity(organiser, activity.id, data)
            else:
                activity_services.cancel_activity(organiser, activity.id, "")
        except DomainError:
            db.session.rollback()
        db.session.expire_all()
    return tree


@pytest.mark.parametrize("seed", [1, 2])
def test_unique_workers_equal_a_count_from_the_registrations(make, frozen_time, seed):
    tree = random_world(make, frozen_time, seed)
    assert pending()  # the hook marked rows; the timer's settle carries them over
    services.settle_reach()
    attended = db.session.scalar(select(func.count()).select_from(Registration)
                                 .where(Registration.state == S.ATTENDED))
    assert attended, "the world should have attendances to count"
    compared, places = 0, Places()
    for node in tree.values():
        child_ids = list(db.session.scalars(select(UnionNode.id).where(UnionNode.parent_id == node.id)))
        for first, last in RANGES:
            for kinds in KIND_FILTERS:
                have = queries.unique_workers(ReportFilter(node, first, last, kinds), child_ids)
                want = counted_from_registrations(node, first, last, kinds, places)
                assert have == want, (node.name, first, last, kinds)
                compared += bool(want[0][node.id].participants)
    assert compared > 50  # most of the comparisons had somebody to count
    assert services.check() == []


#: Ranges for every kind set: ragged ends of every size (added and taken away), whole months, one day,
#: no whole month inside, a range starting on a month's first day, across a new year.
SET_RANGES = RANGES + [
    (D(2025, 5, 2), D(2025, 7, 30)),     # one day short at both ends: widened, those days taken away
    (D(2025, 5, 28), D(2025, 8, 3)),     # a few days past whole months at both ends: those days added
    (D(2025, 7, 1), D(2025, 7, 16)),     # the first half of a month
    (D(2025, 7, 16), D(2025, 7, 31)),    # the second half
    (D(2025, 6, 29), D(2025, 7, 2)),     # four days across a month's end
    (D(2025, 12, 15), D(2026, 1, 14)),   # a month's length, no whole month, across the new year
]


def compare_every_kind_set(tree, ranges) -> int:
    places = Places()
    compared = 0
    for node in tree.values():
        child_ids = list(db.session.scalars(select(UnionNode.id).where(UnionNode.parent_id == node.id)))
        for first, last in ranges:
            for kinds in KIND_SETS:
                have = queries.unique_workers(ReportFilter(node, first, last, kinds), child_ids)
                want = counted_from_registrations(node, first, last, kinds, places)
                assert have == want, (node.name, first, last, [kind.value for kind in kinds])
                compared += bool(want[0][node.id].participants)
    return compared


def boundary_days(ranges) -> list[date]:
    """Every day at or just outside an end of a range, of its ragged day ranges and of its whole months."""
    days = set()
    for first, last in ranges:
        split = rules.split_months(first, last)
        months = [split.core_days] if split.core else []
        for low, high in [(first, last), *split.add, *split.remove, *months]:
            days |= {low - timedelta(days=1), low, high, high + timedelta(days=1)}
    return sorted(days)


def newcomers_on_boundary_days(make, frozen_time, tree, ranges) -> None:
    """On each of ``boundary_days`` an activity (each kind in turn, health too, which ``random_world``
    never picks, at each union in turn) and a newcomer reached on that day and the next boundary day
    only (every other one attended on the first).  The random world's workers come back often, so a
    day read one too many or too few at a range's end rarely changes its counts; a newcomer's does:
    the two days straddle the boundary, so in the range they are reached on one day only (a
    ragged day), and their other day decides whether a place on a ragged day was already counted in
    the whole months (days added) or in the range (days taken away)."""
    organiser = make.user("边界组织者", role=Role.ORGANISER, scope=tree["北京市总工会"])
    nodes, kinds = list(tree.values()), list(ActivityKind)
    occupations = [Occupation.RIDER, Occupation.OFFICE_WORKER, Occupation.COURIER]
    newcomer = None
    for i, day in enumerate(boundary_days(ranges)):
        start = datetime.combine(day, T0.time())  # T0's time of day: the activity counts on ``day``
        frozen_time(start - timedelta(days=3))
        activity = make.activity(f"边界{day}", node=nodes[i % len(nodes)], kind=kinds[i % len(kinds)],
                                 starts_in=timedelta(days=3))
        slot_id = None
        if activity.kind == ActivityKind.HEALTH:  # a health service is booked by time slot, with consent
            slot_id = activity_services.add_slot(organiser, activity.id, start, start + timedelta(hours=1),
                                                 capacity=5).id
        if newcomer is not None:  # the previous day's newcomer, back on this one
            engine.register(newcomer, activity.id, slot_id=slot_id, health_consent=slot_id is not None)
        newcomer = make.user(f"边界职工{i}", union=tree["玉泉营商场工会"], occupation=occupations[i % 3])
        registration = engine.register(newcomer, activity.id, slot_id=slot_id,
                                       health_consent=slot_id is not None)
        if i % 2:
            frozen_time(start)
            engine.check_in(registration.id, organiser)
    frozen_time(T0)
    db.session.expire_all()


def test_every_kind_set_equals_a_count_from_the_registrations(make, frozen_time):
    """Every choice of two, three and four kinds, for every union and ragged range: after the hook and
    settling, and again after ``rebuild`` (the kind sets' MONTH rows built in SQL)."""
    tree = random_world(make, frozen_time, 3)
    newcomers_on_boundary_days(make, frozen_time, tree, SET_RANGES)
    services.settle_reach()
    assert compare_every_kind_set(tree, SET_RANGES) > 200
    assert services.check() == []
    settled = services.snapshot()
    services.rebuild()
    rebuilt = services.snapshot()
    assert {k: v for k, v in rebuilt.items() if k != "closure"} == \
        {k: v for k, v in settled.items() if k != "closure"}
    assert compare_every_kind_set(tree, SET_RANGES[:3]) > 20


def test_the_hook_marks_and_settle_carries_over_never_the_dashboard(scenario, make):
    """A sign-up only marks the worker's report_reach rows; the dashboard reads the span rows as they
    are and says how current they are; ``settle_reach`` (the timer) carries the marked rows over."""
    tree, organiser = scenario["tree"], scenario["organiser"]
    fengtai = tree["丰台区总工会"]
    dash = queries.dashboard(ReportFilter(fengtai, *Q2))
    assert dash.totals.unique_participants == 1  # W3 in A3
    assert dash.freshness.waiting is False and dash.freshness.settled_at is not None
    assert services.settle_reach() == 0  # the fixture's settle carried everything over
    course = make.activity("新课", node=tree["玉泉营商场工会"], capacity=5, starts_in=timedelta(days=10))
    newcomer = make.user("新骑手", union=tree["玉泉营商场工会"], occupation=Occupation.RIDER)
    spans_before = services.snapshot()["span"]
    registration = engine.register(newcomer, course.id)
    assert pending() == 4  # the workplace, its street, its district and the city
    dash = queries.dashboard(ReportFilter(fengtai, *Q2))
    assert dash.totals.registrations == 2  # the additive figures are counted in the sign-up's transaction
    assert dash.totals.unique_participants == 1  # the unique counts wait for the settle …
    assert dash.freshness.waiting is True  # … and the dashboard says so
    assert pending() == 4 and services.snapshot()["span"] == spans_before  # the dashboard wrote nothing
    assert services.settle_reach() == 4
    totals = queries.dashboard(ReportFilter(fengtai, *Q2)).totals
    assert (totals.unique_participants, totals.unique_attendees, totals.unique_nef) == (2, 0, 1)
    check_in_at_the_door(registration.id, organiser)
    services.settle_reach()
    assert queries.dashboard(ReportFilter(fengtai, *Q2)).totals.unique_attendees == 1
    engine.undo_check_in(registration.id, organiser)
    engine.cancel(registration.id, organiser)
    services.settle_reach()
    totals = queries.dashboard(ReportFilter(fengtai, *Q2)).totals
    assert (totals.unique_participants, totals.unique_attendees, totals.unique_nef) == (1, 0, 0)
    assert services.check() == []


def test_settle_works_in_batches_until_nothing_is_marked(scenario, make):
    """A backlog bigger than a batch is settled in several short transactions, and agrees with a recount."""
    tree = scenario["tree"]
    course = make.activity("大课", node=tree["玉泉营商场工会"], capacity=20, starts_in=timedelta(days=10))
    for i in range(5):
        engine.register(make.user(f"批量{i}", union=tree["玉泉营商场工会"]), course.id)
    assert pending() == 20  # five workers at four levels
    assert services.settle_reach(batch=3) == 20
    assert pending() == 0
    assert services.check() == []


def test_a_worker_reached_twice_in_a_range_counts_once(scenario, make):
    """R1 holds places in A1 (05-25) and A2 (05-10, attended): one participant in May."""
    tree = scenario["tree"]
    city = tree["北京市总工会"]
    may = queries.dashboard(ReportFilter(city, D(2025, 5, 1), D(2025, 5, 31))).totals
    assert (may.unique_participants, may.unique_attendees, may.unique_nef) == (3, 1, 2)  # R1, R2, W3
    early = queries.dashboard(ReportFilter(city, D(2025, 5, 1), D(2025, 5, 12))).totals
    assert (early.unique_participants, early.unique_attendees) == (2, 1)  # W3 (05-06), R1 (05-10)
    late = queries.dashboard(ReportFilter(city, D(2025, 5, 11), D(2025, 6, 30))).totals
    assert (late.unique_participants, late.unique_attendees) == (2, 0)  # R1 and R2 in A1 (05-25)
    course = make.activity("插花课二", node=tree["丰台区玉泉营街道总工会"], capacity=5, starts_in=timedelta(days=5))
    engine.register(scenario["users"]["r1"], course.id)  # R1 again on 05-20, in another district
    services.settle_reach()
    may = queries.dashboard(ReportFilter(city, D(2025, 5, 1), D(2025, 5, 31)))
    assert may.totals.unique_participants == 3
    by_child = {row.node.name: row.figures.unique_participants for row in may.by_child if not row.own}
    assert by_child == {"朝阳区总工会": 2, "丰台区总工会": 2}  # R1 counts in both districts
    assert services.check() == []


def pending() -> int:
    return db.session.scalar(select(func.count()).select_from(ReportReach).where(ReportReach.pending == 1))


@pytest.mark.concurrency
def test_settling_while_workers_sign_up_and_cancel(app, make, frozen_time):
    """Settles racing sign-ups, cancellations and check-ins: the span rows still equal a recount
    (PostgreSQL: rows being changed are skipped and left marked; SQLite: one writer at a time)."""
    from tests.registrations.test_concurrency import run_together

    tree = make.tree()
    organiser = make.user("组织者", role=Role.ORGANISER, scope=tree["北京市总工会"])
    workers = [make.user(f"职工{i}", union=tree["玉泉营商场工会"], occupation=Occupation.RIDER) for i in range(8)]
    activities = [make.activity(f"活动{i}", node=node, capacity=20, starts_in=timedelta(days=3 + 5 * i))
                  for i, node in enumerate([tree["玉泉营商场工会"], tree["丰台区总工会"], tree["朝阳区总工会"]])]
    regs = [engine.register(worker, activities[0].id).id for worker in workers]
    frozen_time(activities[0].starts_at - timedelta(hours=1))  # the first one's check-in is open
    # plain ids: the threads must not touch this session's objects
    worker_ids, organiser_id = [w.id for w in workers], organiser.id
    later_ids = [a.id for a in activities[1:]]

    def signer(user_id):
        def job():
            for activity_id in later_ids:
                engine.register(db.session.get(User, user_id), activity_id)
            return True
        return job

    def churner(registration_id):
        def job():
            actor = db.session.get(User, organiser_id)
            engine.check_in(registration_id, actor)
            engine.undo_check_in(registration_id, actor)
            engine.cancel(registration_id, actor)
            return True
        return job

    def settler():
        for _ in range(15):
            services.settle_reach()
        return True

    jobs = [signer(uid) for uid in worker_ids] + [churner(rid) for rid in regs] + [settler, settler]
    results, errors = run_together(app, jobs)
    assert not errors, errors
    assert services.check() == []
    totals = queries.dashboard(ReportFilter(tree["北京市总工会"], D(2025, 1, 1), D(2026, 12, 31))).totals
    assert (totals.unique_participants, totals.unique_attendees) == (8, 0)
