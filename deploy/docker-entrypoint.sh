#!/bin/sh
# The image's entrypoint (also usable on a plain server: APP_DIR=/srv/unionevents/app, the venv on PATH).
#   web            gunicorn with deploy/gunicorn.conf.py (GUNICORN_BIND, GUNICORN_WORKERS)
#   migrate        flask db upgrade (compose runs it once before the app starts)
#   outbox         flask outbox worker (SIGTERM: finishes the message in hand, then exits)
#   job ARGS...    one flask command: `job reports settle`, `job privacy purge-all`, `job backup`
#   anything else  run as given (`flask users create ...`, `sh`)
# UNIONEVENTS_MIGRATE_ON_START=1 makes `web` run `flask db upgrade` first (single-server setups).
set -eu
cd "${APP_DIR:-/srv/unionevents/app}"
export FLASK_APP="${FLASK_APP:-app}"

command="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$command" in
  web)
    if [ "${UNIONEVENTS_MIGRATE_ON_START:-0}" = "1" ]; then
      flask db upgrade
    fi
    exec gunicorn -c deploy/gunicorn.conf.py "$@" app:app
    ;;
  migrate)
    exec flask db upgrade "$@"
    ;;
  outbox)
    exec flask outbox worker "$@"
    ;;
  job)
    [ "$#" -gt 0 ] || { echo "usage: job FLASK-COMMAND [ARGS...]" >&2; exit 64; }
    exec flask "$@"
    ;;
  *)
    exec "$command" "$@"
    ;;
esac
