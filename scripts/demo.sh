#!/usr/bin/env bash
# Run the example project on SQLite: migrate, create the demo routines, let run_due execute what
# is due, and print the newest runs. One command from a fresh clone: bash scripts/demo.sh
#
# The demo needs the runtime only (Django, DRF, django-filter, drf-spectacular, cronsim), so it
# installs the project without the test extras into its own virtualenv, .venv-demo, once; the
# development .venv (scripts/venv.sh) is left alone. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=.venv-demo
py=$venv/bin/python
step() { printf '\n==> %s\n' "$*"; }

if [ ! -x "$py" ]; then
  step "Creating the virtualenv $venv (once)"
  "${PYTHON:-python3}" -m venv "$venv"
fi
stamp=$venv/.installed-$(cksum < pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
  step "Installing routines and its runtime dependencies into $venv (once, no test extras)"
  "$py" -m pip install --disable-pip-version-check --progress-bar on -e "$root"
  "$py" -c "import routines, django, rest_framework, django_filters, drf_spectacular, cronsim"
  touch "$stamp"
fi

cd example_project
manage() { "$root/$py" manage.py "$@"; }

step "Migrating the SQLite database (example_project/db.sqlite3)"
manage migrate --verbosity 0
step "Creating the demo routines (existing ones are kept)"
manage demo
step "Running what is due: manage.py run_due"
manage run_due
step "The newest runs, newest first"
manage shell --verbosity 0 -c "
from routines.models import Run
for r in Run.objects.order_by('-started_at', '-run_id')[:15]:
    slot = f'{r.slot_at:%H:%M}' if r.slot_at else 'manual'
    print(f'  {r.started_at:%H:%M:%S}  {r.job_id:<22} slot {slot:<6} attempt {r.attempt}  {r.status:<9} {r.result or r.error}')
"
echo
echo "demo.flaky-webhook fails on purpose: its target always answers HTTP 503, to show retries"
echo "(3 attempts per slot) and catch-up (it replays the slots it missed). The other routines succeed."
echo
echo "See them in the admin: (cd example_project && ../$venv/bin/python manage.py runserver)"
echo "then open http://127.0.0.1:8000/admin/routines/job/ and log in with the account printed above."
