"""A small hand-counted world for the report tests (see ``scenario``)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from unionevents.accounts.models import Occupation, Role
from unionevents.activities import services as activity_services
from unionevents.activities.models import ActivityKind
from unionevents.extensions import db
from unionevents.registrations import services as engine
from unionevents.reports.services import settle_reach

#: Everything is created at T0 and acted on at T1 (naive UTC; Beijing time is 8 hours ahead).
T0 = datetime(2025, 5, 1, 2, 0)
T1 = datetime(2025, 5, 15, 2, 0)


@pytest.fixture
def scenario(make, frozen_time):
    """Activities and registrations built through the services, counted by hand:

    * A1 class, 朝阳区奥运村街道总工会, 2025-05-25, 2 places: rider R1 and office W1 confirmed, courier R2
      waiting; W1 cancels so R2 is promoted.  → 3 registrations, 2 places, 1 cancelled.
    * A2 meeting, 奥运村快递驿站联合工会 (below 奥运村), 2025-05-10: R1 attends, W1 does not come.
      → 2 registrations, 1 attended, 1 no-show.
    * A3 class, 丰台区玉泉营街道总工会, 2025-05-06: office W3 confirmed.
    * A4 meeting, 朝阳区总工会 itself, 2025-05-21: office W2 confirmed, then the organiser cancels
      the whole activity.  → 1 registration cancelled, 1 activity cancelled.
    """
    frozen_time(T0)
    tree = make.tree()
    organiser = make.user("组织者", role=Role.ORGANISER, scope=tree["北京市总工会"])
    r1 = make.user("骑手一", union=tree["奥运村快递驿站联合工会"], occupation=Occupation.RIDER)
    r2 = make.user("快递员二", union=tree["奥运村快递驿站联合工会"], occupation=Occupation.COURIER)
    w1 = make.user("职工一", union=tree["奥运村快递驿站联合工会"], occupation=Occupation.OFFICE_WORKER)
    w2 = make.user("职工二", union=tree["奥运村快递驿站联合工会"], occupation=Occupation.OFFICE_WORKER)
    w3 = make.user("职工三", union=tree["玉泉营商场工会"], occupation=Occupation.OFFICE_WORKER)
    a1 = make.activity("花卉养护课", node=tree["朝阳区奥运村街道总工会"], kind=ActivityKind.CLASS_,
                       capacity=2, starts_in=timedelta(days=24))
    a2 = make.activity("劳模报告会", node=tree["奥运村快递驿站联合工会"], kind=ActivityKind.MEETING,
                       capacity=50, starts_in=timedelta(days=9))
    a3 = make.activity("插花课", node=tree["丰台区玉泉营街道总工会"], kind=ActivityKind.CLASS_,
                       capacity=20, starts_in=timedelta(days=5))
    a4 = make.activity("座谈会", node=tree["朝阳区总工会"], kind=ActivityKind.MEETING,
                       capacity=20, starts_in=timedelta(days=20))
    reg = {}
    reg["a1_r1"] = engine.register(r1, a1.id)
    reg["a1_w1"] = engine.register(w1, a1.id)
    reg["a1_r2"] = engine.register(r2, a1.id)
    reg["a2_r1"] = engine.register(r1, a2.id)
    reg["a2_w1"] = engine.register(w1, a2.id)
    reg["a3_w3"] = engine.register(w3, a3.id)
    reg["a4_w2"] = engine.register(w2, a4.id)
    frozen_time(T1)
    engine.cancel(reg["a1_w1"].id, w1)
    engine.check_in(reg["a2_r1"].id, organiser, after_the_end=True)  # from the sign-in sheet, after the meeting
    engine.mark_no_show(reg["a2_w1"].id, organiser)
    activity_services.cancel_activity(organiser, a4.id, "")
    settle_reach()  # as the timer does (`flask reports settle`): report pages never settle
    db.session.expire_all()
    return {"tree": tree, "organiser": organiser, "activities": {"a1": a1, "a2": a2, "a3": a3, "a4": a4},
            "users": {"r1": r1, "r2": r2, "w1": w1, "w2": w2, "w3": w3}, "registrations": reg}


@pytest.fixture
def officer(make):
    """``officer(scope_name)``: a user holding the officer role over that union."""
    def _officer(scope="朝阳区总工会", name="干部"):
        tree = make.tree()
        return make.user(name, union=tree["奥运村快递驿站联合工会"], role=Role.OFFICER, scope=tree[scope])
    return _officer
