# unionevents: the app image (gunicorn), and an nginx image with the static files.
#   docker build -t unionevents .                     # the app (last stage, the default)
#   docker build -t unionevents-nginx --target nginx .
# compose.yaml builds both.  docs/deploy.md §10.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NGINX_IMAGE=nginx:1.26-bookworm

# ---- build: the virtualenv and the compiled translations (nothing of this stage ships but those) ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt
WORKDIR /srv/unionevents/app
COPY translations/ translations/
RUN /opt/venv/bin/pybabel compile -d translations

# ---- nginx: static files from the same source tree, served at the path deploy/nginx expects ----
FROM ${NGINX_IMAGE} AS nginx
COPY static/ /srv/unionevents/app/static/
COPY deploy/nginx/unionevents.conf /etc/nginx/conf.d/default.conf
COPY deploy/nginx/upstream-compose.conf /etc/nginx/conf.d/upstream.conf
COPY deploy/nginx/unionevents-proxy.inc /etc/nginx/conf.d/unionevents-proxy.inc

# ---- runtime: the app, run as an unprivileged user ----
FROM ${PYTHON_IMAGE} AS runtime
# postgresql-client: pg_dump/pg_restore for `flask backup` / `flask restore` (bookworm: 15, the
# server's major version in compose.yaml).  Versions come with the base image's Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 unionevents \
    && useradd --system --uid 10001 --gid unionevents --home-dir /srv/unionevents --shell /usr/sbin/nologin unionevents
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLASK_APP=app \
    APP_DIR=/srv/unionevents/app \
    GUNICORN_BIND=0.0.0.0:8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/unionevents-metrics
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/unionevents/app
# The code is root's and read-only to the app; only instance/ (uploads, backups) is its own.
COPY app.py babel.cfg ./
COPY unionevents/ unionevents/
COPY migrations/ migrations/
COPY templates/ templates/
COPY static/ static/
COPY deploy/ deploy/
COPY --from=build /srv/unionevents/app/translations/ translations/
RUN mkdir -p instance/uploads instance/backups \
    && chown -R unionevents:unionevents instance \
    && chmod 0700 instance instance/uploads instance/backups
USER 10001:10001
VOLUME ["/srv/unionevents/app/instance/uploads"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["/srv/unionevents/app/deploy/docker-entrypoint.sh"]
CMD ["web"]
