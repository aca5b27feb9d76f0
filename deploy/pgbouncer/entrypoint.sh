#!/bin/sh
# Writes the auth file from POSTGRES_PASSWORD (PgBouncer hashes plain passwords itself), then runs.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
umask 077
printf '"unionevents" "%s"\n' "$POSTGRES_PASSWORD" > /etc/pgbouncer/userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
