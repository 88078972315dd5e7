#!/usr/bin/env bash
# Install CenterOS with its test tools into .venv and run the whole test suite.
#
# The suite runs on the database DATABASE_URL names (PostgreSQL in CI) and on
# SQLite when it is unset; tests that need PostgreSQL are then skipped with
# the reason shown. CENTEROS_TEST_DATA names the folder of recorded robot
# files (default ../shared/data next to the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

# The admin's browser tests drive Debian's chromium through playwright;
# `playwright install` downloads its own browsers and is not used. Without
# root the install is left to the machine's owner and the tests skip (or
# fail under CI=true).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update && apt-get install -y --no-install-recommends chromium
fi

export CENTEROS_TEST_DATA=${CENTEROS_TEST_DATA:-$(cd .. && pwd)/shared/data}
# Test runs keep their SQLite files and secret key out of the working var/.
export CENTEROS_DATA_DIR=${CENTEROS_DATA_DIR:-$(mktemp -d)}

.venv/bin/python manage.py check --fail-level WARNING
.venv/bin/python manage.py makemigrations --check --dry-run
.venv/bin/ruff check .
.venv/bin/ruff format --check .

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests; that is a failure here." >&2
    exit 1
fi
exit "$status"
