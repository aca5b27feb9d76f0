"""/metrics under gunicorn with 3 workers: N requests answered by whichever worker → /metrics counts N,
whichever worker answers the scrape (prometheus_client's multiprocess mode, deploy/gunicorn.conf.py);
gunicorn's own log lines are JSON like the app's."""
from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.xdist_group("live-gunicorn")

N = 90
ENDPOINT = {"endpoint": "main.healthz", "method": "GET"}


def _scrape(url: str) -> dict:
    """Requests and latency observations of /healthz by status, and the open connections."""
    response = requests.get(url + "/metrics", timeout=30)
    assert response.status_code == 200
    values: dict = {"requests": Counter(), "latency_count": Counter(), "open_connections": 0.0}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = dict(sample.labels)
            status = labels.pop("status", None)
            if sample.name == "unionevents_http_requests_total" and labels == ENDPOINT:
                values["requests"][status] = sample.value
            elif sample.name == "unionevents_http_request_duration_seconds_count" and labels == ENDPOINT:
                values["latency_count"][status] = sample.value
            elif sample.name == "unionevents_db_pool_open_connections":
                values["open_connections"] = sample.value
    return values


def test_metrics_add_up_every_gunicorn_worker(gunicorn_server):
    url = gunicorn_server.url
    before = _scrape(url)

    def hit(_):
        with requests.Session() as session:  # a connection each: the requests spread over the workers
            return str(session.get(url + "/healthz", timeout=30).status_code)

    with ThreadPoolExecutor(max_workers=12) as pool:
        answered = Counter(pool.map(hit, range(N)))
    assert answered["200"] >= N - 5, answered  # a 503 under a loaded machine is counted like any answer

    # Several scrapes, answered by different workers: each sees every worker's counts, exactly.
    scrapes = [_scrape(url) for _ in range(6)]
    for after in scrapes:
        for key in ("requests", "latency_count"):
            counted = Counter({status: after[key][status] - before[key][status] for status in after[key]})
            assert +counted == answered, (key, before, after)
    # Open connections are summed over the live workers: more than one worker has one.
    assert max(s["open_connections"] for s in scrapes) >= 2, (before, scrapes)
    print(f"\nmetrics (gunicorn {gunicorn_server.engine}): {N} requests over 3 workers, /metrics counted "
          f"{int(sum(scrapes[-1]['requests'].values()) - sum(before['requests'].values()))} in each of "
          f"{len(scrapes)} scrapes")


def test_gunicorn_logs_json_lines(gunicorn_server):
    lines = gunicorn_server.log.read_text(errors="replace").splitlines()
    gunicorn_lines = [json.loads(line) for line in lines
                      if line.startswith("{") and '"logger": "gunicorn.error"' in line]
    assert any("Booting worker" in line["message"] for line in gunicorn_lines)
    assert not [line for line in lines if line.startswith("[20")], "gunicorn's plain log format in the log"
