"""Light pages for a rider's phone: the worker journey works with JavaScript off, the catalogue and
sign-up pages weigh at most 150 KB on a first load (bodies as received, uncompressed), and the
sign-up form works from the keyboard alone with a visible focus ring."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SCREENSHOT_DIR
from tests.browser.pages import build_world, log_in
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState as S

BUDGET = 150 * 1024
WEIGHTS: dict[str, int] = {}


def shot(page, name):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


def test_worker_journey_without_javascript(make, new_context):
    world = build_world(make)
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, world.worker)
    page.goto("/activities/")
    page.fill("#q", "篮球")
    page.locator("form.filter-form button[type=submit]").click()
    page.locator(".card", has_text="篮球友谊赛").get_by_role("link", name="篮球友谊赛").click()
    page.wait_for_url(re.compile(rf"/activities/{world.other.id}$"))
    page.locator(".signup-box a.button.primary").click()
    page.wait_for_url(re.compile(rf"/activities/{world.other.id}/signup$"))
    page.get_by_label("XL").check()
    page.locator("form.signup-form [type=submit]").click()
    page.wait_for_url(re.compile(r"/me/registrations/\d+$"))
    assert page.locator(".ticket svg.qr-code").is_visible()
    shot(page, "nojs-ticket")
    db.session.rollback()
    registration = db.session.get(Registration, int(page.url.rsplit("/", 1)[1]))
    assert registration.user_id == world.worker.id and registration.state == S.CONFIRMED


def first_load_bytes(context, url: str) -> tuple[int, dict[str, int]]:
    """Sum of the response bodies a fresh page loads for ``url`` (documents, CSS, JS, images)."""
    page = context.new_page()
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    sizes = {}
    for response in responses:
        try:
            body = response.body()
        except Exception:  # a redirect has no body
            continue
        path = "/" + response.url.split("/", 3)[3].split("?")[0]
        sizes[path] = sizes.get(path, 0) + len(body)
    page.close()
    return sum(sizes.values()), sizes


def test_catalogue_and_signup_pages_weigh_at_most_150_kb(make, new_context, live_server):
    world = build_world(make)
    for index in range(12):  # a realistic first page of cards
        make.activity(f"职工课堂第{index + 1}期", capacity=30)
    login_context = new_context()
    log_in(login_context.new_page(), world.worker)
    for name, url in (("catalogue", "/activities/"), ("detail", f"/activities/{world.other.id}"),
                      ("signup-form", f"/activities/{world.other.id}/signup")):
        context = new_context(storage_state=login_context.storage_state())  # empty cache, signed in
        total, sizes = first_load_bytes(context, url)
        WEIGHTS[name] = total
        print(f"\n{name}: {total} bytes " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
        assert total <= BUDGET, f"{name} weighs {total} bytes: {sizes}"


def test_keyboard_only_sign_up_with_visible_focus(make, new_context):
    world = build_world(make)
    context = new_context()
    page = context.new_page()
    log_in(page, world.worker)
    page.goto(f"/activities/{world.other.id}/signup")
    keyboard = page.keyboard
    unfocused = []

    def focused():
        return page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
            return {tag: e.tagName, type: e.type || '', value: e.value || '', text: e.textContent.trim(),
                    outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0}; }""")

    # Tab to the first choice of the question (skip link, menu, language switch come first).
    for _ in range(30):
        keyboard.press("Tab")
        now = focused()
        if not now["outline"]:
            unfocused.append(now)
        if now["type"] == "radio":
            break
    else:
        pytest.fail("the question's choices cannot be reached with Tab")
    keyboard.press("ArrowDown")  # M → L
    keyboard.press("ArrowDown")  # L → XL
    assert focused()["value"] == "XL"
    shot(page, "keyboard-signup-focus")
    for _ in range(5):
        keyboard.press("Tab")
        now = focused()
        if not now["outline"]:
            unfocused.append(now)
        if now["type"] == "submit" or now["tag"] == "BUTTON":
            break
    keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/me/registrations/\d+$"))
    assert not unfocused, f"focus not visible on: {unfocused}"
    db.session.rollback()
    registration = db.session.get(Registration, int(page.url.rsplit("/", 1)[1]))
    assert registration.answers == {str(world.question.id): "XL"}
