#!/usr/bin/env bash
# Set up a virtualenv and run the test suite. SQLite always; PostgreSQL and MariaDB as well when
# ROUTINES_TEST_POSTGRES=1 / ROUTINES_TEST_MYSQL=1 name them (see CONTRIBUTING.md). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
status=0
ROUTINES_TEST_DB=sqlite python -m pytest "$@" || status=1
if [ "${ROUTINES_TEST_POSTGRES:-}" = 1 ]; then
  ROUTINES_TEST_DB=postgres python -m pytest "$@" || status=1
fi
if [ "${ROUTINES_TEST_MYSQL:-}" = 1 ]; then
  ROUTINES_TEST_DB=mysql python -m pytest "$@" || status=1
fi
exit $status
