"""The live tier: the real app served as a separate process, driven over HTTP.

``gunicorn_server`` (3 sync workers) and ``flask_server`` (``flask run``, as ``make run`` serves it) are
session-scoped: each is started once per pytest worker that needs it, on a free port, with a database of
its own — a SQLite file in a temporary folder, or, when TEST_DATABASE_URL is set, a PostgreSQL database
named after the checkout and worker (``tests.conftest.worker_database_url``), dropped at the end — made by
``flask db upgrade`` and loaded by ``flask seed-demo``.  Configuration goes through the environment only
(DATABASE_URL, SECRET_KEY, UPLOAD_DIR, BACKUP_DIR, ...): nothing is written into instance/.

Rate limits: the tier logs in the demo accounts hundreds of times from 127.0.0.1 (every role of the
crawl, 16 concurrent logins per endpoint, 120 concurrent token requests).  The servers run with the real
limits: only failed logins count per address and per account, so correct logins from one venue address
all pass, as they must in the field (accounts/throttle.py).  Passwords
are hashed cheaply (PASSWORD_HASH_METHOD, as in the suite's TestConfig): on this 2-core machine scrypt made
a login cost ~0.3 s of CPU, and hashing cost is not what the tier tests.

Every test of the tier is in the xdist group of its server (``--dist loadgroup`` in the Makefile), so
each server starts in one pytest worker only.  The server's output goes to a log file, printed when a
test fails (``live_log``); the process group is killed at the end whatever happens.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from ..conftest import worker_database_url

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
GUNICORN_WORKERS = 3

#: Log files of the servers started in this process, printed under a failing test's report.
_SERVERS: list["LiveServer"] = []


def pytest_collection_modifyitems(config, items):
    """Everything under tests/live carries the ``live`` marker (``-m "not live"`` skips the tier)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.live)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    flavour: str              # "gunicorn" | "flask run"
    database_url: str
    workdir: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def engine(self) -> str:
        return "PostgreSQL" if self.database_url.startswith("postgresql") else "SQLite"

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k not in ("REDIS_URL", "DATABASE_URL", "FLASK_DEBUG", "FLASK_RUN_PORT", "UNIONEVENTS_KEEP_LIVE")}
        env.update(
            FLASK_APP="app", UNIONEVENTS_ENV="development", PYTHONPATH=str(ROOT),
            DATABASE_URL=self.database_url, SECRET_KEY=secrets.token_urlsafe(32),
            UPLOAD_DIR=str(self.workdir / "uploads"), BACKUP_DIR=str(self.workdir / "backups"),
            OUTBOX_SENDER="log", PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
            PYTHONUNBUFFERED="1",
        )
        return env

    def prepare(self) -> None:
        """Schema by the migrations, then the demo data: ``flask db upgrade`` and ``flask seed-demo`` as
        ``make run`` does, in one process (each command would import the whole app again)."""
        env = self.env()
        script = ("from flask_migrate import upgrade\n"
                  "from unionevents import create_app\n"
                  "from unionevents.demo import seed_demo\n"
                  "app = create_app()\n"
                  "with app.app_context():\n"
                  "    upgrade()\n"
                  "    print('seed-demo:', seed_demo())\n")
        with open(self.log, "ab") as log:
            subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, stdout=log,
                           stderr=subprocess.STDOUT, timeout=180)
        if self.flavour == "gunicorn":  # prometheus_client's multiprocess mode, set before gunicorn starts
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.workdir / "metrics")
        self._env = env

    def start(self, timeout: float = 60.0) -> None:
        if self.flavour == "gunicorn":
            # deploy/gunicorn.conf.py as in production (JSON logs, metrics from every worker); the
            # options below override its bind, workers and timeout.
            command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                       "app:app", "--bind", f"{HOST}:{self.port}",
                       "--workers", str(GUNICORN_WORKERS), "--worker-class", "sync", "--timeout", "60",
                       "--backlog", "2048"]
        else:
            command = [sys.executable, "-m", "flask", "run", "--host", HOST, "--port", str(self.port)]
        log = open(self.log, "ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        answered = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.flavour} exited ({self.process.returncode}):\n{self.tail()}")
            try:
                response = requests.get(self.url + "/healthz", timeout=5)
                if response.status_code == 200 and response.json()["database"] == "ok":
                    answered += 1
                    if answered >= (GUNICORN_WORKERS if self.flavour == "gunicorn" else 1):
                        return
                    continue
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.flavour} did not answer /healthz within {timeout:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        if not self.process:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)  # start_new_session: the server leads its group
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        try:  # workers that outlived their master
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    def log_size(self) -> int:
        return self.log.stat().st_size

    def errors(self, since: int = 0) -> list[str]:
        """Log lines at ERROR (the JSON request log and tracebacks), from byte ``since`` of the log on."""
        with open(self.log, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if '"level": "ERROR"' in line or line.startswith("Traceback")]


def _serve(flavour: str, worker_id: str) -> LiveServer:
    # Not under pytest's basetemp: other pytest sessions on the machine prune it while this one runs.
    workdir = Path(tempfile.mkdtemp(prefix=f"unionevents-live-{flavour.replace(' ', '-')}-{worker_id}-"))
    suffix = "_live_" + flavour.replace(" ", "_")
    server = LiveServer(flavour, worker_database_url(worker_id, workdir, suffix), workdir)
    _SERVERS.append(server)
    server.prepare()
    server.start()
    return server


def _remove(server: LiveServer) -> None:
    """The server's folder (SQLite file, uploads, log) goes; kept when UNIONEVENTS_KEEP_LIVE is set."""
    if os.environ.get("UNIONEVENTS_KEEP_LIVE"):
        print(f"\nlive {server.flavour} server folder kept: {server.workdir}")
        return
    shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def gunicorn_server(worker_id):
    server = _serve("gunicorn", worker_id)
    try:
        yield server
    finally:
        server.stop()
        _remove(server)


@pytest.fixture(scope="session")
def flask_server(worker_id):
    server = _serve("flask run", worker_id)
    try:
        yield server
    finally:
        server.stop()
        _remove(server)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing live test shows the end of each server's log under its report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _SERVERS:
        for server in _SERVERS:
            report.sections.append((f"{server.flavour} server log ({server.engine})", server.tail()))


@pytest.fixture(autouse=True)
def _app_context():
    """The live tier talks to servers of its own: no app context, no test database of the suite's."""
    yield


@pytest.fixture(scope="session")
def gunicorn_world(gunicorn_server):
    """The demo world of the gunicorn server, brought to life through its forms (tests/live/world.py)."""
    from .world import build_world

    world = build_world(gunicorn_server.url, gunicorn_server.database_url)
    yield world
    world.db.close()


@pytest.fixture(scope="session")
def flask_world(flask_server):
    from .world import build_world

    world = build_world(flask_server.url, flask_server.database_url)
    yield world
    world.db.close()
