#!/usr/bin/env bash
# Build the documentation with Sphinx, warnings as errors, into docs/_build/html. The reference
# pages are generated from the code (docs/_ext/reference.py), so an undocumented setting, event
# type or exception fails this build. Extra args go to sphinx-build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
python -c "import sphinx, myst_parser, furo" 2>/dev/null || python -m pip install --quiet -e ".[docs]"
python -m sphinx -W --keep-going -q -b html "$@" docs docs/_build/html
echo "docs: built docs/_build/html/index.html"
