"""axe-core on every main page, on a phone (360×740) and a desktop (1280×800): no serious or
critical violation.  axe is vendored (tests/browser/vendor/axe-core, see VERSION) and injected
with ``bypass_csp`` — the pages themselves allow no inline or foreign script."""
from __future__ import annotations

import json

import pytest

from tests.browser.conftest import DESKTOP_VIEWPORT, PHONE_VIEWPORT, SCREENSHOT_DIR
from tests.browser.pages import AXE_JS, anonymous_pages, build_world, later_pages, log_in, signed_in_pages

BAD = {"serious", "critical"}


def axe_problems(page) -> list[dict]:
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in BAD
    ]


@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, DESKTOP_VIEWPORT], ids=["phone", "desktop"])
def test_no_serious_accessibility_violations(app, make, new_context, viewport):
    world = build_world(make)
    context = new_context(viewport=viewport, bypass_csp=True)
    page = context.new_page()
    found: dict[str, list] = {}
    phone = viewport == PHONE_VIEWPORT

    skipped = []

    def check(name: str, url: str, optional: bool = False) -> None:
        response = page.goto(url)
        if optional and (response is None or not response.ok):
            skipped.append(f"{name} {url} -> {response and response.status}")  # needs other data
            return
        assert response is not None and response.ok, f"{name}: {url} answered {response and response.status}"
        if phone:
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT_DIR / f"phone-{name}.png"), full_page=True)
        problems = axe_problems(page)
        if problems:
            found[name] = problems

    for name, url in anonymous_pages(world):
        check(name, url)
    log_in(page, world.organiser)
    for name, url in signed_in_pages(app, world):
        check(name, url)
    # Judge scoring and the officer dashboard (built on other branches) are covered once merged.
    for name, url in later_pages(app, world):
        check(name, url, optional=True)
    if skipped:
        print("pages not audited (they need data this test does not make):", skipped)
    # The sign-up form after a refused submit: the errors are tied to their fields and announced.
    page.goto(f"/activities/{world.other.id}/signup")
    page.locator("form.signup-form [type=submit]").click()
    page.wait_for_selector(f"#q{world.question.id}-error")
    group = page.locator(f"#q{world.question.id}-group")
    assert group.get_attribute("aria-describedby") == f"q{world.question.id}-error"
    assert page.locator(f"#q{world.question.id}-error").get_attribute("role") == "alert"
    if phone:
        page.screenshot(path=str(SCREENSHOT_DIR / "phone-signup-form-errors.png"), full_page=True)
    problems = axe_problems(page)
    if problems:
        found["signup-form-errors"] = problems
    assert not found, "axe found serious/critical violations:\n" + json.dumps(found, ensure_ascii=False, indent=1)
