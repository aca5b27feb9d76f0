#!/usr/bin/env bash
# Until the first production deployment the schema lives in ONE initial migration, regenerated from the
# models (an empty throwaway SQLite database, autogenerate, render_as_batch). After the first release,
# never run this again: every schema change becomes a new migration (`flask db migrate -m "why"`).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f migrations/versions/*.py
DATABASE_URL="sqlite:///$tmp/empty.db" FLASK_APP=app .venv/bin/flask db migrate -m "initial schema" >/dev/null 2>&1
ls migrations/versions/
