"""The crawl: every route of the URL map × every demo role (and anonymous) against the real server.

Every GET route is requested as each identity of ``world.ROLES`` with its URL arguments filled from real
ids of the demo world (``ROUTES``); every POST form found on those pages is then filled and submitted
the way a browser would (CSRF token included); every file download is fetched and parsed.  Nothing may
answer 5xx.  A route missing from ``ROUTES`` / ``POST_ONLY`` fails ``test_every_route_is_classified``:
a new route is crawled from the day it exists.
"""
from __future__ import annotations

import csv
import io
import json
import warnings
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from .client import Browser, parse_page
from .world import (ADMIN, ORGANISER_AOYUNCUN, ORGANISER_INDUSTRY, ORGANISER_JIANGONG, ORGANISER_TONGZHOU,
                    ORGANISER_YUQUANYING, RIDER,
                    ROLES, TEACHER, TECHNICIAN)

pytestmark = pytest.mark.xdist_group("live-gunicorn")

ALL_ACTIVITIES = ("health", "class", "swap", "photo", "songs", "meeting", "exchange", "created")
DOOR = ("class", "health", "created")  # the organiser pages that differ by kind: class, slots, a near start


def _each(name, keys):
    return lambda ids: [{name: ids[key]} for key in keys]


# GET routes: endpoint -> ids -> the URL arguments to crawl it with (one dict per URL).
ROUTES = {
    "main.home": None, "main.healthz": None, "phone.service_worker": None, "unions.search": None,
    "static": lambda ids: [{"filename": "css/app.css"}, {"filename": "js/checkin-offline.js"}],
    "api-docs.openapi_json": None, "api-docs.openapi_swagger_ui": None, "metrics": None,
    "accounts.activate": None, "accounts.delete_account": None, "accounts.login": None,
    "accounts.code_login": None, "accounts.reset_password": None, "accounts.accept_privacy": None,
    "accounts.change_password": None, "accounts.privacy": None, "accounts.profile": None,
    "accounts.signup": None, "accounts.export_json": None, "accounts.export_xlsx": None,
    "activities.catalogue": None,
    "activities.detail": _each("activity_id", ALL_ACTIVITIES),
    "registrations.signup": _each("activity_id", ("class", "health", "swap", "meeting", "created")),
    "registrations.my_registrations": None,
    "registrations.detail": _each("registration_id", ("rider_class", "rider_health", "courier_class", "builder_swap")),
    "registrations.calendar": _each("registration_id", ("rider_class", "rider_health")),
    "registrations.ticket_picture": _each("registration_id", ("rider_class",)),
    "registrations.cancel": _each("registration_id", ("rider_class", "builder_swap")),
    "admin.audit": None, "admin.users": None, "admin.import_users": None, "admin.import_example": None,
    "api_activities.ActivityList": None,
    "api_activities.ActivityDetail": _each("activity_id", DOOR),
    "api_checkin.ScannerRoster": _each("activity_id", DOOR),
    "api_organiser.SeatingChart": _each("activity_id", ("meeting",)),
    "api_organiser.DoorDashboard": _each("activity_id", DOOR + ("meeting",)),
    "api_activities.ActivitySeriesView": _each("activity_id", ("class", "meeting")),
    "api_accounts.Me": None, "api_registrations.MyRegistrations": None,
    "api_registrations.RegistrationDetail": _each("registration_id", ("rider_class", "builder_swap")),
    "api_reports.Summary": None,
    "api_contests.MyEntries": None,
    "api_contests.MyEntry": _each("entry_id", ("photo_entry", "song_entry")),
    "contests.contest": _each("activity_id", ("photo", "songs")),
    "contests.enter": _each("activity_id", ("photo", "songs")),
    "contests.results": _each("activity_id", ("photo", "songs")),
    "contests.gallery": _each("activity_id", ("photo", "songs")),
    "contests.image": _each("image_id", ("image",)),
    "contests.thumbnail": _each("image_id", ("image",)),
    # The demo's song entry carries no recording: crawled all the same (a 404, never a 500).
    "contests.recording": _each("entry_id", ("song_entry",)),
    "contests.judge_home": None,
    "contests.judge_round": _each("round_id", ("photo_round",)),
    "contests.judge_entry": lambda ids: [{"round_id": ids["photo_round"], "entry_id": ids["photo_entry"]}],
    "contests.my_entries": None,
    "contests.entry": _each("entry_id", ("photo_entry", "song_entry")),
    "contests.edit_entry": _each("entry_id", ("photo_entry", "song_entry")),
    "contests.certificate": _each("entry_id", ("photo_entry", "song_entry")),
    "contests.certificate_pdf": _each("entry_id", ("photo_entry", "song_entry")),
    "contests.certificate_png": _each("entry_id", ("photo_entry", "song_entry")),
    "contests.check_certificate": lambda ids: [{"code": ids["song_certificate"]}],
    "manage.activities": None, "manage.new_activity": None,
    "manage.activity": _each("activity_id", ALL_ACTIVITIES),
    "manage.edit_activity": _each("activity_id", DOOR),
    "manage.copy_activity": _each("activity_id", ("class",)),
    "manage.cancel_activity": _each("activity_id", ("created",)),
    "manage.questions": _each("activity_id", ("class",)),
    "manage.edit_question": lambda ids: [{"activity_id": ids["class"], "question_id": ids["class_question"]}],
    "manage.quotas": _each("activity_id", ("meeting",)),
    "manage.slots": _each("activity_id", ("health",)),
    "results.attendance": _each("activity_id", DOOR),
    "results.feedback": _each("activity_id", DOOR),
    "results.my_feedback": None,
    "results.give_feedback": _each("registration_id", ("rider_created",)),
    "roster.roster": _each("activity_id", ALL_ACTIVITIES),
    "roster.checkin": lambda ids: [{"activity_id": ids[key], **q} for key in DOOR for q in ({}, {"q": "王骑手"})],
    "roster.checkin_roster": _each("activity_id", DOOR),
    "roster.message": _each("activity_id", ("class",)),
    "roster.sign_in_sheet": _each("activity_id", DOOR),
    "roster.walk_in": _each("activity_id", DOOR),
    "series.manage_series": _each("activity_id", ("class", "meeting")),
    "series.cancel_series": _each("activity_id", ("class",)),
    "seating.seating_page": _each("activity_id", ("meeting",)),
    "seating.chart": _each("activity_id", ("meeting",)),
    "seating.badges_pdf": _each("activity_id", ("meeting",)),
    "seating.dashboard": _each("activity_id", DOOR + ("meeting",)),
    "seating.dashboard_json": _each("activity_id", DOOR),
    "notifications.activity_messages": _each("activity_id", DOOR),
    "notifications.outbox": None,
    "notifications.inbox": lambda ids: [{}, {"page": 2}],
    "notifications.reminders": _each("activity_id", DOOR),
    "notifications.short_ticket": _each("registration_id", ("rider_class",)),
    "notifications.short_release": _each("registration_id", ("rider_class",)),
    "notifications.accept_offer": _each("registration_id", ("rider_class",)),
    "api_notifications.MyMessages": lambda ids: [{}, {"page": 2, "per_page": 5}],
    "contest_manage.overview": _each("activity_id", ("photo", "songs")),
    "contest_manage.awards": _each("activity_id", ("photo",)),
    "contest_manage.publish": _each("activity_id", ("photo", "songs")),
    "contest_manage.export": _each("activity_id", ("photo",)),
    "contest_manage.judges": _each("activity_id", ("photo",)),
    "contest_manage.rounds": _each("activity_id", ("photo", "songs")),
    "contest_manage.round_results": lambda ids: [{"activity_id": ids["photo"], "round_id": ids["photo_round"]}],
    "swaps.desk": _each("activity_id", ("swap",)),
    "swaps.ledger": _each("activity_id", ("swap",)),
    "swaps.ledger_export": _each("activity_id", ("swap",)),
    "swaps.donation": lambda ids: [{"activity_id": ids["swap"], "registration_id": ids["builder_swap"]}],
    "swaps.library": None,
    "swaps.library_node": _each("node_id", ("swap_node",)),
    "enrol.index": None,
    "enrol.enrol": lambda ids: [{"activity_id": ids["meeting"], "unit_id": ids["meeting_unit"]}],
    "health.mine": None,
    # The world has an assessment only where the health check's door is open today (see world.py); else
    # the page is still crawled, with an id that answers 404.
    "health.my_assessment": lambda ids: [{"assessment_id": ids["assessment"] or 1}],
    "health.medical_home": None,
    "health.attendees": _each("activity_id", ("health",)),
    "health.assess": lambda ids: [{"activity_id": ids["health"], "registration_id": ids["rider_health"]}],
    "reports.dashboard": None,
    "union_admin.index": lambda ids: [{}, {"q": "工会"}],
    # Not with ?target_q=: the move and merge buttons it shows would rebuild the demo tree mid-crawl.
    "union_admin.node": _each("node_id", ("union_root", "union_district")),
    "api_unions.UnionList": lambda ids: [{}, {"q": "街道"}, {"parent": ids["union_root"]}],
    "reports.activity": _each("activity_id", DOOR),
    "reports.activity_export": lambda ids: [{"activity_id": ids["class"], "fmt": f} for f in ("csv", "xlsx")],
    "reports.export": lambda ids: [{"fmt": f} for f in ("csv", "xlsx")],
}

