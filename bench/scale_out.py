"""Throughput of 1, 2 and 4 ``run_due`` processes on PostgreSQL over N no-op jobs.

    .venv/bin/python bench/scale_out.py [--jobs N] [--processes 1,2,4]

Creates a scratch PostgreSQL database (server as in tests/settings.py), then for each process
count loads N ``once`` jobs with the no-op ``run`` target, all due, starts that many ``run_due``
processes with distinct runner ids, releases them together and times them until the last exits.
It checks every job ran exactly once and prints jobs/s; it asserts nothing about time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(jobs: int) -> None:
    from django.utils import timezone

    from routines import targets, validation
    from routines.models import Job
    from routines.times import UTC
    from tests.support.processes import T0

    now = timezone.now()
    rows = []
    for i in range(jobs):
        spec = {"job_id": f"noop{i:06d}", "schedule": {"type": "once", "at": T0}, "target": {"type": "run"}}
        data = validation.normalize_job(spec, now=now, tz=UTC, validate_target=targets.validate, max_payload_bytes=None)
        rows.append(Job(**data, schedule_type="once", target_type="run", created_at=now, updated_at=now))
    Job.objects.bulk_create(rows, batch_size=1000)


def measure(processes: int, jobs: int) -> float:
    from routines import api
    from routines.models import Run
    from tests.support.processes import NOW, race

    api.clear()
    load(jobs)
    seconds = race(processes, "--now", NOW.isoformat(), runner_prefix="host")
    runs = Run.objects.count()
    if runs != jobs or Run.objects.values("job_id").distinct().count() != jobs:
        raise SystemExit(f"{runs} runs for {jobs} jobs: not exactly once")
    return seconds


def main(argv: list[str]) -> None:
    jobs, counts = 5000, [1, 2, 4]
    if "--jobs" in argv:
        jobs = int(argv[argv.index("--jobs") + 1])
    if "--processes" in argv:
        counts = [int(n) for n in argv[argv.index("--processes") + 1].split(",")]
    os.environ.update(ROUTINES_TEST_DB="postgres", ROUTINES_TEST_SUFFIX=f"scale_{os.getpid()}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(ROOT))
    import logging

    import django

    django.setup()
    logging.disable(logging.CRITICAL)
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        version = connection.cursor().connection.info.server_version
        print(f"PostgreSQL {version}, {os.cpu_count()} CPUs, {jobs} no-op jobs", flush=True)
        for processes in counts:
            seconds = measure(processes, jobs)
            print(
                f"{processes} run_due process{'es' if processes > 1 else '  '}: "
                f"{seconds:6.2f} s = {jobs / seconds:6.0f} jobs/s",
                flush=True,
            )
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


if __name__ == "__main__":
    main(sys.argv[1:])
