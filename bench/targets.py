"""Runs per second of each built-in target type through ``api.run_due`` on a fresh SQLite file.

    .venv/bin/python bench/targets.py [N]

Prints one line per type; compare ``callable`` and ``query`` (echo backend) against ``run`` to see
what the target itself costs on top of the runner's claim and finish writes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import django
from django.conf import settings

db = os.path.join(tempfile.mkdtemp(), "bench.sqlite3")
settings.configure(
    USE_TZ=True,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "routines"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
    ROUTINES={"CALLABLE_ALLOWLIST": ["bench.jobs.*"]},
    LOGGING_CONFIG=None,
)
django.setup()

from datetime import datetime, timezone  # noqa: E402

from routines import api  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
TARGETS = {
    "run": {"type": "run"},
    "callable": {"type": "callable", "path": "bench.jobs.noop", "kwargs": {"n": 1}},
    "query": {"type": "query", "session": {"kind": "routed", "opts": {}}, "prompt": "ping"},
}


def main(n: int) -> None:
    api.ensure_tables()
    for name, target in TARGETS.items():
        api.clear()
        for i in range(n):
            api.create({"job_id": f"{name}-{i}", "schedule": {"type": "once", "at": T0}, "target": target})
        start = time.perf_counter()
        results = api.run_due({"now": T0})
        seconds = time.perf_counter() - start
        ok = sum(r.outcome == "completed" for r in results)
        print(f"{name:<9} {len(results)} runs ({ok} completed) in {seconds:.2f} s: {len(results) / seconds:.0f} runs/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
