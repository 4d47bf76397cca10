#!/usr/bin/env bash
# Set up a virtualenv and run the test suite. SQLite always; PostgreSQL and MariaDB as well when
# ROUTINES_TEST_POSTGRES=1 / ROUTINES_TEST_MYSQL=1 name them (see CONTRIBUTING.md). Extra args go to pytest.
# ROUTINES_TEST_PARALLEL=1 runs the databases side by side, each pytest writing to its own log that
# is printed when it ends: every run has its own test database, and much of a run is spent waiting
# on leases and child processes, not on the CPU.
# ROUTINES_CI=1 (what .ci/run sets) runs the tests marked db_independent (the browser, packaging,
# the worker fleets, the schema document...) on SQLite only, not again on PostgreSQL and MariaDB;
# everyone else runs everything everywhere. A -m of your own, in the extra args, wins.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
again=()
if [ "${ROUTINES_CI:-}" = 1 ]; then again=(-m "not db_independent"); fi
dbs=(sqlite)
if [ "${ROUTINES_TEST_POSTGRES:-}" = 1 ]; then dbs+=(postgres); fi
if [ "${ROUTINES_TEST_MYSQL:-}" = 1 ]; then dbs+=(mysql); fi

suite() {  # suite DB [pytest args...]
  local db=$1
  shift
  if [ "$db" = sqlite ]; then
    ROUTINES_TEST_DB=$db python -m pytest "$@"
  else
    ROUTINES_TEST_DB=$db python -m pytest "${again[@]}" "$@"
  fi
}

status=0
if [ "${ROUTINES_TEST_PARALLEL:-}" = 1 ] && [ ${#dbs[@]} -gt 1 ]; then
  logs=$(mktemp -d)
  trap 'rm -rf "$logs"' EXIT
  declare -A pid
  for db in "${dbs[@]}"; do
    (
      t=$SECONDS rc=0
      suite "$db" "$@" >"$logs/$db" 2>&1 || rc=$?
      echo "--- $db: exit status $rc after $((SECONDS - t)) s" >>"$logs/$db"
      exit $rc
    ) &
    pid[$db]=$!
  done
  for db in "${dbs[@]}"; do
    rc=0
    wait "${pid[$db]}" || rc=$?
    echo "--- $db"
    cat "$logs/$db"
    [ $rc = 0 ] || status=1
  done
else
  for db in "${dbs[@]}"; do
    suite "$db" "$@" || status=1
  done
fi
exit $status