# Routes that take POST only: reached by submitting the forms the crawl finds (or by the API tests).
POST_ONLY = {
    "accounts.logout": "not submitted: it would end the crawl's session (the world logs out nobody)",
    "accounts.create_token": "profile page form", "accounts.revoke_token": "profile page form",
    "admin.grant": "admin users page form",
    "admin.revoke": "not submitted: would take the demo roles the other live tests use",
    "api_activities.ActivityCreateView": "test_concurrency (API)",
    "api_registrations.ActivityRegistrations": "test_concurrency (API sign-up)",
    "api_registrations.CancelRegistration": "test_concurrency (API cancel)",
    "api_checkin.CheckIns": "test_concurrency (API check-in)",
    "api_accounts.Tokens": "test_concurrency (tokens); test_sms_login (tokens by code)",
    "api_accounts.SmsCodes": "test_sms_login (202 for known and unknown numbers)",
    "contests.vote": "gallery form", "contests.withdraw": "entry page form",
    "main.set_language": "every page's language form",
    "manage.publish": "manage page form", "manage.unpublish": "manage page form",
    "manage.add_question": "questions page form", "manage.delete_question": "questions page form",
    "manage.move_question": "questions page form", "manage.save_quota": "quotas page form",
    "manage.delete_quota": "quotas page form", "manage.add_slot": "slots page form",
    "manage.delete_slot": "slots page form", "manage.generate_slots": "slots page form",
    "notifications.retry": "messages page form (shown for a failed message only: tests/notifications)",
    "api_notifications.MarkRead": "tests/notifications/test_inbox.py (API read mark)",
    "api_registrations.AcceptOffer": "tests/registrations/test_offers.py (API accept)",
    "api_contests.ContestEntries": "tests/contests/test_entry_flow.py (API entry)",
    "roster.check_in": "door page form", "roster.undo_check_in": "door page form",
    "roster.checkin_sync": "door page JavaScript (JSON body): test_concurrency.test_door_page_offline_sync",
    "roster.check_in_ticket": "door page ticket form",
    "roster.checkin_scan": "door page JavaScript (JSON body): tests/browser/test_door_kit.py",
    "api_checkin.CheckInUndo": "tests/registrations/test_door_kit.py (API undo)",
    "seating.assign": "seating page form",
    "series.signup_series": "activity page form of a series (tests/activities/test_series.py; the world has none)",
    "roster.bulk": "roster page form",
    "roster.export": "roster page form (test_downloads)", "roster.mark_no_shows": "roster page form",
    "roster.draw": "activity page form, shown for an undrawn lottery after sign-up closes (tests/registrations/test_fair_draw.py)",
    "contest_manage.allocate": "awards page form", "contest_manage.set_award": "awards page form",
    "contest_manage.delete_tier": "awards page form", "contest_manage.delete_criterion": "rounds page form",
    "contest_manage.assign": "judges page form", "contest_manage.remove_judge": "judges page form",
    "contest_manage.unpublish": "awards page form",
    "contest_manage.close_round": "rounds page form", "contest_manage.delete_round": "rounds page form",
    "contest_manage.open_round": "rounds page form",
    "swaps.save_rule": "desk form", "swaps.save_stock": "desk form",
    "enrol.upload": "enrol page form",
    "union_admin.add_child": "union page form", "union_admin.rename": "union page form",
    "union_admin.retire": "union page form (the crawled unions have member unions: refused)",
    "union_admin.move": "tests/live/test_unions.py", "union_admin.merge": "tests/live/test_unions.py",
}

