"""Browser fixtures: the test app served on a free local port, and Debian's Chromium through Playwright.

``live_server`` is the base URL of the test ``app`` (same per-worker database as the other tests, so
data made with ``make`` in the test is what the browser sees).  ``browser`` is one headless Chromium
per session; ``page`` is a fresh 360×740 phone context per test, in Chinese and Beijing time.
``browser_errors`` collects console errors and uncaught page errors (CSP violations show up there).
``screenshot(name)`` saves a full-page PNG under test-artifacts/screenshots/ (git-ignored).

Never run ``playwright install``: the Debian browser is launched by path (``scripts/ensure-browser.sh``
installs it; see the README).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from ..threaded_server import serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE_VIEWPORT = {"width": 360, "height": 740}
DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DEFAULT_TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    """Everything under tests/browser carries the ``browser`` marker (``-m "not browser"`` skips it)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(app):
    """Base URL (``http://127.0.0.1:<port>``) of the test app served from a background thread."""
    with serve_in_thread(app, "live-server") as url:
        yield url


@pytest.fixture(scope="session")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver):
    """Headless Debian Chromium (never a downloaded one)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium fonts-wqy-microhei)")
    instance = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield instance
    instance.close()


@pytest.fixture
def new_context(browser, live_server):
    """``new_context(**options)`` opens another browser context (another person's phone); closed at the end."""
    contexts = []

    def _new(viewport=PHONE_VIEWPORT, **options):
        options.setdefault("locale", "zh-CN")
        options.setdefault("timezone_id", "Asia/Shanghai")
        context = browser.new_context(viewport=viewport, base_url=live_server, **options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    """A 360×740 phone page; relative URLs (``page.goto("/")``) go to ``live_server``."""
    return context.new_page()


@pytest.fixture
def browser_errors(page):
    """Console errors and uncaught exceptions of ``page`` (a CSP violation is a console error)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def screenshot(page):
    """``screenshot(name, target)`` saves the whole of ``target`` (a page or a locator; the ``page``
    fixture when left out) to test-artifacts/screenshots/<name>.png.

    Shots came out blank when a test opened its own context (``new_context().new_page()``) and
    called ``screenshot(name)``: that shot the fixture's ``page``, which never left about:blank.  So a
    shot of a page that was never loaded fails here, the shot waits for the page's load and fonts
    (the CJK font is a system font, read when first used), and a PNG of one colour fails too."""

    def _shot(name: str, target=None) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        target = target or page
        shown = getattr(target, "page", target)  # a locator's page
        if shown.url in ("", "about:blank"):
            pytest.fail(f"screenshot {name!r}: that page was never loaded (about:blank); pass the page the "
                        "test drives: screenshot(name, page)")
        shown.wait_for_load_state("load")
        shown.evaluate("document.fonts.ready.then(() => document.fonts.status)")
        if target is shown:  # the whole page: as tall a window as the page, so the fixed tab bar sits at
            size = shown.viewport_size  # its foot instead of across the middle of a full-page shot
            height = shown.evaluate("document.documentElement.scrollHeight")
            if size and height > size["height"]:
                shown.set_viewport_size({"width": size["width"], "height": height})
            try:
                shown.screenshot(path=str(path), full_page=True, animations="disabled")
            finally:
                if size:
                    shown.set_viewport_size(size)
        else:
            target.screenshot(path=str(path), animations="disabled")
        _assert_not_blank(path, name)
        return path

    return _shot


def _assert_not_blank(path: Path, name: str) -> None:
    from PIL import Image

    with Image.open(path) as image:
        low, high = image.convert("L").getextrema()
    assert high - low > 32, f"screenshot {name!r} ({path}) is one colour: nothing was drawn"
