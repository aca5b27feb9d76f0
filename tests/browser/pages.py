"""Shared data and helpers for the phone tests: one organiser who is also a worker, an activity with a
question, a registration with a ticket, and the list of main pages every check walks through."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.factories import PASSWORD
from unionevents.accounts.models import Role
from unionevents.accounts.services import grant_role
from unionevents.activities.models import QuestionKind
from unionevents.activities.services import add_question
from unionevents.extensions import db
from unionevents.registrations import services

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"

#: Pages built on other branches, covered once they are merged (endpoint prefixes).
LATER_BLUEPRINTS = ("contests.", "reports.")


@dataclass
class World:
    organiser: object
    worker: object
    activity: object
    other: object
    registration: object
    question: object  # a required question of ``other``, the activity the sign-up form is for


def build_world(make) -> World:
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["北京市总工会"])
    worker = make.user("张小花", union="玉泉营商场工会")
    activity = make.activity("花卉养护课", capacity=30, venue="玉泉营街道职工之家",
                             description="绿萝、吊兰的养护与分株。")
    other = make.activity("篮球友谊赛", capacity=20)
    question = add_question(other, "您的球衣尺码？", QuestionKind.SINGLE_CHOICE, required=True,
                            choices=["M", "L", "XL"])
    db.session.commit()
    registration = services.register(organiser, activity.id)
    # Officer and judge too, so the dashboard and scoring pages (other branches) open once merged.
    grant_role(organiser, Role.OFFICER, node=tree["北京市总工会"])
    grant_role(organiser, Role.JUDGE, activity_id=activity.id)
    db.session.commit()
    return World(organiser, worker, activity, other, registration, question)


def log_in(page, user):
    page.goto("/account/login")
    page.fill("input[name=mobile]", user.mobile)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack-form button[type=submit], form.stack-form input[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def anonymous_pages(world: World) -> list[tuple[str, str]]:
    return [
        ("catalogue", "/activities/"),
        ("detail", f"/activities/{world.activity.id}"),
        ("login", "/account/login"),
        ("account-signup", "/account/signup"),
    ]


def later_pages(app, world: World) -> list[tuple[str, str]]:
    """GET pages of the judge-scoring and officer-dashboard blueprints, when they exist in this app."""
    pages = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(LATER_BLUEPRINTS) or "GET" not in rule.methods:
            continue
        if not rule.arguments <= {"activity_id"} or rule.rule.endswith((".csv", ".xlsx", ".json", ".ics")):
            continue
        pages.append((rule.endpoint.replace(".", "-"),
                      rule.rule.replace("<int:activity_id>", str(world.activity.id))))
    return pages


def signed_in_pages(app, world: World) -> list[tuple[str, str]]:
    a = world.activity.id
    pages = [
        ("signup-form", f"/activities/{world.other.id}/signup"),
        ("my-activities", "/me/registrations"),
        ("ticket", f"/me/registrations/{world.registration.id}"),
        ("organiser-list", "/manage/activities"),
        ("organiser-activity", f"/manage/activities/{a}"),
        ("organiser-edit", f"/manage/activities/{a}/edit"),
        ("roster", f"/manage/activities/{a}/roster"),
        ("checkin", f"/manage/activities/{a}/checkin"),
        ("checkin-search", f"/manage/activities/{a}/checkin?q=%E8%B5%B5"),
        ("walk-in", f"/manage/activities/{a}/walk-in"),
    ]
    return pages


def door_open_now() -> dict:
    """``make.activity(**door_open_now())``: an activity starting in an hour, with sign-up open for half
    an hour more, so check-in (open 2 h before the start) is open now by the browser's clock and the
    server's alike (the offline door page sends the phone's time with each check-in)."""
    from datetime import timedelta

    from unionevents.core.timeutil import now

    return {"starts_in": timedelta(hours=1), "signup_closes_at": now() + timedelta(minutes=30)}