# Forms the crawl finds but does not submit, and why (every other form found is submitted).
NOT_SUBMITTED = {
    "accounts.logout": "ends the session the rest of the role's forms need",
    "accounts.delete_account": "deletes a demo account (the world deletes an account of its own)",
    "admin.revoke": "takes a demo role away from the accounts every live test logs in as",
    "accounts.change_password": "changes a demo password (the form is exercised by tests/accounts)",
    "series.manage_series": "would add a series of dates to the shared demo world (tests/activities/test_series.py)",
    "series.cancel_series": "would cancel the demo series (tests/activities/test_series_cancel.py)",
}
# Forms submitted only on the activity the world created (they end or empty an activity).
ONLY_ON_CREATED = {"manage.cancel_activity", "manage.unpublish", "roster.mark_no_shows", "roster.bulk"}

# Downloads: (endpoint, who, URL arguments) -> the expected Content-Type and how to parse the body.
DOWNLOADS = [
    ("accounts.export_json", RIDER, None, "application/json"),
    ("accounts.export_xlsx", RIDER, None, "xlsx"),
    ("registrations.calendar", RIDER, ("registration_id", "rider_class"), "text/calendar"),
    ("registrations.ticket_picture", RIDER, ("registration_id", "rider_class"), "image/"),
    ("admin.import_example", ADMIN, None, "text/csv"),
    ("swaps.ledger_export", ORGANISER_JIANGONG, ("activity_id", "swap"), "xlsx"),
    ("contest_manage.export", ORGANISER_INDUSTRY, ("activity_id", "photo"), "xlsx"),
    ("reports.export", ADMIN, ("fmt", "csv"), "text/csv"),
    ("reports.export", ADMIN, ("fmt", "xlsx"), "xlsx"),
    ("reports.activity_export", ADMIN, ("fmt", "csv"), "text/csv"),
    ("reports.activity_export", ADMIN, ("fmt", "xlsx"), "xlsx"),
    ("contests.image", TECHNICIAN, ("image_id", "image"), "image/"),
    ("contests.thumbnail", TECHNICIAN, ("image_id", "image"), "image/"),
    ("roster.sign_in_sheet", ORGANISER_YUQUANYING, ("activity_id", "class"), "text/html"),
    ("roster.checkin_roster", ORGANISER_YUQUANYING, ("activity_id", "class"), "application/json"),
    ("seating.dashboard_json", ORGANISER_YUQUANYING, ("activity_id", "class"), "application/json"),
    ("seating.badges_pdf", ORGANISER_TONGZHOU, ("activity_id", "meeting"), "pdf"),
    ("api-docs.openapi_json", None, None, "application/json"),
    ("metrics", None, None, "prometheus"),
    # The award winner's certificate (an HTML page to print): the world publishes the song contest's results.
    ("contests.certificate", TEACHER, ("entry_id", "song_entry"), "certificate"),
    ("contests.certificate_pdf", TEACHER, ("entry_id", "song_entry"), "pdf"),
    ("contests.certificate_png", TEACHER, ("entry_id", "song_entry"), "image/"),
    # The public check page the certificate's QR code opens (a page, listed here for its "certificate" path).
    ("contests.check_certificate", None, None, "text/html"),
]  # the roster's own CSV and XLSX (a POST): test_roster_export_downloads_for_every_kind
# Downloads the demo data cannot produce, and why.
DOWNLOADS_UNREACHABLE: dict[str, str] = {}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CRAWL_STATS: dict = {}


