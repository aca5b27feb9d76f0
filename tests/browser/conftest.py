"""Browser fixtures: the test app served on 127.0.0.1, Debian's Chromium driven by Playwright.

``live_server`` (base URL), ``browser`` (one Chromium per worker), ``page`` (a phone-sized
360×740 page in a fresh context), ``desktop_page`` (1280×800) and ``screenshot(page, name)``
(saves test-artifacts/screenshots/<name>.png).  Never `playwright install`: we launch
/usr/bin/chromium (see docs/toolchain.md and scripts/ensure-browser.sh).
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def live_server(app):
    """The test ``app`` served by a threaded werkzeug server on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser.sh (apt-get install chromium)")
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


def _page(browser, viewport, request):
    context = browser.new_context(viewport=viewport, locale="en-US")  # an English browser: we still say zh
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.problems = problems  # type: ignore[attr-defined]  # CSP refusals and JS errors land here
    yield page
    context.close()


@pytest.fixture
def page(browser, request):
    """A fresh phone-sized page; ``page.problems`` lists console errors (e.g. CSP refusals)."""
    yield from _page(browser, PHONE, request)


@pytest.fixture
def desktop_page(browser, request):
    yield from _page(browser, DESKTOP, request)


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "step")`` saves test-artifacts/screenshots/<test>-<step>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)

    def _shot(page, step: str) -> Path:
        path = SCREENSHOTS / f"{prefix}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
