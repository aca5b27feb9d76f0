"""R12 and R13 across the whole site.

R12: crawl every GET route as each identity of the permission matrix (URL ids from its SAMPLE_ARGS
builders): every HTML answer carries CSP with frame-ancestors, nosniff and a Referrer-Policy, and every
answer with personal information (all HTML, downloads, the logged-in API) says ``no-store``.
R13: script payloads in every free-text field (name, activity title/description/venue, question label,
answers, cancellation reason, notice text) never come out as markup on any page that shows them; and
no template or module uses ``|safe`` / ``Markup(`` outside a reviewed allowlist.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.test_permission_matrix import MATRIX_IDENTITIES, World, _build_args, _cells

from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.activities.models import QuestionKind
from unionevents.activities.services import add_question, cancel_activity
from unionevents.extensions import db
from unionevents.registrations.services import register, send_notice

ROOT = Path(__file__).resolve().parents[2]
# Files the same for everyone, whoever asks: the service worker script says "no-cache" (revalidate,
# so a new version reaches the phones) rather than "no-store".
PUBLIC_FILES = {"/sw.js"}


def _login(client, user):
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


@pytest.mark.parametrize("identity", MATRIX_IDENTITIES, ids=lambda i: i.name)
def test_every_get_answer_carries_the_security_headers(app, make, identity):
    from flask import url_for
    tree = make.tree()
    world = World(make, tree, identity)
    token = issue_token(world.user, "crawl") if world.user else None
    client = app.test_client()
    if world.user:
        _login(client, world.user)
    problems, html_pages = [], 0
    for rule, _access, method, variants in _cells(app):
        if method != "GET" or rule.rule == "/account/logout":
            continue
        args = _build_args(world, rule, variants, fresh=False)
        with app.test_request_context():
            url = url_for(rule.endpoint, **args)
        headers = {"Authorization": f"Bearer {token}"} if token and url.startswith("/api/") else {}
        response = client.get(url, headers=headers)
        h = response.headers
        if response.mimetype == "text/html":
            html_pages += 1
            csp = h.get("Content-Security-Policy", "")
            if "frame-ancestors 'none'" not in csp or "script-src" not in csp and "default-src" not in csp:
                problems.append(f"CSP {url}: {csp!r}")
            if h.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"):
                problems.append(f"Referrer-Policy {url}")
        if h.get("X-Content-Type-Options") != "nosniff":
            problems.append(f"nosniff {url}")
        personal = response.mimetype == "text/html" or (world.user is not None and response.status_code == 200
                                                       and not url.startswith("/static/")
                                                       and url not in PUBLIC_FILES)
        if personal and "no-store" not in h.get("Cache-Control", ""):
            problems.append(f"no-store {url} ({response.mimetype}, {response.status_code})")
    assert html_pages >= 5
    assert not problems, "\n".join(problems)


PAYLOADS = ["<script>alert('XSS1')</script>", "\"><img src=x onerror=alert('XSS2')>",
            "</textarea><script>XSS3</script>", "javascript:alert('XSS4')//<svg onload=alert('XSS5')>"]


#: Map links (activities/venue_links.py) search for the venue's text: fixed schemes and hosts, the text
#: percent-encoded in the query, so it cannot leave the URL or change its scheme.
MAP_SEARCHES = ("geo:0,0?q=", "https://uri.amap.com/search?", "https://api.map.baidu.com/geocoder?")


def _percent_encoded_search(value: str) -> bool:
    return value.startswith(MAP_SEARCHES) and not any(char in value for char in "<>\"' ")


class _Scan(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.in_script, self.bad, self.text = False, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.in_script = True
        for name, value in attrs:
            if name.startswith("on") or (value and "XSS" in value and name in ("src", "href", "action")
                                          and not _percent_encoded_search(value)):
                self.bad.append(f"<{tag} {name}={value!r}>")
        if tag in ("img", "svg") and any("XSS" in (v or "") for _, v in attrs):
            self.bad.append(f"<{tag}> from a payload")

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and "XSS" in data:
            self.bad.append(f"<script>{data[:60]}")
        self.text.append(data)


def test_script_payloads_stay_text_on_every_page(app, make, client):
    from flask import url_for
    tree = make.tree()
    node = tree["丰台区玉泉营街道总工会"]
    payload = " ".join(PAYLOADS)
    admin = make.user("管理员" + PAYLOADS[0], union=tree["玉泉营商场工会"], role=Role.ADMIN,
                      scope=tree["北京市总工会"])
    worker = make.user(PAYLOADS[1][:40], union=tree["玉泉营商场工会"])
    activity = make.activity(PAYLOADS[0] + "课", node=node, description=payload, venue=PAYLOADS[1][:100])
    question = add_question(activity, PAYLOADS[2][:100], QuestionKind.TEXT)
    db.session.commit()
    registration = register(worker, activity.id, answers={str(question.id): payload})
    send_notice(activity.id, admin, subject=PAYLOADS[3][:100], body=payload)
    cancelled = make.activity(PAYLOADS[3][:100], node=node, description=payload)
    register(make.user("另一人", union=tree["玉泉营商场工会"]), cancelled.id)
    cancel_activity(admin, cancelled.id, reason=payload)
    db.session.commit()
    ids = {"activity_id": activity.id, "registration_id": registration.id, "question_id": question.id}
    pages = 0
    seen = set()
    problems = []
    for user in (admin, worker, None):
        the_client = app.test_client()
        if user:
            _login(the_client, user)
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule == "/account/logout" \
                    or not set(rule.arguments) <= set(ids):
                continue
            with app.test_request_context():
                url = url_for(rule.endpoint, **{a: ids[a] for a in rule.arguments})
            response = the_client.get(url)
            if response.mimetype != "text/html":
                continue
            pages += 1
            scan = _Scan()
            scan.feed(response.get_data(as_text=True))
            problems += [f"{url}: {bad}" for bad in scan.bad]
            text = "".join(scan.text)
            seen |= {p for p in PAYLOADS if p[:30] in text}
    assert not problems, "\n".join(problems)
    assert pages >= 20
    assert len(seen) >= 3, seen  # the payloads were really shown (as text)


# Reviewed uses of markup that bypasses autoescaping: path -> why it is safe.
MARKUP_ALLOWLIST = {
    "unionevents/registrations/presenting.py":
        "the ticket's QR code: an SVG made by segno from the server-made ticket token, no user text",
    "unionevents/reports/charts.py":
        "report charts: SVG built from numbers, every label, title and unit passed through escape()",
    "unionevents/core/templating.py":
        "scroll_region: fixed attributes; the label goes through Markup.format, which escapes it",
}


def test_no_unreviewed_safe_or_markup():
    found = set()
    for path in list((ROOT / "templates").rglob("*.html")) + list((ROOT / "unionevents").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"\|\s*safe\b|Markup\(|autoescape\s+false", text):
            found.add(str(path.relative_to(ROOT)))
    assert found <= set(MARKUP_ALLOWLIST), f"review these and add them to MARKUP_ALLOWLIST: {found - set(MARKUP_ALLOWLIST)}"