@pytest.fixture(scope="module")
def url_map(gunicorn_server):
    """The app's routes, from an app built in-process on the server's database (never served)."""
    from unionevents import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": gunicorn_server.database_url})
    yield app.url_map
    from unionevents.extensions import db
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def world(gunicorn_world):
    return gunicorn_world


def test_every_route_is_classified(url_map):
    endpoints = {rule.endpoint for rule in url_map.iter_rules()}
    get_endpoints = {rule.endpoint for rule in url_map.iter_rules() if "GET" in rule.methods}
    missing_get = sorted(get_endpoints - set(ROUTES))
    post_only = endpoints - get_endpoints
    missing_post = sorted(post_only - set(POST_ONLY))
    assert not missing_get, f"add these GET routes to ROUTES in {__file__}: {missing_get}"
    assert not missing_post, f"add these POST routes to POST_ONLY in {__file__}: {missing_post}"
    assert not set(ROUTES) - get_endpoints, "ROUTES names routes that no longer exist"
    assert not set(POST_ONLY) - post_only, "POST_ONLY names routes that no longer exist (or take GET now)"


def _urls(url_map, ids) -> list[tuple[str, str]]:
    adapter = url_map.bind("localhost")
    urls = []
    for endpoint, args in sorted(ROUTES.items()):
        for values in (args(ids) if args else [{}]):
            assert all(v is not None for v in values.values()), (endpoint, values, "the world lacks an id")
            urls.append((endpoint, adapter.build(endpoint, values)))
    return urls


