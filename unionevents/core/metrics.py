"""Prometheus metrics at ``/metrics`` (text format, ``prometheus_client``).

What is counted (every name starts ``unionevents_``):

- ``http_requests_total{endpoint,method,status}`` and ``http_request_duration_seconds{endpoint,method,status}``
  (a histogram) for every request; ``endpoint`` is the Flask endpoint (``unmatched`` for a 404 nobody
  routed), never the path, so ids do not multiply the series;
- ``signups_total{outcome}`` — the state a sign-up ended in, or the refusal (``activity_full``,
  ``already_registered``, ``not_eligible``, …), counted by the registrations domain through ``SIGNUPS``;
- ``checkins_total{recorded,override}`` — check-ins made (a repeated scan is not one);
- ``outbox_unsent_messages``, ``outbox_failing_messages``, ``outbox_oldest_unsent_age_seconds`` — read
  from the outbox table at scrape time (``outbox_figures``);
- ``db_pool_checked_out_connections`` and ``db_pool_open_connections`` — the SQLAlchemy pools of every
  live process (summed), so ``checked_out`` near servers × workers × (pool size + overflow) means
  requests are waiting for a connection.

Several processes (gunicorn workers): ``prometheus_client``'s multiprocess mode, switched on by the
``PROMETHEUS_MULTIPROC_DIR`` environment variable set *before* gunicorn starts (deploy/gunicorn.conf.py
empties the folder at start and marks dead workers); each scrape then adds up every worker's files in a
fresh ``CollectorRegistry``.  One process (``flask run``, tests): the default registry.

Who may read it: anyone in development and tests; in production only a request bearing
``Authorization: Bearer <METRICS_TOKEN>`` or coming from an address in ``METRICS_ALLOW`` (addresses
or networks; the client address as ProxyFix gives it), and nobody (404) when neither is set.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import time
from collections.abc import Iterator

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .permissions import public

log = logging.getLogger(__name__)

disable_created_metrics()  # no `_created` series: a timestamp per label set nobody graphs

#: The text exposition format every Prometheus version reads (what ``generate_latest`` writes).
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"

#: Seconds; a sign-up is expected well under 0.3 s, a report page may take a few seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("unionevents_http_requests", "HTTP requests answered.",
                        ("endpoint", "method", "status"))
HTTP_LATENCY = Histogram("unionevents_http_request_duration_seconds",
                         "Time from the request reaching the app to its answer (headers) being ready.",
                         ("endpoint", "method", "status"), buckets=LATENCY_BUCKETS)
SIGNUPS = Counter("unionevents_signups", "Sign-up attempts by outcome: the state reached, or the refusal.",
                  ("outcome",))
CHECKINS = Counter("unionevents_checkins", "Check-ins made (a repeated scan of a checked-in ticket is not one).",
                   ("recorded", "override"))
POOL_CHECKED_OUT = Gauge("unionevents_db_pool_checked_out_connections",
                         "Database connections in use by a request or command, over every live process.",
                         multiprocess_mode="livesum")
POOL_OPEN = Gauge("unionevents_db_pool_open_connections",
                  "Database connections open (in use or idle in the pool), over every live process.",
                  multiprocess_mode="livesum")

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def outcome_of(error: BaseException) -> str:
    """A refusal's label: the domain error's class name in snake case (``ActivityFull`` → ``activity_full``);
    anything else is ``error``.  A bounded set: the DomainError classes."""
    from .errors import DomainError

    if isinstance(error, DomainError):
        return _CAMEL.sub("_", type(error).__name__).lower()
    return "error"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --------------------------------------------------------------------------- the outbox, read at scrape time

def outbox_figures() -> dict[str, float]:
    """The outbox's backlog from its delivery states: messages waiting (queued, being sent, or failed and
    waiting for their retry), those of them whose last attempt failed, the dead ones (a person should
    look), and the age of the oldest waiting one (0 when none)."""
    from .outbox_delivery import oldest_due_age_seconds, outbox_stats

    from ..extensions import db

    counts = outbox_stats()
    age = oldest_due_age_seconds()
    db.session.rollback()  # end the read: a scrape holds nothing open
    return {"unsent": float(counts["queued"] + counts["sending"] + counts["failed"]),
            "failing": float(counts["failed"]), "dead": float(counts["dead"]), "oldest_age": age or 0.0}


class OutboxCollector(Collector):
    """Gauges computed when scraped (the same in every process: one query, not per worker)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            figures = outbox_figures()
        except Exception:  # noqa: BLE001 - the database is down: the request metrics still get out
            from ..extensions import db

            db.session.rollback()
            log.warning("metrics: the outbox could not be read", exc_info=True)
            return
        yield GaugeMetricFamily("unionevents_outbox_unsent_messages", "Notifications waiting to be sent.",
                                value=figures["unsent"])
        yield GaugeMetricFamily("unionevents_outbox_failing_messages",
                                "Notifications waiting for a retry after a failed attempt.",
                                value=figures["failing"])
        yield GaugeMetricFamily("unionevents_outbox_dead_messages",
                                "Notifications given up on (rejected for good or out of attempts): retry by hand.",
                                value=figures["dead"])
        yield GaugeMetricFamily("unionevents_outbox_oldest_unsent_age_seconds",
                                "Age of the oldest unsent notification (0 when none wait).",
                                value=figures["oldest_age"])


