"""The door's QR fallback: where the browser has no BarcodeDetector, the check-in page loads the
vendored jsQR decoder (static/vendor/jsqr) on demand and reads a ticket's QR code with it.

- a ticket QR made by segno for a real registration decodes, with the vendored jsQR in Chromium, to
  exactly the ticket code, and that code sent through the page's ticket form checks the person in;
- the whole camera path (a fake camera showing the ticket) sends the code by itself and shows the verdict;
- the decoder is referenced only through the scan box's data attribute, fetched only when the browser
  lacks a detector, and never by the worker pages (catalogue, detail, sign-up, ticket).
"""
from __future__ import annotations

import base64
import io
import json
import re

import segno

from tests.browser.pages import door_open_now, log_in
from unionevents.accounts.models import Role
from unionevents.extensions import db
from unionevents.registrations import services
from unionevents.registrations.models import Registration, RegistrationState as S

DECODER = "/static/vendor/jsqr/jsQR.js"

#: Runs before the page's scripts: this browser has no BarcodeDetector (Chromium on Linux has none anyway).
NO_DETECTOR = "delete window.BarcodeDetector;"

#: A browser whose own detector reads QR codes (it finds nothing: only its presence matters here).
NATIVE_DETECTOR = """
window.BarcodeDetector = class {
  static getSupportedFormats() { return Promise.resolve(["qr_code"]); }
  detect() { return Promise.resolve([]); }
};
"""

DECODE_STILL = """async (src) => {
  const image = new Image();
  image.src = src;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height);
  const code = jsQR(data.data, data.width, data.height);
  return code ? code.data : null;
}"""


def ticket_png(registration) -> str:
    """The registration's ticket QR as a PNG ``data:`` URL (same payload and error level as the ticket page)."""
    buffer = io.BytesIO()
    segno.make(services.ticket_token(registration), error="m", micro=False).save(
        buffer, kind="png", scale=6, border=4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def door(make):
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["丰台区总工会"])
    activity = make.activity("花卉养护课", capacity=10, **door_open_now())
    worker = make.user("王一", union="玉泉营商场工会")
    registration = services.register(worker, activity.id)
    return organiser, activity, registration


def state_of(registration_id) -> S:
    db.session.rollback()
    return db.session.get(Registration, registration_id).state


def open_door(new_context, organiser, activity, init_script: str, errors: list | None = None):
    context = new_context()
    context.add_init_script(init_script)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    if errors is not None:  # console errors (a CSP violation is one) and uncaught exceptions
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, organiser)
    page.goto(f"/manage/activities/{activity.id}/checkin")
    return page, requested


def test_vendored_decoder_reads_a_ticket_and_the_code_checks_in(make, new_context):
    organiser, activity, registration = door(make)
    token = services.ticket_token(registration)
    errors: list[str] = []
    page, requested = open_door(new_context, organiser, activity, NO_DETECTOR, errors)
    page.wait_for_selector("[data-scan-box][data-scanner=jsqr]", state="attached")
    assert page.locator("[data-scan-start]").is_visible()
    assert not page.locator("[data-scan-stop]").is_visible()  # only while the camera runs
    assert any(DECODER in url and "?v=" in url for url in requested), "loaded on demand, cache-busted"

    decoded = page.evaluate(DECODE_STILL, ticket_png(registration))
    assert decoded == token

    page.fill("#ticket-form input[name=token]", decoded)
    page.locator("#ticket-form [type=submit]").click()
    page.wait_for_selector("[data-door-verdict][data-outcome=admitted]")  # the door kit's verdict
    assert state_of(registration.id) == S.ATTENDED
    assert not errors  # no CSP violation from the injected script


def test_camera_scan_with_jsqr_checks_in(make, new_context, screenshot):
    """A fake camera (a canvas stream showing the ticket) stands in for the phone's: the scanner finds
    the code and sends it without a tap; the camera stays on (tests/browser/test_door_kit.py has more)."""
    organiser, activity, registration = door(make)
    fake_camera = NO_DETECTOR + """
    (() => {
      const src = %s;
      navigator.mediaDevices.getUserMedia = () => new Promise((resolve, reject) => {
        const image = new Image();
        image.onload = () => {
          const canvas = document.createElement("canvas");
          canvas.width = 480; canvas.height = 360;
          const context = canvas.getContext("2d");
          const paint = () => {
            context.fillStyle = "#ddd"; context.fillRect(0, 0, 480, 360);
            context.drawImage(image, 90, 30, 300, 300);
          };
          paint(); setInterval(paint, 100);
          resolve(canvas.captureStream(10));
        };
        image.onerror = reject;
        image.src = src;
      });
    })();
    """ % json.dumps(ticket_png(registration))
    errors: list[str] = []
    page, _ = open_door(new_context, organiser, activity, fake_camera, errors)
    page.wait_for_selector("[data-scan-box][data-scanner=jsqr]", state="attached")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/checkin/scan")):
        page.locator("[data-scan-start]").click()
    page.wait_for_selector("[data-door-verdict][data-outcome=admitted]")  # no page load: the camera stays on
    assert page.get_attribute("[data-scan-box]", "data-running") == "true"
    assert page.locator("#ticket-form input[name=token]").input_value() == ""
    assert state_of(registration.id) == S.ATTENDED
    assert re.findall(r"\d+", page.locator(".door-count").inner_text()) == ["1", "1"]
    screenshot("door-ticket-scanned", page)
    assert not errors


def test_decoder_only_on_demand_and_only_at_the_door(make, new_context):
    organiser, activity, registration = door(make)

    # The check-in page names the decoder only in the scan box's data attribute (cache-busted URL) ...
    page, requested = open_door(new_context, organiser, activity, NATIVE_DETECTOR)
    html = page.evaluate("fetch(location.href).then(r => r.text())")
    attribute = re.compile(r'data-decoder-src="/static/vendor/jsqr/jsQR\.js\?v=[0-9a-f]+"')
    assert len(attribute.findall(html)) == 1
    assert "jsqr" not in attribute.sub("", html).lower()
    src = page.get_attribute("[data-scan-box]", "data-decoder-src")
    assert src.startswith(DECODER + "?v=")
    # ... and a browser with its own detector never fetches it.
    page.wait_for_selector("[data-scan-box][data-scanner=native]", state="attached")
    assert not any(DECODER in url for url in requested)
    assert page.evaluate("typeof window.jsQR") == "undefined"

    # Worker pages neither mention nor load it, even in a browser without a detector.
    worker_page, worker_requests = open_door(new_context, registration.user, activity, NO_DETECTOR)
    for url in ("/activities/", f"/activities/{activity.id}", f"/activities/{activity.id}/signup",
                f"/me/registrations/{registration.id}"):
        response = worker_page.goto(url)
        assert response.ok, url
        assert "jsqr" not in response.text().lower(), url
    assert not any(DECODER in url for url in worker_requests)
