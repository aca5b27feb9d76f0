"""axe-core on EVERY GET page of the URL map, for every role, on a phone (360 px) and a desktop (1280 px):
no serious or critical violation (issue 14, defect 12).

The crawl: every GET rule of the URL map, its arguments filled from one world built through the services
(an activity of each kind with registrations, a contest judged and published, a health check with an
assessment, a book swap with donations, feedback, unit quotas, an enrolment option) × anonymous, a worker,
an organiser, an officer and an administrator.  The worker is also the contest's judge and the health
check's medical staff (both are activity-scoped grants of ordinary accounts), so their pages open too.

Each (role, URL) is fetched first with the Flask test client (fast): never a 5xx.  Every HTML page that
answers 200 is then opened in Chromium, one context per role (logged in once), and audited; an error page
(403/404, one template) is audited once.  Routes left out are listed in ``NOT_PAGES`` with the reason.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from flask import g, has_app_context

from tests.browser.conftest import DESKTOP_VIEWPORT, PHONE_VIEWPORT
from tests.browser.pages import log_in
from tests.browser.pages import AXE_JS
from tests.browser.test_accessibility import BAD
from tests.contests.conftest import photo_bytes, upload
from unionevents.accounts.models import Occupation, Role
from unionevents.activities.models import ActivityKind, QuestionKind, SignupMode
from unionevents.activities.services import add_question, add_slots, set_unit_quota
from unionevents.contests import services as contests
from unionevents.contests.models import ContestFormat
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.health import services as health
from unionevents.registrations import enrolment, services as registrations
from unionevents.registrations.services import seating
from unionevents.results import services as results
from unionevents.swaps import services as swaps

#: Tests that judge before the entry deadline close submissions early, as an organiser may (with a reason).
EARLY = "评委日程提前，提前截止投稿"

ROLES = ("anonymous", "worker", "officer", "organiser", "admin")  # least privileged first
#: The wide tables issue 14 names: their scroll wrappers must be focusable, named regions.
WIDE_TABLE_PAGES = {"swaps.ledger", "admin.audit", "contest_manage.round_results"}
WRAPPER_ATTRIBUTES = ("els => els.map(e => [e.getAttribute('tabindex'), e.getAttribute('role'), "
                      "!!e.getAttribute('aria-label')])")
#: Pages audited as every role that opens them (what they show differs by role).
PER_ROLE = {"main.home", "activities.detail"}

#: GET routes that are not HTML pages, so axe has nothing to audit; why each is left out.
NOT_PAGES = {
    "static": "stylesheets, scripts and images",
    "phone.service_worker": "JavaScript (the service worker)",
    "main.healthz": "JSON for the load balancer",
    "metrics": "Prometheus text for the scraper",
    "unions.search": "JSON for the union picker",
    "contests.image": "a photo (image/jpeg)",
    "contests.thumbnail": "a photo (image/jpeg)",
    "contests.recording": "an audio or video file (served in tests/contests/test_entry_flow.py)",
    "accounts.activate": "a redirect to the code login (the address in SMS sent before)",
    "accounts.accept_privacy": "a redirect for the crawl's accounts (they accepted the notice); the page itself is "
                               "the shared form macros, shown in tests/accounts/test_privacy_consent.py",
    "accounts.export_json": "a JSON download",
    "accounts.export_xlsx": "an XLSX download",
    "admin.import_example": "a CSV download",
    "roster.checkin_roster": "JSON for the offline door page",
    "seating.badges_pdf": "a PDF download (name badges)",
    "seating.dashboard_json": "JSON for the live door dashboard's refresh",
    "registrations.calendar": "an .ics download",
    "notifications.short_ticket": "a redirect to the ticket (the short link in SMS)",
    "notifications.short_release": "a redirect to the cancel page (the short link in SMS)",
    "notifications.accept_offer": "a redirect unless an offer is open; the offer page is audited in "
                                  "tests/browser/test_inbox.py",
    "registrations.ticket_picture": "a PNG picture of the ticket",
    "swaps.ledger_export": "an XLSX download",
    "contest_manage.export": "an XLSX download",
    "contests.certificate_pdf": "a PDF download (parsed in tests/contests/test_certificates.py)",
    "contests.certificate_png": "a PNG download (parsed in tests/contests/test_certificates.py)",
    "reports.export": "a CSV/XLSX download",
    "reports.activity_export": "a CSV/XLSX download",
}
NOT_PAGE_PREFIXES = ("api_", "api-docs.")  # the JSON API (tests/*/test_api*.py)


def serious_problems(page) -> list[dict]:
    """axe's serious and critical violations on ``page`` (axe injected by the context's init script)."""
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in BAD]


@dataclass
class CrawlWorld:
    users: dict
    args: dict  # argument name → default value
    by_endpoint: dict = field(default_factory=dict)  # endpoint → {argument: value} overriding ``args``


def build_crawl_world(make) -> CrawlWorld:
    tree = make.tree()
    city, street, shop = tree["北京市总工会"], tree["丰台区玉泉营街道总工会"], "玉泉营商场工会"
    organiser = make.user("赵组织", union=street, role=Role.ORGANISER, scope=city)
    officer = make.user("钱干部", union=city, role=Role.OFFICER, scope=city)
    admin = make.user("孙管理", union=city, role=Role.ADMIN, scope=city)
    worker = make.user("张小花", union=shop, occupation=Occupation.RIDER)
    neighbour = make.user("李师傅", union=shop, occupation=Occupation.COURIER)

    # Activities starting in a few minutes, so their people can be checked in (and rate them) even where
    # check-in opens only shortly before the start (or the slot).
    soon = {"starts_in": timedelta(minutes=10), "signup_closes_at": now() + timedelta(minutes=5)}
    # A class with a question: the worker has a place, attended and rated it.
    course = make.activity("花卉养护课", capacity=30, **soon, venue="职工之家",
                           description="绿萝、吊兰的养护与分株。")
    question = add_question(course, "您的球衣尺码？", QuestionKind.SINGLE_CHOICE, required=True,
                            choices=["M", "L", "XL"])
    db.session.commit()
    course_registration = registrations.register(worker, course.id, answers={str(question.id): "L"})
    registrations.register(neighbour, course.id, answers={str(question.id): "M"})
    registrations.check_in(course_registration.id, organiser)
    results.leave_feedback(worker, course_registration.id, 5, "讲得很清楚")
    # A second class attended but not yet rated: the feedback form.
    second = make.activity("太极拳", capacity=20, **soon)
    second_registration = registrations.check_in(registrations.register(worker, second.id).id, organiser)

    # An upcoming class where the worker holds a place (the cancel page).
    upcoming = make.activity("篮球友谊赛", capacity=20)
    upcoming_registration = registrations.register(worker, upcoming.id)

    # A meeting with unit quotas (the quota page, attendance by unit, enrolment).
    meeting = make.activity("劳模报告会", node=city, kind=ActivityKind.MEETING, capacity=50,
                            mode=SignupMode.QUOTA, **soon)
    set_unit_quota(meeting, street, 20)
    set_unit_quota(meeting, city, 10)  # the organiser's own unit may enrol its members
    db.session.commit()
    registrations.check_in(registrations.register(worker, meeting.id, unit_node_id=street.id).id, organiser)
    seating.save_layout(organiser, meeting.id, 5, 8)  # the seating page and chart, with one seated delegate
    seating.assign_seats(organiser, meeting.id)
    option = enrolment.enrollable_activities(db.session.get(type(organiser), organiser.id))[0]

    # A health check with slots: the worker booked, was checked in and assessed; they are its medical staff.
    checkup = make.activity("送健康·骑手体检", kind=ActivityKind.HEALTH, capacity=0, **soon)
    add_slots(checkup, checkup.starts_at, checkup.starts_at + timedelta(hours=1), 30, 5)
    db.session.commit()
    from unionevents.accounts.services import grant_role

    grant_role(worker, Role.MEDICAL, activity_id=checkup.id, granted_by=admin)
    db.session.commit()
    checkup_registration = registrations.register(worker, checkup.id, slot_id=checkup.slots[0].id,
                                                  health_consent=True)
    registrations.check_in(checkup_registration.id, organiser)
    assessment = health.record_assessment(worker, checkup_registration.id, {
        "systolic": "128", "diastolic": "82", "heart_rate": "72", "height_cm": "172.5", "weight_kg": "68.4",
        "cervical": "mild", "cervical_note": "久坐低头", "lumbar": "normal", "lumbar_note": "",
        "advice": "每天做颈部拉伸。", "follow_up": "y"})

    # A book swap with a rule, stock and donations (the ledger and the union library).
    swap = make.activity("以书换蔬", kind=ActivityKind.SWAP, node=shop, capacity=100)
    swap_registration = registrations.register(worker, swap.id)
    swaps.set_rule(organiser, swap.id, 2, 1, 5)
    swaps.change_stock(organiser, swap.id, delta=30)
    swaps.record_donation(organiser, swap.id, swap_registration.id, 4, "平凡的世界\n活着")
    swaps.record_donation(organiser, swap.id, registrations.register(neighbour, swap.id).id, 2, "围城")

    # A photo contest: the worker entered and is its judge; judged, awarded and published.
    contest_activity = make.activity("职工摄影大赛", kind=ActivityKind.CONTEST, capacity=500,
                                     starts_in=timedelta(days=9), waitlist_enabled=False)
    contest = contests.setup_contest(organiser, contest_activity.id, contests.ContestSettings(
        format=ContestFormat.PHOTO, entry_limit=3, public_vote=True, vote_opens_at=now() - timedelta(hours=1),
        vote_closes_at=now() + timedelta(days=2)))
    contests.add_judge(organiser, contest.id, worker.mobile)
    entry = contests.submit_entry(worker, contest_activity.id, contests.EntryData(
        title="工地的春天", description="清晨的脚手架", consent_publish_name=True), [upload(photo_bytes((64, 48)))])
    other_entry = contests.submit_entry(neighbour, contest_activity.id, contests.EntryData(title="夜班"),
                                        [upload(photo_bytes((64, 48), color=(20, 20, 160)))])
    db.session.expire_all()
    contest = contests.get_contest(contest_activity.id)
    first_round = contest.rounds[0]
    contests.open_round(organiser, contest.id, first_round.id, override_reason=EARLY)
    for scored, mark in ((entry, 9), (other_entry, 7)):
        contests.save_scores(db.session.get(type(worker), worker.id), first_round.id, scored.id,
                             {c.id: mark for c in contest.criteria})
    contests.close_round(organiser, contest.id, first_round.id)
    contests.allocate(organiser, contest.id)
    contests.publish_results(organiser, contest.id)
    db.session.commit()

    users = {"worker": worker, "organiser": organiser, "officer": officer, "admin": admin}
    args = {"activity_id": course.id, "registration_id": course_registration.id, "question_id": question.id,
            "entry_id": entry.id, "round_id": first_round.id, "assessment_id": assessment.id,
            "node_id": db.session.get(type(swap), swap.id).node_id,
            "unit_id": option.unit.id,
            "code": db.session.get(type(entry), entry.id).award.verify_code}
    contest_pages = {"activity_id": contest_activity.id}
    by_endpoint = {
        "health.attendees": {"activity_id": checkup.id},
        "health.assess": {"activity_id": checkup.id, "registration_id": checkup_registration.id},
        "manage.slots": {"activity_id": checkup.id},
        "manage.quotas": {"activity_id": meeting.id},
        "seating.seating_page": {"activity_id": meeting.id},
        "seating.chart": {"activity_id": meeting.id},
        "seating.dashboard": {"activity_id": checkup.id},
        "results.attendance": {"activity_id": meeting.id},
        "results.give_feedback": {"registration_id": second_registration.id},
        "registrations.cancel": {"registration_id": upcoming_registration.id},
        "swaps.desk": {"activity_id": swap.id},
        "swaps.ledger": {"activity_id": swap.id},
        "swaps.donation": {"activity_id": swap.id, "registration_id": swap_registration.id},
        "enrol.enrol": {"activity_id": option.activity.id},
    }
    for endpoint in ("contests.contest", "contests.enter", "contests.results", "contests.gallery",
                     "contest_manage.overview", "contest_manage.awards", "contest_manage.judges",
                     "contest_manage.rounds", "contest_manage.round_results", "contest_manage.publish"):
        by_endpoint[endpoint] = contest_pages
    return CrawlWorld(users=users, args=args, by_endpoint=by_endpoint)


def crawl_urls(app, world: CrawlWorld) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(endpoint, URL) for every GET page, and the routes left out with the reason."""
    urls, left_out = [], {}
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods:
            continue
        if rule.endpoint in NOT_PAGES or rule.endpoint.startswith(NOT_PAGE_PREFIXES):
            left_out[rule.rule] = NOT_PAGES.get(rule.endpoint, "the JSON API")
            continue
        values = {**world.args, **world.by_endpoint.get(rule.endpoint, {})}
        missing = rule.arguments - values.keys()
        assert not missing, f"{rule.rule}: fill {sorted(missing)} (or list it in NOT_PAGES with a reason)"
        urls.append((rule.endpoint, adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments})))
    return urls, left_out


