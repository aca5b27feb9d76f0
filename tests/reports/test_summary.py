"""The summary tables: exact hand-counted figures, and always equal to a recount."""
from __future__ import annotations

import random
from datetime import date, timedelta

from unionevents.accounts.models import Occupation, Role
from unionevents.activities import services as activity_services
from unionevents.activities.models import ActivityKind
from unionevents.core.errors import DomainError
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations import services as engine
from unionevents.reports import queries, services
from unionevents.reports.queries import ReportFilter
from tests.factories import check_in_at_the_door

Q2 = (date(2025, 4, 1), date(2025, 6, 30))


def report(node, kinds=(), span=Q2):
    return queries.dashboard(ReportFilter(node, span[0], span[1], list(kinds)))


def test_district_figures_and_child_breakdown_are_exact(scenario):
    tree = scenario["tree"]
    dash = report(tree["朝阳区总工会"])
    t = dash.totals
    assert (t.activities_held, t.activities_cancelled, t.registrations, t.places, t.attended, t.no_show,
            t.cancelled) == (2, 1, 6, 3, 1, 1, 2)
    assert (t.unique_participants, t.unique_attendees, t.unique_nef, t.nef_registrations) == (2, 1, 2, 3)
    # Rates count activities already started on 2025-05-15: only A2 (one attended, one no-show).
    assert t.attendance_rate == 0.5 and t.no_show_rate == 0.5
    rows = {(row.node.name, row.own): row.figures for row in dash.by_child}
    assert set(rows) == {("朝阳区总工会", True), ("朝阳区奥运村街道总工会", False)}
    own = rows[("朝阳区总工会", True)]
    assert (own.activities_held, own.activities_cancelled, own.registrations, own.cancelled,
            own.unique_participants) == (0, 1, 1, 1, 0)
    street = rows[("朝阳区奥运村街道总工会", False)]
    assert (street.activities_held, street.registrations, street.places, street.attended, street.no_show,
            street.unique_participants, street.unique_nef) == (2, 5, 3, 1, 1, 2, 2)


def test_city_counts_every_district_and_people_once(scenario):
    tree = scenario["tree"]
    dash = report(tree["北京市总工会"])
    assert (dash.totals.activities_held, dash.totals.registrations, dash.totals.places,
            dash.totals.unique_participants) == (3, 7, 4, 3)
    by_child = {row.node.name: row.figures for row in dash.by_child if not row.own}
    assert by_child["朝阳区总工会"].unique_participants == 2
    assert by_child["丰台区总工会"].unique_participants == 1
    assert by_child["丰台区总工会"].registrations == 1
    months = {row.label: row.figures for row in dash.by_month}
    assert list(months) == ["2025-04", "2025-05", "2025-06"]
    assert (months["2025-05"].registrations, months["2025-05"].places, months["2025-05"].attended) == (7, 4, 1)
    assert months["2025-04"].registrations == 0
    assert months["2025-05"].unique_participants is None  # unique counts do not add up over months


def test_kinds_and_ranges_filter(scenario):
    tree = scenario["tree"]
    meetings = report(tree["朝阳区总工会"], kinds=[ActivityKind.MEETING]).totals
    assert (meetings.activities_held, meetings.activities_cancelled, meetings.registrations,
            meetings.unique_participants) == (1, 1, 3, 1)
    early_may = report(tree["朝阳区总工会"], span=(date(2025, 5, 1), date(2025, 5, 10))).totals
    assert (early_may.activities_held, early_may.registrations, early_may.unique_participants) == (1, 2, 1)
    assert report(tree["朝阳区总工会"], span=(date(2025, 7, 1), date(2025, 9, 30))).totals.registrations == 0


def test_workplace_leaf_has_only_its_own_activities(scenario):
    dash = report(scenario["tree"]["奥运村快递驿站联合工会"])
    assert len(dash.by_child) == 1 and dash.by_child[0].own
    assert (dash.totals.registrations, dash.totals.attended, dash.totals.no_show) == (2, 1, 1)