# --------------------------------------------------------------------------- the connection pool

def watch_pool(engine: Engine) -> None:
    """Count the engine's connections as they are opened, closed, checked out and returned."""
    if getattr(engine, "_unionevents_metrics", False):
        return
    engine._unionevents_metrics = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _connect(_dbapi, record):
        record.info["metrics_open"] = True
        POOL_OPEN.inc()

    @event.listens_for(engine, "close")
    def _close(_dbapi, record):
        if record.info.pop("metrics_open", False):
            POOL_OPEN.dec()

    @event.listens_for(engine, "close_detached")
    def _close_detached(_dbapi):
        POOL_OPEN.dec()

    @event.listens_for(engine, "detach")
    def _detach(_dbapi, record):
        record.info.pop("metrics_open", None)  # counted down by close_detached

    @event.listens_for(engine, "checkout")
    def _checkout(_dbapi, record, _proxy):
        record.info["metrics_out"] = True
        POOL_CHECKED_OUT.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi, record):
        if record.info.pop("metrics_out", False):
            POOL_CHECKED_OUT.dec()


# --------------------------------------------------------------------------- the view and the request hooks

def _allowed() -> bool:
    config = current_app.config
    token, allow = config.get("METRICS_TOKEN"), config.get("METRICS_ALLOW") or []
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
            return True
    if allow:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return False
        if any(address in ipaddress.ip_network(net, strict=False) for net in allow):
            return True
    if token or allow:
        return False
    return config.get("ENV_NAME") != "production"


@public  # who may read it is decided inside (token / allow-list in production): see the module docstring
def metrics_view():
    if not _allowed():
        config = current_app.config
        if not (config.get("METRICS_TOKEN") or config.get("METRICS_ALLOW")):
            abort(404)  # production with no way in configured: as if there were no such page
        response = Response("metrics need a bearer token or an allowed address\n", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    scraped = CollectorRegistry()
    scraped.register(OutboxCollector())
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    body += generate_latest(scraped)
    return Response(body, content_type=TEXT_FORMAT, headers={"Cache-Control": "no-store"})


def install_metrics(app: Flask) -> None:
    """``/metrics``, the request counters and the pool gauges."""
    if app.config.get("METRICS_ALLOW"):
        for net in app.config["METRICS_ALLOW"]:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                from .settings import SettingError

                raise SettingError(f"METRICS_ALLOW: {net!r} is not an address or network.") from None
    app.add_url_rule("/metrics", "metrics", metrics_view)

    with app.app_context():
        from ..extensions import db

        watch_pool(db.engine)

    @app.before_request
    def _metrics_start():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _metrics_count(response):
        started = g.get("metrics_started")
        endpoint = request.endpoint or "unmatched"
        labels = (endpoint, request.method, str(response.status_code))
        HTTP_REQUESTS.labels(*labels).inc()
        if started is not None:
            HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response
