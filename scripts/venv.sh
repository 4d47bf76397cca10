# Sourced by the other scripts: create .venv once, install the project into it, activate it.
# The MySQL driver compiles against libmariadb, so it is installed only when MySQL tests are asked for.
PY=${PYTHON:-python3}
extras="test,postgres"
if [ "${ROUTINES_TEST_MYSQL:-}" = 1 ]; then extras="$extras,mysql"; fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=.venv/.installed-$extras-$(cksum < pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
  # pip and setuptools are chatty even with --quiet; keep their output for when it fails.
  log=.venv/install.log
  echo "Installing routines and its dependencies into .venv (once)..."
  if ! { python -m pip install --quiet --upgrade pip && python -m pip install --quiet -e ".[$extras]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "installing the project failed (see above)" >&2
    exit 1
  fi
  python -c "import routines, django, rest_framework, pytest" || { echo "installing the project failed" >&2; exit 1; }
  touch "$stamp"
fi