def _match(url_map, url: str, method: str) -> str | None:
    from werkzeug.exceptions import HTTPException
    try:
        return url_map.bind("localhost").match(urlsplit(url).path, method=method)[0]
    except HTTPException:
        return None


def _crawl_as(server, role: str, browser: Browser, token: str | None, urls) -> dict:
    statuses, failures, forms = Counter(), [], {}
    for endpoint, url in urls:
        headers = {"Authorization": "Bearer " + token} if url.startswith("/api/") and token else {}
        response = browser.get(url, headers=headers)
        statuses[response.status_code // 100] += 1
        if response.status_code >= 500:
            failures.append(f"{endpoint} GET {url} as {role}: {response.status_code}")
        if "text/html" in response.headers.get("Content-Type", "") and response.status_code == 200:
            for form in parse_page(response.text, response.url)[0]:
                if form.method == "POST":
                    forms.setdefault((urlsplit(form.action).path, tuple(sorted(form.field_names()))), form)
    return {"role": role, "browser": browser, "statuses": statuses, "failures": failures, "forms": forms,
            "requests": len(urls)}


_TOKENS: dict[str, str] = {}


def _token(server, mobile: str) -> str:
    if mobile not in _TOKENS:
        import requests
        response = requests.post(server.url + "/api/v1/tokens", json={"mobile": mobile, "password": "demo1234"},
                                 timeout=60)
        assert response.status_code in (200, 201), response.text[:300]
        _TOKENS[mobile] = response.json()["token"]
    return _TOKENS[mobile]


@pytest.fixture(scope="module")
def crawl(gunicorn_server, world, url_map):
    """GET every crawled URL as every role (roles in parallel, each with its own cookies)."""
    urls = _urls(url_map, world.ids)
    CRAWL_STATS["log_from"] = gunicorn_server.log_size()  # errors logged from here on are the crawl's
    # Logged in one after the other (concurrent logins are test_concurrency's business), then crawled
    # by four roles at a time.
    sessions = [(role, Browser(gunicorn_server.url, mobile), _token(gunicorn_server, mobile) if mobile else None)
                for role, mobile in ROLES.items()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda item: _crawl_as(gunicorn_server, *item, urls), sessions))
    CRAWL_STATS.update(routes=len({rule.rule for rule in url_map.iter_rules()}), urls=len(urls), roles=len(ROLES),
                       requests=sum(r["requests"] for r in results), engine=gunicorn_server.engine)
    return results


