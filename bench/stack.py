"""The production shape on one machine: nginx (deploy/nginx, TLS) → N gunicorn app servers started by
the image's entrypoint (deploy/docker-entrypoint.sh web) → PgBouncer in transaction mode (Debian's
``pgbouncer``) → PostgreSQL; Redis for the rate limits when a URL is given.  On SQLite there is no
PgBouncer and the app servers share the file.

Used by tests/deploy/test_stack.py (a small crowd) and ``python -m bench.scaleout`` (the rush).
Everything listens on 127.0.0.1 only, on free ports, under a temporary folder; ``stop()`` ends each
process group it started.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"
NGINX_CONF = ROOT / "deploy" / "nginx" / "unionevents.conf"
NGINX_PROXY = ROOT / "deploy" / "nginx" / "unionevents-proxy.inc"
PGBOUNCER_INI = ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def tool(name: str) -> str | None:
    """An executable of a Debian package (``nginx``, ``pgbouncer`` live in /usr/sbin)."""
    return shutil.which(name) or next((str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name)
                                       if p.exists()), None)


def venv_path() -> str:
    """PATH with this interpreter's bin folder first: the entrypoint runs `gunicorn`/`flask` from it."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def nginx_site(http_port: int, https_port: int, conf_dir: Path, tls_dir: Path) -> str:
    """deploy/nginx/unionevents.conf with this machine's ports, paths and certificate: everything else
    exactly as shipped."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    text = re.sub(r"^\s*listen \[::\]:\d+.*\n", "", text, flags=re.M)
    text = re.sub(r"listen 80;", f"listen {HOST}:{http_port};", text)
    text = re.sub(r"listen 443 ssl http2;", f"listen {HOST}:{https_port} ssl http2;", text)
    text = text.replace("/etc/nginx/tls/", f"{tls_dir}/").replace("/etc/nginx/conf.d/", f"{conf_dir}/")
    return text.replace("/srv/unionevents/app/static/", f"{ROOT / 'static'}/")


def nginx_main(prefix: Path, conf_dir: Path) -> str:
    """A main nginx.conf around the site (Debian's /etc/nginx/nginx.conf does the same job)."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {prefix / ('tmp-' + kind)};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'} warn;\nevents {{ worker_connections 4096; }}\n"
            f"http {{\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
            f"    access_log off;\n{temp}\n    include {conf_dir}/*.conf;\n}}\n")


def self_signed(tls_dir: Path) -> None:
    tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", f"subjectAltName=DNS:localhost,IP:{HOST}",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=digitalSignature,keyCertSign",
                    "-keyout", str(tls_dir / "privkey.pem"), "-out", str(tls_dir / "fullchain.pem")],
                   check=True, capture_output=True, timeout=60)


def write_nginx(prefix: Path, upstreams: list[int], http_port: int, https_port: int) -> Path:
    """The nginx prefix folder: nginx.conf, conf.d/ (site, proxy include, upstream), tls/.  Returns
    the nginx.conf path."""
    conf_dir, tls_dir = prefix / "conf.d", prefix / "tls"
    conf_dir.mkdir(parents=True, exist_ok=True)
    self_signed(tls_dir)
    (conf_dir / "unionevents.conf").write_text(nginx_site(http_port, https_port, conf_dir, tls_dir))
    shutil.copy(NGINX_PROXY, conf_dir / NGINX_PROXY.name)
    servers = "".join(f"    server {HOST}:{port} max_fails=3 fail_timeout=10s;\n" for port in upstreams)
    (conf_dir / "upstream.conf").write_text(f"upstream unionevents {{\n{servers}    keepalive 32;\n}}\n")
    main = prefix / "nginx.conf"
    main.write_text(nginx_main(prefix, conf_dir))
    return main


