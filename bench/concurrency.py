"""Throughput of 1 and 4 ``run_due`` processes on the 5,000-job workload, and claim round trips.

    .venv/bin/python bench/concurrency.py [postgres|mysql|sqlite ...] [--jobs N]

Defaults to postgres and mysql (servers as in README's Testing section). For each database it
creates a scratch database, loads tests/support/processes.py's mixed workload (half ``once``, a tenth of
them failing twice; half ``interval`` with catch-up, 2 missed slots: 8,000 runs for 5,000 jobs),
starts the processes, releases them together and times them until the last one exits. It prints
numbers; it asserts nothing about time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def bench(db: str, jobs: int) -> None:
    os.environ.update(ROUTINES_TEST_DB=db, ROUTINES_TEST_SUFFIX=f"bench_{os.getpid()}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(ROOT))
    import logging

    import django

    django.setup()
    logging.disable(logging.CRITICAL)  # the journal of 8,000 runs is not the point here
    from django.db import connection

    from routines import api
    from routines.models import Run
    from routines.runner import Runner
    from tests.support.processes import NOW, create_workload, race

    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        version = connection.cursor().connection.info.server_version if db == "postgres" else None
        label = {"postgres": f"PostgreSQL {version}", "mysql": "MariaDB/MySQL", "sqlite": "SQLite"}[db]
        if db == "mysql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                label = f"MariaDB {cursor.fetchone()[0]}"
        for processes in (1, 4):
            api.clear()
            create_workload(jobs)
            seconds = race(processes, "--now", NOW.isoformat(), runner_prefix="b")
            runs = Run.objects.count()
            print(
                f"{label:<22} {processes} process{'es' if processes > 1 else '  '}: {jobs} jobs, {runs} runs"
                f" in {seconds:5.2f} s = {jobs / seconds:6.0f} jobs/s, {runs / seconds:6.0f} runs/s",
                flush=True,
            )
        api.clear()
        create_workload(jobs)
        statements: list[str] = []

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            statements.append(sql.split()[0].upper())
            return execute(sql, params, many, context)

        runner = Runner(now=NOW)
        with connection.execute_wrapper(count):
            claims = runner.claim(100)
            claim_statements = list(statements)
            runs = len(runner.execute_batch(claims)) + len(runner.run())
        print(
            f"{label:<22} claim of a {len(claims)}-job batch: {len(claim_statements)} statements"
            f" ({', '.join(claim_statements)}) + commit; all of run_due: {len(statements) / runs:.2f} per run",
            flush=True,
        )
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def main(argv: list[str]) -> None:
    jobs = 5000
    if "--jobs" in argv:
        i = argv.index("--jobs")
        jobs = int(argv[i + 1])
        del argv[i : i + 2]
    dbs = argv or ["postgres", "mysql"]
    if len(dbs) == 1:
        bench(dbs[0], jobs)
        return
    for db in dbs:  # one process per database: Django's settings are chosen once per process
        subprocess.run([sys.executable, __file__, db, "--jobs", str(jobs)], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
