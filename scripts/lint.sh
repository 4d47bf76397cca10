#!/usr/bin/env bash
# The static checks CI runs: ruff (style and bugs), import-linter (the package's layers), mypy --strict
# (types), and that every model change has its migration.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
python -c "import mypy, importlinter" 2>/dev/null || python -m pip install --quiet -e ".[lint]"
status=0
ruff check routines tests bench example_project || status=1
ruff format --check routines tests bench example_project || status=1
lint-imports --no-cache || status=1
mypy || status=1
ROUTINES_TEST_DB=sqlite python -m django makemigrations routines --check --dry-run --settings tests.settings || status=1
exit $status
