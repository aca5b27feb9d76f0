"""The production shape, live: nginx (deploy/nginx, TLS) → two gunicorn app servers started by the image's
entrypoint (deploy/docker-entrypoint.sh web, UNIONEVENTS_ENV=production) → on PostgreSQL, PgBouncer in
transaction mode (Debian's pgbouncer 1.18, UNIONEVENTS_DB_TRANSACTION_POOLER=1).  bench/stack.py builds it;
``python -m bench.scaleout`` runs the full rush on the same shape."""
from __future__ import annotations

import gzip
import http.client
import re
import secrets
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.common import raw_tokens, seed_signup_activity
from bench.rush import product_counts
from bench.stack import HOST, ROOT, Stack

from ..conftest import worker_database_url

pytestmark = [pytest.mark.live, pytest.mark.xdist_group("deploy_stack")]

PLACES, CROWD = 20, 200


@pytest.fixture(scope="module")
def stack(worker_id):
    import os

    workdir = Path(tempfile.mkdtemp(prefix=f"unionevents-stack-{worker_id}-"))
    url = worker_database_url(worker_id, workdir, "_stack")
    running = Stack(workdir, url, app_servers=2, workers=2, redis_url=os.environ.get("REDIS_TEST_URL"))
    running.start()
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def https(stack):
    # trust_env off: REQUESTS_CA_BUNDLE in the environment would override the session's verify.
    session = requests.Session()
    session.trust_env = False
    session.verify = str(stack.cafile)
    return session


def _get(stack, https, path, **kwargs):
    return https.get(stack.url + path, timeout=30, **kwargs)


def _scrape(stack, port: int) -> dict[str, float]:
    """One app server's /metrics, read directly (nginx refuses it), with the bearer token production needs."""
    response = requests.get(f"http://{HOST}:{port}/metrics", timeout=30,
                            headers={"Authorization": f"Bearer {stack.metrics_token}"})
    assert response.status_code == 200
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "unionevents_signups_total":
                values[sample.labels["outcome"]] = values.get(sample.labels["outcome"], 0) + sample.value
    return values


def test_health_over_https_through_nginx(stack, https):
    response = _get(stack, https, "/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body.get("redis", "ok") == "ok"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    # nginx's $request_id reaches the app, which logs it and sends it back.
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_plain_http_goes_to_https_but_health_checks_answer(stack):
    plain = f"http://{HOST}:{stack.http_port}"
    redirect = requests.get(plain + "/activities/", allow_redirects=False, timeout=30)
    assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")
    assert requests.get(plain + "/healthz", timeout=30).json()["database"] == "ok"


def test_static_files_come_from_nginx_cached_and_gzipped(stack, https):
    css = ROOT / "static" / "css" / "app.css"
    response = _get(stack, https, "/static/css/app.css", headers={"Accept-Encoding": "gzip"}, stream=True)
    assert response.status_code == 200
    cache = [part.strip() for part in response.headers["Cache-Control"].split(",")]
    assert {"max-age=31536000", "public", "immutable"} <= set(cache)
    # A location's own add_header drops the server's: HSTS must be repeated there.
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.raw.read()) == css.read_bytes()
    assert "X-Request-ID" not in response.headers  # nginx answered; the app never saw it


def test_metrics_are_not_served_to_the_world(stack, https):
    assert _get(stack, https, "/metrics").status_code == 404
    assert requests.get(f"http://{HOST}:{stack.app_ports[0]}/metrics", timeout=30).status_code in (401, 403, 404)


def test_a_body_over_the_upload_limit_is_refused_by_nginx(stack):
    connection = http.client.HTTPSConnection(HOST, stack.https_port, context=stack.ssl_context(), timeout=30)
    connection.putrequest("POST", "/manage/contests/1/entries")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(64 * 1024 * 1024))  # over nginx's limit, not just the app's
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


@pytest.mark.parametrize("path, size, status", [
    ("/account/login", 26 * 1024 * 1024, 413),  # over MAX_CONTENT_LENGTH (25 MiB), under nginx's 30m
    # Not here: an anonymous 53 MiB POST to an entry page.  The app redirects to the login before
    # reading the body and closes the connection, and nginx, still sending, then answered 502 in one
    # CI run of two (tests/contests covers the redirect in process; docs/deploy.md, the nginx row).
])
def test_a_body_just_over_the_apps_limit_gets_the_apps_answer_not_nginxs(stack, path, size, status):
    """nginx lets a little more through than the app takes, so the app answers (its Chinese page; on
    an entry page, anonymous: the login redirect), never nginx's bare 413."""
    connection = http.client.HTTPSConnection(HOST, stack.https_port, context=stack.ssl_context(), timeout=120)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    chunk = b"\0" * (1024 * 1024)
    for _ in range(size // len(chunk)):
        connection.send(chunk)
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    assert response.status == status
    assert "<center>nginx" not in body  # the app answered, not nginx
    if status == 413:
        assert "上传的文件过大" in body  # its Chinese "upload too large" page
    else:
        assert "/account/login" in response.getheader("Location")
    connection.close()


def test_a_crowd_signs_up_through_nginx_both_servers_and_pgbouncer(stack):
    tokens = raw_tokens(CROWD)
    activity_id = seed_signup_activity(stack.database_url, tokens, PLACES, False, stack.secret_key)
    context = stack.ssl_context()

    def sign_up(token: str) -> int:
        connection = http.client.HTTPSConnection(HOST, stack.https_port, context=context, timeout=60)
        try:
            connection.request("POST", f"/api/v1/activities/{activity_id}/registrations", body=b"{}", headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                "Accept": "application/json"})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(sign_up, tokens))
    assert statuses == [201] * CROWD
    counts = product_counts(stack.database_url, activity_id)
    assert counts.get("confirmed") == PLACES and counts.get("waitlisted") == CROWD - PLACES
    assert counts["taken"] == PLACES and counts["duplicates"] == 0
    # nginx spread the crowd over both app servers.
    per_server = [sum(_scrape(stack, port).values()) for port in stack.app_ports]
    assert sum(per_server) == CROWD and all(n > 0 for n in per_server), per_server
    if stack.on_postgres:  # and the transactions really went through PgBouncer
        import psycopg

        admin = psycopg.connect(host=HOST, port=stack.pgbouncer_port, dbname="pgbouncer", user="postgres",
                                autocommit=True, prepare_threshold=None)
        try:
            with admin.cursor() as cursor:
                cursor.execute("SHOW STATS")
                columns = [c.name for c in cursor.description]
                rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
                cursor.execute("SHOW CONFIG")
                config = {row[0]: row[1] for row in cursor.fetchall()}
        finally:
            admin.close()
        assert config["pool_mode"] == "transaction"
        database = stack.database_url.rsplit("/", 1)[1]
        ours = next(row for row in rows if row["database"] == database)
        assert ours["total_xact_count"] >= CROWD


def test_an_app_server_stops_gracefully_and_nginx_carries_on(stack, https):
    assert stack.stop_process("app1") == 0  # SIGTERM: gunicorn finishes in-flight requests and exits 0
    answers = [_get(stack, https, "/healthz").status_code for _ in range(20)]
    assert answers == [200] * 20