def test_top_activities_by_places(scenario):
    top = report(scenario["tree"]["北京市总工会"]).top
    assert [t.title for t in top] == ["花卉养护课", "劳模报告会", "插花课"]  # the cancelled one is left out
    assert (top[0].places, top[0].registrations, top[1].attended) == (2, 3, 1)


def without_closure(tables):
    return {name: rows for name, rows in tables.items() if name != "closure"}


def test_summary_equals_recount_and_rebuild(scenario):
    assert services.check() == []
    before = services.snapshot()
    services.rebuild()
    assert services.check() == []
    assert without_closure(services.snapshot()) == without_closure(before) == without_closure(services.recount())


def test_moving_an_activity_moves_its_counts(scenario):
    tree, a1 = scenario["tree"], scenario["activities"]["a1"]
    data = activity_services.ActivityData.from_activity(a1)
    data.node_id = tree["丰台区玉泉营街道总工会"].id
    data.starts_at += timedelta(days=40)
    data.ends_at += timedelta(days=40)
    activity_services.update_activity(scenario["organiser"], a1.id, data)
    assert services.check() == []
    assert report(tree["朝阳区总工会"]).totals.registrations == 3
    fengtai = report(tree["丰台区总工会"], span=(date(2025, 4, 1), date(2025, 12, 31))).totals
    assert (fengtai.activities_held, fengtai.registrations, fengtai.unique_participants) == (2, 4, 3)


def test_an_activity_counted_before_the_reports_existed_is_healed(scenario, make):
    from unionevents.reports.models import ReportActivity, ReportDaily, ReportNodeAncestor, ReportReach

    for model in (ReportReach, ReportDaily, ReportActivity, ReportNodeAncestor):
        db.session.query(model).delete()
    db.session.commit()
    a3 = scenario["activities"]["a3"]
    worker = make.user("新职工", union=scenario["tree"]["玉泉营商场工会"], occupation=Occupation.RIDER)
    db.session.expire_all()
    from unionevents.core.timeutil import freeze
    freeze(now() - timedelta(days=14))  # back to when sign-up was open
    engine.register(worker, a3.id)
    recounted = services.recount()
    have = services.snapshot()
    a3_day = have["activity"][a3.id]["day"]
    assert {k: v for k, v in have["daily"].items() if k[1] == a3.node_id} == \
        {k: v for k, v in recounted["daily"].items() if k[1] == a3.node_id and k[0] == a3_day}


def test_random_operations_keep_summary_equal_to_recount(make, frozen_time):
    """Sign-ups, cancellations, approvals, check-ins, no-shows, edits and activity cancellations at random."""
    from tests.reports.conftest import T0

    frozen_time(T0)
    rng = random.Random(20250515)
    tree = make.tree()
    organiser = make.user("组织者", role=Role.ORGANISER, scope=tree["北京市总工会"])
    nodes = [n for n in tree.values()]
    occupations = [Occupation.RIDER, Occupation.COURIER, Occupation.OFFICE_WORKER, Occupation.TEACHER]
    workers = [make.user(f"职工{i}", union=tree["奥运村快递驿站联合工会" if i % 2 else "玉泉营商场工会"],
                         occupation=occupations[i % 4]) for i in range(12)]
    from unionevents.activities.models import SignupMode

    activities = [make.activity(f"活动{i}", node=rng.choice(nodes), kind=rng.choice(list(ActivityKind)[1:]),
                                capacity=rng.randint(1, 4), starts_in=timedelta(days=rng.randint(3, 60)),
                                mode=SignupMode.APPROVAL if i % 3 == 0 else SignupMode.FIRST_COME)
                  for i in range(6)]
    ops = 0
    for _step in range(160):
        action = rng.random()
        activity = rng.choice(activities)
        try:
            if action < 0.45:
                engine.register(rng.choice(workers), activity.id)
            else:
                regs = list(db.session.scalars(db.select(engine.Registration).where(
                    engine.Registration.activity_id == activity.id)))
                if not regs:
                    continue
                reg = rng.choice(regs)
                if action < 0.6:
                    engine.cancel(reg.id, organiser)
                elif action < 0.7:
                    engine.approve(reg.id, organiser)
                elif action < 0.8:
                    check_in_at_the_door(reg.id, organiser)
                elif action < 0.87:
                    engine.mark_no_show(reg.id, organiser)
                elif action < 0.92:
                    engine.undo_check_in(reg.id, organiser)
                elif action < 0.96:
                    data = activity_services.ActivityData.from_activity(activity)
                    data.node_id = rng.choice(nodes).id
                    activity_services.update_activity(organiser, activity.id, data)
                else:
                    activity_services.cancel_activity(organiser, activity.id, "")
            ops += 1
        except DomainError:
            db.session.rollback()
        db.session.expire_all()
    assert ops > 50
    assert services.check() == []
    snapshot = services.snapshot()
    services.rebuild()
    assert without_closure(services.snapshot()) == without_closure(snapshot)


