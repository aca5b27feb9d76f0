"""gunicorn settings for unionevents: `gunicorn -c deploy/gunicorn.conf.py app:app`.

Command-line options override these; so do GUNICORN_CMD_ARGS.  Environment (read by gunicorn's master,
so set it in the service's environment, not in the app):

- ``PROMETHEUS_MULTIPROC_DIR``: a folder private to this server's gunicorn (e.g. ``/run/unionevents/metrics``,
  systemd's ``RuntimeDirectory``).  Set, /metrics adds up every worker's counts (prometheus_client's
  multiprocess mode): the folder is emptied when gunicorn starts and a dead worker's live gauges are
  dropped.  Unset, each scrape would see one worker's share only, so with several workers set it.
- ``GUNICORN_WORKERS`` (default 2 × cores + 1), ``GUNICORN_BIND`` (default 127.0.0.1:8000).
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

from unionevents.core.logging import GUNICORN_LOGCONFIG

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"  # short database-bound requests
timeout = 30
graceful_timeout = 20
max_requests = 2000
max_requests_jitter = 200

# gunicorn's error log as JSON lines through the app's formatter; no access log (it would log query
# strings; the app logs every request itself, without them).
logconfig_dict = GUNICORN_LOGCONFIG
accesslog = None


def on_starting(server):
    """Before the first worker: an empty metrics folder (files left by an earlier run would be added in)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        if server.cfg.workers > 1:
            server.log.warning("PROMETHEUS_MULTIPROC_DIR is not set: /metrics shows one worker's counts only")
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def child_exit(server, worker):
    """A worker ended (restarted after max_requests, killed by its timeout): its live gauges go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