def test_crawl_size(crawl):
    summary = (f"live crawl ({CRAWL_STATS['engine']}, gunicorn): {CRAWL_STATS['routes']} routes → "
               f"{CRAWL_STATS['urls']} URLs × {CRAWL_STATS['roles']} roles (incl. anonymous) = "
               f"{CRAWL_STATS['requests']} GETs")
    print("\n" + summary)
    warnings.warn(summary)
    by_role = {result["role"]: result["statuses"] for result in crawl}
    # The crawl reached real pages, not only login redirects and refusals.
    assert by_role["admin"][2] > 60 and by_role["worker rider"][2] > 30 and by_role["anonymous"][2] > 10, by_role




@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_every_page_as_every_role_answers_without_a_server_error(crawl, endpoint):
    failures = [f for result in crawl for f in result["failures"] if f.startswith(endpoint + " ")]
    assert not failures, "\n".join(failures)


def _parse(kind: str, response) -> None:
    body = response.content
    assert body, "empty body"
    content_type = response.headers["Content-Type"]
    if kind == "xlsx":
        from openpyxl import load_workbook
        assert content_type.startswith(XLSX), content_type
        workbook = load_workbook(io.BytesIO(body), read_only=True)
        assert list(workbook.active.iter_rows(values_only=True)), "no rows"
    elif kind == "text/csv":
        assert content_type.startswith("text/csv"), content_type
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows and rows[0], "no header"
    elif kind == "application/json":
        assert content_type.startswith("application/json"), content_type
        json.loads(body)
    elif kind == "text/calendar":
        import icalendar
        assert content_type.startswith("text/calendar"), content_type
        calendar = icalendar.Calendar.from_ical(body)
        assert calendar.walk("VEVENT"), "no event"
    elif kind == "prometheus":
        from prometheus_client.parser import text_string_to_metric_families
        assert content_type.startswith("text/plain; version=0.0.4"), content_type
        families = {f.name for f in text_string_to_metric_families(body.decode())}
        assert "unionevents_http_requests" in families, sorted(families)
    elif kind == "pdf":
        from pypdf import PdfReader
        assert content_type.startswith("application/pdf"), content_type
        reader = PdfReader(io.BytesIO(body))
        assert len(reader.pages) == 1 and reader.pages[0].extract_text().strip()
    elif kind == "image/":
        from PIL import Image
        assert content_type.startswith("image/"), content_type
        Image.open(io.BytesIO(body)).verify()
    else:
        assert content_type.startswith(kind), content_type


@pytest.mark.parametrize("endpoint, who, arg, kind", DOWNLOADS,
                         ids=[f"{d[0]}-{d[3]}" for d in DOWNLOADS])
def test_file_downloads_parse(gunicorn_server, world, url_map, endpoint, who, arg, kind):
    ids = world.ids
    values = dict(ROUTES[endpoint](ids)[0]) if ROUTES[endpoint] else {}
    if arg:
        name, key = arg
        values[name] = ids.get(key, key)
    url = url_map.bind("localhost").build(endpoint, values)
    response = Browser(gunicorn_server.url, who).get(url)
    assert response.status_code == 200, (url, response.status_code)
    if kind == "certificate":
        assert response.headers["Content-Type"].startswith("text/html"), response.headers["Content-Type"]
        title = world.db.scalar("SELECT title FROM contest_entry WHERE id = :e", e=values["entry_id"])
        tier = world.db.scalar("SELECT t.name FROM contest_award a JOIN contest_award_tier t ON t.id = a.tier_id "
                               "WHERE a.entry_id = :e", e=values["entry_id"])
        assert title and tier, (title, tier)
        assert title in response.text and tier in response.text, response.text[:1000]
        return
    _parse(kind, response)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("activity", ["class", "health", "swap", "created"])