def test_cli_rebuild_and_check(scenario, app):
    runner = app.test_cli_runner()
    rebuilt = runner.invoke(args=["reports", "rebuild"])
    assert rebuilt.exit_code == 0 and "report_reach=" in rebuilt.output
    checked = runner.invoke(args=["reports", "check"])
    assert checked.exit_code == 0 and "agree" in checked.output
    from unionevents.reports.models import ReportDaily

    db.session.query(ReportDaily).update({ReportDaily.attended: ReportDaily.attended + 5})
    db.session.commit()
    broken = runner.invoke(args=["reports", "check"])
    assert broken.exit_code == 1 and "daily" in broken.output and "differences" in broken.output


def test_a_burst_settled_in_the_background_equals_a_recount(scenario, make):
    """A burst of place changes (sign-ups, then cancellations) read by a dashboard while it waits,
    then settled in small batches with more changes landing between the batches: the summary tables
    equal a recount, and a rebuild gives the same rows."""
    from unionevents.reports.models import ReportReach
    from unionevents.reports.services.settle import _settle_batch

    tree, organiser = scenario["tree"], scenario["organiser"]
    places = [make.activity(f"突发{i}", node=node, kind=kind, capacity=40, starts_in=timedelta(days=days))
              for i, (node, kind, days) in enumerate([
                  (tree["玉泉营商场工会"], ActivityKind.CLASS_, 6), (tree["朝阳区奥运村街道总工会"], ActivityKind.MEETING, 12),
                  (tree["丰台区总工会"], ActivityKind.CONTEST, 40)])]
    crowd = [make.user(f"突发职工{i}", union=tree["玉泉营商场工会" if i % 2 else "奥运村快递驿站联合工会"],
                       occupation=Occupation.RIDER if i % 3 else Occupation.TEACHER) for i in range(15)]
    registrations = [engine.register(worker, activity.id).id for worker in crowd for activity in places]

    def pending() -> int:
        return db.session.query(ReportReach).filter(ReportReach.pending == 1).count()

    marked = pending()
    assert marked >= 100
    assert report(tree["北京市总工会"], span=(date(2025, 4, 1), date(2025, 7, 31))).totals.registrations == 7 + 45
    assert pending() == marked  # reading waits for nothing and settles nothing
    settled, changes = 0, iter(registrations[::4])
    while True:
        rows, more = _settle_batch(7)
        settled += rows
        change = next(changes, None)
        if change is not None:  # another change lands between two batches
            engine.cancel(change, organiser)
        if not more and change is None:
            break
    assert settled >= marked
    assert services.settle_reach() >= 0 and pending() == 0
    assert services.check() == []
    settled_tables = without_closure(services.snapshot())
    services.rebuild()
    assert without_closure(services.snapshot()) == settled_tables == without_closure(services.recount())


def test_cli_settle(scenario, app, make):
    tree = scenario["tree"]
    course = make.activity("命令行课", node=tree["玉泉营商场工会"], capacity=5, starts_in=timedelta(days=8))
    engine.register(make.user("命令行职工", union=tree["玉泉营商场工会"]), course.id)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["reports", "settle"])
    assert first.exit_code == 0 and "settled 4 report_reach rows" in first.output
    again = runner.invoke(args=["reports", "settle", "--batch", "2"])
    assert again.exit_code == 0 and "settled 0 report_reach rows" in again.output
    assert runner.invoke(args=["reports", "check"]).exit_code == 0
