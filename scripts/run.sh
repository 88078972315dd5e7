#!/usr/bin/env bash
# Install CenterOS into .venv and run it on the embedded default: SQLite and
# local storage under var/, the API and the admin on 127.0.0.1:8000 (ASGI,
# uvicorn), and a task worker beside it. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
HOST=${CENTEROS_HOST:-127.0.0.1}
PORT=${CENTEROS_PORT:-8000}
# Signed upload URLs point at the address this server listens on.
export CENTEROS_PUBLIC_URL=${CENTEROS_PUBLIC_URL:-http://$HOST:$PORT}

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .

.venv/bin/python manage.py migrate --no-input
# Idempotent: the first run creates the demo organisation, an admin user and
# a full-scope PAT and prints the password and the token once.
if [ ! -f var/.bootstrapped ]; then
    .venv/bin/python manage.py bootstrap --pat
    touch var/.bootstrapped
else
    .venv/bin/python manage.py bootstrap
fi

.venv/bin/python manage.py db_worker --queue-name '*' &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT INT TERM

echo "CenterOS is at http://$HOST:$PORT/ (admin: /admin/, API docs: /api/docs/)"
# The access log is off because signed upload URLs carry their token in the
# path; the audit log records every action instead.
.venv/bin/uvicorn centeros.asgi:application --host "$HOST" --port "$PORT" --no-access-log
