"""Door timing (issue 19 item 6): seconds per rider at the door, by camera scan and by typed code.

Starts the real app under gunicorn on 127.0.0.1 (a fresh SQLite file, or a fresh PostgreSQL database
with ``DATABASE_URL``), seeds one activity whose check-in is open with 40 registered riders, and drives
the door page in Debian Chromium (``/usr/bin/chromium`` through Playwright) on a 360 px phone:

- 20 riders by camera: a fake camera (a canvas stream, as tests/browser/test_qr_decoder.py) shows each
  rider's ticket QR in turn; the scanner stays on, and a rider is done when the green verdict with
  their name is on screen.  Between riders the camera shows nothing for ``--gap`` seconds (a rider
  stepping up), which is not counted.
- 20 riders by typed code: the volunteer types the 8-character code under the QR code and presses
  Enter; done at the green verdict.  Typing speed is Playwright's (``--type-delay`` ms per key).

Per rider: from the ticket appearing (or the first key) to the verdict.  Prints mean, p50 and max
seconds for each way, and checks all 40 riders are checked in on the server.

    python -m bench door [-- --gap 0.3 --type-delay 60]
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from .common import ROOT, Server, add_server_options, bench_app, database_url, engine_label, product_env

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "door-bench-123"
RIDERS = 20

#: A stand-in for the phone's camera, run before the page's scripts: a 480×360 canvas stream painting
#: ``window.__camera.image`` (set with ``window.__showTicket(dataUrl)``; ``null``: an empty view).
#: No BarcodeDetector (Chromium on Linux has none), so the page's vendored jsQR decodes the frames.
FAKE_CAMERA = """
delete window.BarcodeDetector;
window.__camera = { image: null };
window.__showTicket = (src) => new Promise((resolve, reject) => {
  if (!src) { window.__camera.image = null; resolve(); return; }
  const image = new Image();
  image.onload = () => { window.__camera.image = image; resolve(); };
  image.onerror = reject;
  image.src = src;
});
navigator.mediaDevices.getUserMedia = () => {
  const canvas = document.createElement("canvas");
  canvas.width = 480; canvas.height = 360;
  const context = canvas.getContext("2d");
  const paint = () => {
    context.fillStyle = "#ddd"; context.fillRect(0, 0, 480, 360);
    if (window.__camera.image) { context.drawImage(window.__camera.image, 90, 30, 300, 300); }
  };
  paint(); setInterval(paint, 50);
  return Promise.resolve(canvas.captureStream(20));
};
"""


def qr_data_url(token: str) -> str:
    """A ticket's QR code as a PNG ``data:`` URL (same payload and error level as the ticket page)."""
    import segno

    buffer = io.BytesIO()
    segno.make(token, error="m", micro=False).save(buffer, kind="png", scale=6, border=4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def seed(url: str, secret_key: str, riders: int) -> tuple[int, str, list[tuple[str, str, str]]]:
    """Schema, an organiser, one activity starting in an hour (check-in open) and ``riders`` registered
    workers; returns (activity id, organiser mobile, [(name, ticket token, ticket code)])."""
    from unionevents.accounts.models import Role
    from unionevents.accounts.services import create_user, grant_role
    from unionevents.activities.models import ActivityKind, SignupMode
    from unionevents.activities.services import create_activity
    from unionevents.core.timeutil import now
    from unionevents.extensions import db
    from unionevents.registrations import services
    from unionevents.unions.models import NodeLevel
    from unionevents.unions.services import create_node

    app = bench_app(url, secret_key)
    with app.app_context(), app.test_request_context():
        db.create_all()
        city = create_node("门口压测市总工会", NodeLevel.CITY)
        unit = create_node("门口压测快递工会", NodeLevel.WORKPLACE, city, "朝阳区")
        organiser = create_user("13800000001", "门口志愿者", PASSWORD, union=unit, accept_privacy=True)
        grant_role(organiser, Role.ORGANISER, node=city)
        starts = now() + timedelta(hours=1)
        activity = create_activity(
            title="门口计时：夜骑安全课", kind=ActivityKind.CLASS_, node=unit, starts_at=starts,
            ends_at=starts + timedelta(hours=2), signup_opens_at=now() - timedelta(hours=1),
            signup_closes_at=now() + timedelta(minutes=30), capacity=riders + 10,
            mode=SignupMode.FIRST_COME, publish=True)
        db.session.commit()
        people = []
        for i in range(riders):
            worker = create_user(f"139{i:08d}", f"骑手{i + 1:02d}", None, union=unit, accept_privacy=True)
            db.session.commit()
            registration = services.register(worker, activity.id)
            people.append((worker.name, registration.ticket_secret, registration.ticket_code))
        activity_id, organiser_mobile = activity.id, organiser.mobile
        db.engine.dispose()
    return activity_id, organiser_mobile, people


def attended(url: str, secret_key: str, activity_id: int) -> int:
    from sqlalchemy import func, select

    from unionevents.extensions import db
    from unionevents.registrations.models import Registration, RegistrationState as S

    app = bench_app(url, secret_key)
    with app.app_context():
        count = db.session.scalar(select(func.count(Registration.id)).where(
            Registration.activity_id == activity_id, Registration.state == S.ATTENDED))
        db.engine.dispose()
    return count


def wait_verdict(page, name: str, seen: int) -> None:
    """Until the scanner has answered ``seen`` tickets and shows the green verdict with ``name``."""
    page.wait_for_function(
        """([name, seen]) => {
             const box = document.querySelector("[data-scan-box]");
             const verdict = document.querySelector("[data-door-verdict]");
             return parseInt(box.getAttribute("data-scans") || "0", 10) >= seen && !verdict.hidden
               && verdict.getAttribute("data-outcome") === "admitted"
               && verdict.querySelector("[data-verdict-name]").textContent === name;
           }""", arg=[name, seen], timeout=20_000)


def summary(label: str, seconds: list[float]) -> str:
    return (f"{label:6} {len(seconds)} riders: mean {statistics.mean(seconds):.2f} s, "
            f"p50 {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s per rider")


def drive(base_url: str, activity_id: int, organiser_mobile: str, people, gap: float, type_delay: int):
    from playwright.sync_api import sync_playwright

    by_scan, by_code = people[:RIDERS], people[RIDERS:2 * RIDERS]
    images = {token: qr_data_url(token) for _name, token, _code in by_scan}
    scan_times: list[float] = []
    code_times: list[float] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=base_url,
                                      locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(20_000)
        context.add_init_script(FAKE_CAMERA)
        page = context.new_page()
        page.goto("/account/login")
        page.fill("input[name=mobile]", organiser_mobile)
        page.fill("input[name=password]", PASSWORD)
        page.locator("form.stack-form [type=submit]").click()
        page.wait_for_url(lambda u: "/account/login" not in u)
        page.goto(f"/manage/activities/{activity_id}/checkin")
        page.wait_for_selector("[data-scan-box][data-scanner=jsqr]", state="attached")
        page.locator("[data-scan-start]").click()
        page.wait_for_selector("[data-scan-box][data-running=true]", state="attached")

        seen = 0
        for name, token, _code in by_scan:
            started = time.perf_counter()
            page.evaluate("src => window.__showTicket(src)", images[token])
            seen += 1
            wait_verdict(page, name, seen)
            scan_times.append(time.perf_counter() - started)
            page.evaluate("() => window.__showTicket(null)")  # the rider steps away
            time.sleep(gap)

        page.locator("[data-scan-stop]").click()
        field = page.locator("#ticket-form input[name=token]")
        for name, _token, code in by_code:
            started = time.perf_counter()
            field.click()
            field.press_sequentially(code, delay=type_delay)
            field.press("Enter")
            seen += 1
            wait_verdict(page, name, seen)
            code_times.append(time.perf_counter() - started)
            page.locator("[data-door-verdict]").click()  # tap the verdict away for the next rider
        browser.close()
    return scan_times, code_times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench door", description=__doc__.split("\n")[0])
    parser.add_argument("--gap", type=float, default=0.3, help="seconds of empty camera view between riders")
    parser.add_argument("--type-delay", type=int, default=60, help="ms per key when typing a code")
    add_server_options(parser, workers=2, worker_class="gthread", threads=4)
    opts = parser.parse_args(argv or [])
    import os

    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run `make browser-deps`")
        return 1
    secret_key = "door-bench-" + os.urandom(8).hex()
    with tempfile.TemporaryDirectory(prefix="bench-door-") as tmp_dir:
        tmp = Path(tmp_dir)
        url = database_url(os.environ.get("DATABASE_URL"), tmp, "door")
        activity_id, organiser_mobile, people = seed(url, secret_key, 2 * RIDERS)
        with Server("door", "unionevents:create_app()", product_env(url, secret_key), tmp / "gunicorn.log", opts) as server:
            try:
                scan_times, code_times = drive(f"http://127.0.0.1:{server.port}", activity_id, organiser_mobile,
                                               people, opts.gap, opts.type_delay)
            finally:
                server.kill()
        done = attended(url, secret_key, activity_id)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    print(f"engine {engine_label(url)}; gunicorn {opts.gunicorn_workers} x {opts.worker_class}"
          f"({opts.threads}); Chromium 360 px; commit {commit}")
    print(f"uptime: {load}")
    print(summary("scan", scan_times))
    print(summary("code", code_times))
    print(f"checked in on the server: {done} of {2 * RIDERS}")
    print(json.dumps({"scan": [round(s, 3) for s in scan_times], "code": [round(s, 3) for s in code_times]}))
    return 0 if done == 2 * RIDERS else 1
