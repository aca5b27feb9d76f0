"""Test data built through the services, the way the application builds it."""
from __future__ import annotations

import itertools
from datetime import timedelta

from unionevents.accounts.models import Occupation, Role, User
from unionevents.accounts.services import create_user, find_by_mobile, grant_role
from unionevents.activities.models import Activity, ActivityKind, SignupMode
from unionevents.activities.services import create_activity
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.unions.models import NodeLevel, UnionNode
from unionevents.unions.services import create_node, find_by_name

PASSWORD = "secret123"
_mobiles = itertools.count(1)


class Factories:
    """Small builders returning committed objects; names read like the domain."""

    def node(self, name: str, level: NodeLevel = NodeLevel.WORKPLACE, parent: UnionNode | None = None,
             district: str | None = None) -> UnionNode:
        node = create_node(name, level, parent, district)
        db.session.commit()
        return node

    def tree(self) -> dict[str, UnionNode]:
        """A small hierarchy: city → two districts → streets → workplaces."""
        if find_by_name("北京市总工会"):
            return {n.name: n for n in db.session.query(UnionNode)}
        city = create_node("北京市总工会", NodeLevel.CITY)
        chaoyang = create_node("朝阳区总工会", NodeLevel.DISTRICT, city, "朝阳区")
        fengtai = create_node("丰台区总工会", NodeLevel.DISTRICT, city, "丰台区")
        aoyuncun = create_node("朝阳区奥运村街道总工会", NodeLevel.STREET, chaoyang)
        yuquanying = create_node("丰台区玉泉营街道总工会", NodeLevel.STREET, fengtai)
        create_node("奥运村快递驿站联合工会", NodeLevel.WORKPLACE, aoyuncun)
        create_node("玉泉营商场工会", NodeLevel.WORKPLACE, yuquanying)
        db.session.commit()
        return {n.name: n for n in db.session.query(UnionNode)}

    def user(self, name: str = "职工", *, mobile: str | None = None, union: UnionNode | str | None = None,
             occupation: Occupation = Occupation.OTHER, password: str | None = PASSWORD,
             role: Role | None = None, scope: UnionNode | str | None = None,
             activity: Activity | None = None) -> User:
        if isinstance(union, str):
            union = find_by_name(union)
        if mobile is None:
            # The counter runs on through a worker's whole session, so it can reach a number a test
            # spells out (13900001111): skip any number already registered.
            mobile = f"139{next(_mobiles):08d}"
            while find_by_mobile(mobile) is not None:
                mobile = f"139{next(_mobiles):08d}"
        user = create_user(mobile, name, password, union=union, occupation=occupation, accept_privacy=True)
        if role is not None:
            if isinstance(scope, str):
                scope = find_by_name(scope)
            grant_role(user, role, node=scope, activity_id=activity.id if activity else None)
        db.session.commit()
        return user

    def activity(self, title: str = "花卉养护课", *, node: UnionNode | str | None = None,
                 kind: ActivityKind = ActivityKind.CLASS_, capacity: int = 10,
                 mode: SignupMode = SignupMode.FIRST_COME, starts_in: timedelta = timedelta(days=10),
                 publish: bool = True, **fields) -> Activity:
        if node is None:
            node = self.tree()["丰台区玉泉营街道总工会"]
        elif isinstance(node, str):
            node = find_by_name(node)
        starts_at = now() + starts_in
        fields.setdefault("signup_opens_at", now() - timedelta(days=1))
        fields.setdefault("signup_closes_at", starts_at - timedelta(hours=2))
        activity = create_activity(title=title, kind=kind, node=node, starts_at=starts_at,
                                   ends_at=starts_at + timedelta(hours=2), capacity=capacity, mode=mode,
                                   publish=publish, **fields)
        db.session.commit()
        return activity


def check_in_at_the_door(registration_id: int, actor: User | None):
    """Check a registration in as the door does on the day: the clock is put at the start of the
    activity (or of the ticket's time slot), inside the check-in window, for the check-in only; the
    test's own clock (real or frozen) comes back afterwards."""
    from unionevents.core import timeutil
    from unionevents.registrations import services
    from unionevents.registrations.models import Registration

    registration = db.session.get(Registration, registration_id)
    start = registration.slot.starts_at if registration.slot is not None else registration.activity.starts_at
    saved = timeutil._frozen
    timeutil.freeze(start)
    try:
        return services.check_in(registration_id, actor)
    finally:
        timeutil.freeze(saved)


def last_sms_code(mobile: str) -> str | None:
    """The code in the newest code SMS queued for ``mobile`` (to its account or to the number itself), as
    the worker reads it on the phone; None when none was queued."""
    import re

    from sqlalchemy import or_, select

    from unionevents.core.outbox import OutboxMessage

    db.session.commit()  # end this session's read snapshot (SQLite): the app wrote since
    owner = select(User.id).where(User.mobile == mobile).scalar_subquery()
    body = db.session.scalar(
        select(OutboxMessage.body).where(OutboxMessage.kind.like("code.%"),
                                         or_(OutboxMessage.address == mobile, OutboxMessage.user_id == owner))
        .order_by(OutboxMessage.id.desc()).limit(1))
    if body is None:
        return None
    return re.search(r"\b(\d{6})\b", body).group(1)


def send_sms_code(client, page: str, mobile: str, **fields) -> str | None:
    """Press "Send code" on ``page`` (a form with the mobile number) and read the SMS: the code."""
    response = client.post(page, data={"mobile": mobile, "send": "y", **fields})
    assert response.status_code == 200, response.status_code
    from unionevents.accounts.services import normalise_mobile

    return last_sms_code(normalise_mobile(mobile))