def test_roster_export_downloads_for_every_kind(gunicorn_server, world, fmt, activity):
    """Issue 14 defect 1: the CSV answered 500 for every activity under a real server."""
    organiser = {"class": ORGANISER_YUQUANYING, "created": ORGANISER_YUQUANYING, "health": ORGANISER_AOYUNCUN,
                 "swap": ORGANISER_JIANGONG}[activity]
    browser = Browser(gunicorn_server.url, organiser)
    activity_id = world.ids[activity]
    log_from = gunicorn_server.log_size()
    response = browser.fill_and_post(f"/manage/activities/{activity_id}/roster", {"format": fmt}, action="/export")
    assert response.status_code == 200, response.status_code
    _parse("text/csv" if fmt == "csv" else "xlsx", response)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(rows) >= 2, "the roster has people"
    assert not gunicorn_server.errors(since=log_from), "the download failed after its headers"


def test_every_download_is_fetched_or_listed(url_map):
    downloads = {rule.endpoint for rule in url_map.iter_rules() if "GET" in rule.methods and any(
        mark in rule.rule for mark in (".csv", ".xlsx", ".ics", ".json", ".pdf", "export", "certificate", "/images/"))}
    covered = {d[0] for d in DOWNLOADS} | set(DOWNLOADS_UNREACHABLE)
    assert downloads <= covered, f"add to DOWNLOADS (or DOWNLOADS_UNREACHABLE): {sorted(downloads - covered)}"


def test_every_form_found_submits_without_a_server_error(crawl, gunicorn_server, url_map, world):
    submitted, skipped, failures = Counter(), Counter(), []
    statuses: dict[str, list[int]] = defaultdict(list)
    created = world.ids["created"]
    for result in crawl:
        browser = result["browser"]
        for (path, _names), form in sorted(result["forms"].items(), key=lambda kv: kv[0][0]):
            endpoint = _match(url_map, form.action, "POST")
            if endpoint is None or endpoint in NOT_SUBMITTED:
                skipped[endpoint] += 1
                continue
            if endpoint in ONLY_ON_CREATED and f"/activities/{created}/" not in path + "/":
                skipped[endpoint] += 1
                continue
            # As found during the crawl (the session's CSRF token stays valid); earlier forms may have
            # changed the state behind it, which a person's stale page does too.
            response = browser.submit(form)
            submitted[endpoint] += 1
            statuses[endpoint].append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"POST {path} as {result['role']}: {response.status_code}")
    total = sum(submitted.values())
    summary = f"live crawl forms: {total} forms submitted ({len(submitted)} endpoints), {sum(skipped.values())} skipped"
    print("\n" + summary)
    warnings.warn(summary)
    assert not failures, "\n".join(failures)
    main = {"registrations.signup", "accounts.profile", "manage.edit_activity", "roster.check_in", "roster.walk_in",
            "swaps.donation", "contests.enter", "contests.judge_entry", "contests.vote", "registrations.cancel"}
    assert main <= set(submitted), f"main forms never submitted: {sorted(main - set(submitted))}"
    # Each main form did its work at least once (2xx/3xx); a form that always answers 4xx is broken even
    # without a 500.  Other answers may be refusals the state earned (a stale page, a full activity).
    # Entering and judging are done, and checked, through these very forms when the world is built
    # (tests/live/world.py); in the crawl they meet the entry limit and a judged entry, and are refused.
    done_by_the_world = {"contests.enter", "contests.judge_entry"}
    never_accepted = {e: statuses[e] for e in main - done_by_the_world if not any(code < 400 for code in statuses[e])}
    assert not never_accepted, f"main forms never accepted: {never_accepted}"


def test_the_server_logged_no_error(gunicorn_server, crawl):
    """Nothing the crawl did made the server log an error (a 5xx, or a streamed body failing half-way)."""
    errors = gunicorn_server.errors(since=CRAWL_STATS["log_from"])
    assert not errors, "\n".join(errors[:20])
