"""/metrics: Prometheus text, request counts and latencies by endpoint and status, the outbox backlog read
at scrape time, the connection pool; open in development, token or allow-list in production."""
from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from unionevents.core.db import write_transaction
from unionevents.core.outbox import OutboxMessage, OutboxState
from unionevents.core.timeutil import now
from unionevents.extensions import db


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, **headers) -> dict[str, float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {s.name + repr(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def test_requests_are_counted_by_endpoint_method_and_status(client):
    labels = {"endpoint": "main.healthz", "method": "GET", "status": "200"}
    before = sample("unionevents_http_requests_total", **labels)
    before_latency = sample("unionevents_http_request_duration_seconds_count", **labels)
    for _ in range(3):
        client.get("/healthz")
    missing = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    before_missing = sample("unionevents_http_requests_total", **missing)
    client.get("/no/such/page/12345")
    assert sample("unionevents_http_requests_total", **labels) - before == 3
    assert sample("unionevents_http_request_duration_seconds_count", **labels) - before_latency == 3
    assert sample("unionevents_http_request_duration_seconds_bucket", le="10.0", **labels) - before_latency == 3
    assert sample("unionevents_http_requests_total", **missing) - before_missing == 1  # ids never become labels


def test_metrics_page_is_prometheus_text_with_every_family(client):
    client.get("/healthz")
    families = {f.name for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    assert {"unionevents_http_requests", "unionevents_http_request_duration_seconds",
            "unionevents_outbox_unsent_messages", "unionevents_outbox_failing_messages", "unionevents_outbox_dead_messages",
            "unionevents_outbox_oldest_unsent_age_seconds", "unionevents_db_pool_checked_out_connections",
            "unionevents_db_pool_open_connections"} <= families


def test_the_outbox_backlog_is_read_at_scrape_time(client):
    start = now()
    with write_transaction():
        db.session.add_all([
            OutboxMessage(kind="test", body="waiting", created_at=start - timedelta(minutes=10)),
            OutboxMessage(kind="test", body="failing", created_at=start - timedelta(minutes=2),
                          attempts=3, last_error="relay said 502", state=OutboxState.FAILED,
                          next_attempt_at=start + timedelta(minutes=1)),
            OutboxMessage(kind="test", body="sent", created_at=start - timedelta(hours=1), sent_at=start,
                          state=OutboxState.SENT),
            OutboxMessage(kind="test", body="rejected", created_at=start - timedelta(hours=2), attempts=1,
                          last_error="relay said 400", state=OutboxState.DEAD),
        ])
    figures = scrape(client)
    assert figures["unionevents_outbox_unsent_messages[]"] == 2
    assert figures["unionevents_outbox_failing_messages[]"] == 1
    assert figures["unionevents_outbox_dead_messages[]"] == 1
    assert 590 <= figures["unionevents_outbox_oldest_unsent_age_seconds[]"] <= 700


def test_pool_gauges_follow_connections_in_use(app):
    before = sample("unionevents_db_pool_checked_out_connections")
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        assert sample("unionevents_db_pool_checked_out_connections") - before == 1
        assert sample("unionevents_db_pool_open_connections") >= 1
    assert sample("unionevents_db_pool_checked_out_connections") == before


@pytest.fixture
def production(app):
    saved = {k: app.config.get(k) for k in ("ENV_NAME", "METRICS_TOKEN", "METRICS_ALLOW")}
    app.config["ENV_NAME"] = "production"
    yield app.config
    app.config.update(saved)


def test_production_without_token_or_allow_list_has_no_metrics_page(client, production):
    production.update(METRICS_TOKEN=None, METRICS_ALLOW=[])
    assert client.get("/metrics").status_code == 404


def test_production_metrics_need_the_bearer_token(client, production):
    production.update(METRICS_TOKEN="scrape-secret-123", METRICS_ALLOW=[])
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"}).status_code == 200


def test_production_metrics_from_an_allowed_network(client, production):
    production.update(METRICS_TOKEN=None, METRICS_ALLOW=["10.0.0.0/24"])
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 401


def test_a_bad_allow_list_entry_stops_the_start(database_url):
    from unionevents import create_app
    from unionevents.core.settings import SettingError

    with pytest.raises(SettingError, match="METRICS_ALLOW"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "METRICS_ALLOW": ["ten.0.0.1"]})
