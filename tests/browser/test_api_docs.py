"""/api/v1/docs: Swagger UI served from static/ (no CDN) renders the API under the site's CSP."""
from __future__ import annotations

import pytest

from unionevents.core.security import CSP

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def test_api_docs_render_under_the_csp_from_this_site_only(live_server, page, browser_errors, screenshot):
    page.add_init_script(RECORD_VIOLATIONS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto("/api/v1/docs")
    assert response.status == 200
    assert response.headers["content-security-policy"] == CSP
    page.locator(".swagger-ui .info .title").filter(has_text="unionevents API").wait_for()
    operations = page.locator(".opblock")
    operations.first.wait_for()
    assert operations.count() >= 10  # every operation of the OpenAPI document is listed
    operations.filter(has_text="/api/v1/me").first.locator(".opblock-summary").click()
    page.locator(".opblock-body").first.wait_for()  # an operation opens (parameters, responses)
    screenshot("api-docs", page)
    assert page.evaluate("window.__cspViolations") == []
    assert browser_errors == []
    assert requested and all(url.startswith(live_server) for url in requested), \
        [url for url in requested if not url.startswith(live_server)]
