"""Text responses travel gzip-compressed; downloads and streams keep their bytes; static files carry
cache-busting names and a year-long cache header."""
from __future__ import annotations

import gzip
import re

from unionevents.accounts.models import Role

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def without_tokens(body: bytes) -> bytes:
    """The page minus its CSRF tokens (signed with a timestamp, so they differ between requests)."""
    return re.sub(rb'name="csrf_token" value="[^"]*"', b"", body)


def test_pages_are_gzipped_when_the_client_accepts_it(client, make):
    make.tree()
    make.activity("花卉养护课")
    plain = client.get("/activities/")
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    packed = client.get("/activities/", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert without_tokens(gzip.decompress(packed.data)) == without_tokens(plain.data)
    assert len(packed.data) < len(plain.data) / 2


def test_refused_gzip_and_small_bodies_stay_plain(client):
    assert "Content-Encoding" not in client.get("/account/login", headers={"Accept-Encoding": "gzip;q=0"}).headers
    small = client.get("/healthz", headers=GZIP)
    assert "Content-Encoding" not in small.headers


def test_static_files_are_versioned_cached_and_compressed(app, client):
    page = client.get("/account/login").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page)
    assert css, "the stylesheet link carries a content hash"
    response = client.get(css.group(1), headers=GZIP)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    with open(f"{app.static_folder}/css/app.css", "rb") as source:
        assert gzip.decompress(response.data) == source.read()
    response.close()


def test_attachments_are_not_compressed(client, make, login):
    make.tree()
    worker = make.user("张小花", union="玉泉营商场工会")
    login(worker)
    response = client.get("/account/data.json", headers=GZIP)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "Content-Encoding" not in response.headers


def test_streamed_exports_are_not_compressed(client, make, login):
    tree = make.tree()
    organiser = make.user("赵组织", union="玉泉营商场工会", role=Role.ORGANISER, scope=tree["北京市总工会"])
    activity = make.activity("花卉养护课")
    login(organiser)
    response = client.post(f"/manage/activities/{activity.id}/roster/export", data={"format": "csv"},
                           headers=GZIP)  # (CSRF is off in the test config)
    assert response.status_code == 200, response.data[:300]
    assert response.is_streamed
    assert "Content-Encoding" not in response.headers
