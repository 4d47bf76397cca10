#!/usr/bin/env bash
# Set up a virtualenv, then run the example project on SQLite: migrate, create the demo
# routines, and let run_due execute what is due.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
cd example_project
python manage.py migrate --verbosity 0
python manage.py demo
python manage.py run_due
echo
echo "Run history:"
python manage.py shell --verbosity 0 -c "
from routines.models import Run
for r in Run.objects.order_by('started_at')[:20]:
    print(f'  {r.started_at:%H:%M:%S}  {r.job_id:<22} attempt {r.attempt}  {r.status:<9} {r.result or r.error}')
"
echo
echo "See them in the admin: (cd example_project && ../.venv/bin/python manage.py runserver)"
echo "then open http://127.0.0.1:8000/admin/routines/job/ and log in with the account printed above."