def _status_matrix(app, world: CrawlWorld, urls) -> dict[str, dict[str, tuple[int, str]]]:
    """role → URL → (status, mimetype), over the test client; asserts no 5xx anywhere."""
    matrix: dict[str, dict[str, tuple[int, str]]] = {}
    failures = []
    for role in ROLES:
        client = app.test_client()
        if role != "anonymous":
            with client.session_transaction() as session:
                session["_user_id"] = world.users[role].get_id()
                session["_fresh"] = True
        matrix[role] = {}
        for _endpoint, url in urls:
            if has_app_context():
                g.pop("_login_user", None)  # a test's app context caches the last request's user
            response = client.get(url)
            matrix[role][url] = (response.status_code, response.mimetype)
            if response.status_code >= 500:
                failures.append(f"{role} {url} -> {response.status_code}")
    assert not failures, "5xx in the crawl:\n" + "\n".join(failures)
    return matrix


@pytest.fixture
def crawl_uploads(app, tmp_path):
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = previous


@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, DESKTOP_VIEWPORT], ids=["phone", "desktop"])
def test_every_get_page_of_the_crawl_has_no_serious_violations(app, make, crawl_uploads, new_context,
                                                                viewport):
    world = build_crawl_world(make)
    urls, left_out = crawl_urls(app, world)
    matrix = _status_matrix(app, world, urls)
    found: dict[str, list] = {}
    audited = []
    wide_tables_seen = set()
    # Each page once, as the least-privileged role that opens it (ROLES is in that order); the home page
    # and an activity's page as every role (the menu and the sign-up box differ); one error page.
    plan: dict[str, list[tuple[str, str]]] = {role: [] for role in ROLES}
    for endpoint, url in urls:
        openers = [role for role in ROLES if matrix[role][url] == (200, "text/html")]
        targets = openers if endpoint in PER_ROLE else openers[:1]
        for role in targets:
            plan[role].append((endpoint, url))
    errors = [url for _e, url in urls if matrix["worker"][url][0] in (403, 404)]
    if errors:
        plan["worker"].append(("error-page", errors[0]))
    for role in ROLES:
        if not plan[role]:
            continue
        context = new_context(viewport=viewport, bypass_csp=True)
        context.add_init_script(path=str(AXE_JS))  # axe is in every page from the start: no upload per page
        page = context.new_page()
        if role != "anonymous":
            log_in(page, world.users[role])
        for endpoint, url in plan[role]:
            response = page.goto(url)
            assert response is not None and response.status < 500, f"{role} {url}: {response.status}"
            audited.append(f"{role} {url}")
            if endpoint in WIDE_TABLE_PAGES:
                wrappers = page.eval_on_selector_all(".table-wrap", WRAPPER_ATTRIBUTES)
                assert wrappers and all(w == ["0", "region", True] for w in wrappers), (url, wrappers)
                wide_tables_seen.add(endpoint)
            problems = serious_problems(page)
            if problems:
                found[f"{role} {endpoint} {url}"] = problems
    assert wide_tables_seen == WIDE_TABLE_PAGES
    print(f"audited {len(audited)} pages at {viewport['width']} px; left out: {json.dumps(left_out)}")
    every_page = {endpoint for endpoint, url in urls
                  if any(matrix[r][url] == (200, "text/html") for r in ROLES)}
    never_200 = sorted({endpoint for endpoint, _url in urls} - every_page)
    assert not never_200, f"pages no role could open (fill their data): {never_200}"
    assert not found, "serious/critical violations:\n" + json.dumps(found, ensure_ascii=False, indent=1)


def test_every_wide_table_scrolls_by_keyboard():
    """Each ``.table-wrap`` (a table that may scroll sideways) is a focusable, named region
    (``scroll_region``), so keyboard users can scroll it (axe ``scrollable-region-focusable``)."""
    root = Path(__file__).resolve().parents[2] / "templates"
    bare = []
    for template in root.rglob("*.html"):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r'class="table-wrap"(?!\{\{ scroll_region\()', line):
                bare.append(f"{template.relative_to(root)}:{number}")
    assert not bare, f"use <div class=\"table-wrap\"{{{{ scroll_region(_(label)) }}}}>: {bare}"


def test_the_region_label_is_escaped():
    from unionevents.core.templating import scroll_region

    attributes = str(scroll_region('"><script>alert(1)</script>'))
    assert "<script>" not in attributes and attributes.startswith(' tabindex="0" role="region" aria-label="')
