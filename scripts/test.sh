#!/usr/bin/env bash
# Set up a virtualenv and run the test suite. SQLite always; PostgreSQL and MariaDB as well when
# ROUTINES_TEST_POSTGRES=1 / ROUTINES_TEST_MYSQL=1 name them (see CONTRIBUTING.md). Extra args go to pytest.
# ROUTINES_CI=1 (what .ci/run sets) runs the tests marked db_independent (the browser, packaging,
# the worker fleets, the schema document...) on SQLite only, not again on PostgreSQL and MariaDB;
# everyone else runs everything everywhere. A -m of your own, in the extra args, wins.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
status=0
again=()
if [ "${ROUTINES_CI:-}" = 1 ]; then again=(-m "not db_independent"); fi
ROUTINES_TEST_DB=sqlite python -m pytest "$@" || status=1
if [ "${ROUTINES_TEST_POSTGRES:-}" = 1 ]; then
  ROUTINES_TEST_DB=postgres python -m pytest "${again[@]}" "$@" || status=1
fi
if [ "${ROUTINES_TEST_MYSQL:-}" = 1 ]; then
  ROUTINES_TEST_DB=mysql python -m pytest "${again[@]}" "$@" || status=1
fi
exit $status