def pgbouncer_ini(target_url: str, port: int, folder: Path) -> str:
    """deploy/pgbouncer/pgbouncer.ini's pooling settings, pointed at this machine's PostgreSQL."""
    shipped = PGBOUNCER_INI.read_text(encoding="utf-8")
    pool_mode = re.search(r"^pool_mode\s*=\s*(\S+)", shipped, re.M).group(1)
    url = make_url(target_url)
    return (f"[databases]\n* = host={url.host or HOST} port={url.port or 5432}\n\n[pgbouncer]\n"
            f"listen_addr = {HOST}\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
            f"pool_mode = {pool_mode}\ndefault_pool_size = 20\nreserve_pool_size = 5\n"
            f"max_client_conn = 1000\nserver_reset_query =\n"
            f"ignore_startup_parameters = extra_float_digits,options\n"
            f"admin_users = {url.username}\nstats_users = {url.username}\n"
            f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n")


@dataclass
class Stack:
    workdir: Path
    database_url: str                     # where migrations and the seeder connect (PostgreSQL directly)
    app_servers: int = 2
    workers: int = 2
    redis_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    metrics_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    app_ports: list[int] = field(default_factory=list)
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    pgbouncer_port: int | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def on_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def app_database_url(self) -> str:
        """What the app servers use: through PgBouncer on PostgreSQL."""
        if not self.on_postgres:
            return self.database_url
        return make_url(self.database_url).set(host=HOST, port=self.pgbouncer_port).render_as_string(
            hide_password=False)

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.https_port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not (k.startswith("UNIONEVENTS_") or k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                                            "PROMETHEUS_MULTIPROC_DIR", "FLASK_DEBUG"))}
        env.update(PATH=venv_path(), APP_DIR=str(ROOT), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
                   UNIONEVENTS_ENV="production", SECRET_KEY=self.secret_key, PROXY_FIX_HOPS="1",
                   METRICS_TOKEN=self.metrics_token, DATABASE_URL=self.database_url,
                   UPLOAD_DIR=str(self.workdir / "uploads"), BACKUP_DIR=str(self.workdir / "backups"),
                   OUTBOX_SENDER="file", OUTBOX_FILE=str(self.workdir / "outbox.jsonl"))
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(extra)
        return env

    # --- pieces -------------------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes[name] = process
        return process

    def migrate(self) -> None:
        """The entrypoint's `migrate` (flask db upgrade), as compose's one-shot service runs it."""
        subprocess.run([str(ENTRYPOINT), "migrate"], env=self.env(), check=True, capture_output=True,
                       timeout=300)

    def start_pgbouncer(self) -> None:
        binary = tool("pgbouncer")
        if binary is None:
            raise RuntimeError("pgbouncer is not installed (scripts/ensure-ops-tools.sh)")
        folder = self.workdir / "pgbouncer"
        folder.mkdir(exist_ok=True)
        self.pgbouncer_port = free_port()
        user = make_url(self.database_url).username or "postgres"
        (folder / "userlist.txt").write_text(f'"{user}" ""\n')
        ini = folder / "pgbouncer.ini"
        ini.write_text(pgbouncer_ini(self.database_url, self.pgbouncer_port, folder))
        command = [binary, str(ini)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root: it switches to the postgres user
            shutil.chown(folder, "postgres")
            for path in folder.iterdir():
                shutil.chown(path, "postgres")
            folder.parent.chmod(0o755)
            command = [binary, "-u", "postgres", str(ini)]
        self._spawn("pgbouncer", command)
        self._wait_port(self.pgbouncer_port, "pgbouncer")

    def start_app(self, index: int) -> None:
        port = free_port()
        metrics = self.workdir / f"metrics-{index}"
        extra = {"GUNICORN_BIND": f"{HOST}:{port}", "GUNICORN_WORKERS": str(self.workers),
                 "PROMETHEUS_MULTIPROC_DIR": str(metrics), "DATABASE_URL": self.app_database_url}
        if self.on_postgres:
            extra["UNIONEVENTS_DB_TRANSACTION_POOLER"] = "1"
        self._spawn(f"app{index}", [str(ENTRYPOINT), "web", "--backlog", "2048"], self.env(**extra))
        self.app_ports.append(port)

    def start_nginx(self) -> None:
        binary = tool("nginx")
        if binary is None:
            raise RuntimeError("nginx is not installed (scripts/ensure-ops-tools.sh)")
        prefix = self.workdir / "nginx"
        conf = write_nginx(prefix, self.app_ports, self.http_port, self.https_port)
        subprocess.run([binary, "-t", "-q", "-p", str(prefix), "-c", str(conf)], check=True,
                       capture_output=True, timeout=30)
        self._spawn("nginx", [binary, "-p", str(prefix), "-c", str(conf)])
        self._wait_port(self.https_port, "nginx")

    def start(self) -> "Stack":
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.migrate()
            if self.on_postgres:
                self.start_pgbouncer()
            for index in range(self.app_servers):
                self.start_app(index)
            for index, port in enumerate(self.app_ports):
                self._wait_healthy(f"http://{HOST}:{port}/healthz", f"app{index}")
            self.start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    # --- waiting and stopping -------------------------------------------------------------------------

    def _check_alive(self, name: str) -> None:
        process = self.processes.get(name)
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.tail(name)}")

    def _wait_port(self, port: int, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            with socket.socket() as sock:
                if sock.connect_ex((HOST, port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not listen on {port}:\n{self.tail(name)}")

    def _wait_healthy(self, url: str, name: str, timeout: float = 90.0) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer {url}:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 3000) -> str:
        try:
            return (self.workdir / f"{name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop_process(self, name: str, timeout: float = 30.0) -> int | None:
        """SIGTERM to the process group, SIGKILL after ``timeout``; the exit status."""
        process = self.processes.get(name)
        if process is None:
            return None
        try:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        except ProcessLookupError:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything left in the group
        except ProcessLookupError:
            pass
        return process.returncode

    def stop(self) -> None:
        for name in ["nginx", *[n for n in self.processes if n.startswith("app")], "pgbouncer"]:
            self.stop_process(name)

    def ssl_context(self) -> ssl.SSLContext:
        """The stack's certificate is self-signed for 127.0.0.1: trust it, and only it."""
        return ssl.create_default_context(cafile=str(self.cafile))

    @property
    def cafile(self) -> Path:
        return self.workdir / "nginx" / "tls" / "fullchain.pem"
