"""Helpers for tests and benches that run real ``run_due`` processes against the test database.

The children run ``tests.support.process_driver`` with ``ROUTINES_USE_TEST_DB=1``, so they connect to the
database the calling pytest process (or bench) created.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

from routines import targets, validation
from routines.models import Job
from routines.times import UTC

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
# The mixed workload's clock: every interval job has SLOTS missed slots at NOW.
SLOTS = 2
NOW = T0 + timedelta(seconds=SLOTS - 1, milliseconds=500)
FAIL = {"type": "run", "outcome": "failed", "error": {"reason": "nope"}}


def child_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "ROUTINES_USE_TEST_DB": "1",
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    return env


def start(*args: str, go: Path | None = None, log: Path | None = None, **env: str) -> subprocess.Popen[str]:
    """Start ``run_due ARGS`` in a child process (waiting for ``go`` to exist, when given).

    Output goes to pipes, or to the file ``log`` for a long-lived child read while it runs.
    """
    command = [sys.executable, "-m", "tests.support.process_driver"]
    if go is not None:
        command += ["--go", str(go)]
    out: Any = subprocess.PIPE if log is None else log.open("w")
    try:
        return subprocess.Popen(
            [*command, *args],
            cwd=ROOT,
            env=child_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
            text=True,
        )
    finally:
        if log is not None:
            out.close()


def race(processes: int, *args: str, runner_prefix: str = "p") -> float:
    """For the benchmarks: ``processes`` run_due children released together once each has set
    Django up, and the seconds from the release to the last exit. A failed child stops the bench."""
    go = Path(tempfile.mkdtemp()) / "go"
    procs = [start(*args, "--runner-id", f"{runner_prefix}{i}", go=go) for i in range(processes)]
    time.sleep(2.0)  # let them all set Django up and connect
    began = time.perf_counter()
    go.touch()
    for proc in procs:
        _, stderr = proc.communicate()
        if proc.returncode:
            raise SystemExit(stderr)
    return time.perf_counter() - began


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Workload:
    """Mixed due jobs at NOW: which (job, slot, attempt) must run exactly once."""

    expected: frozenset[tuple[str, datetime, int]]
    jobs: int


def create_workload(n: int) -> Workload:
    """``n`` jobs due at NOW: half ``once`` (every fifth of those fails twice and is exhausted),
    half ``interval`` with ``catch_up`` and SLOTS missed slots each.

    Rows are normalised exactly as ``api.create`` does, then inserted in bulk: creating 5,000
    jobs one call at a time would cost more than running them.
    """
    now = timezone.now()
    jobs: list[Job] = []
    expected: set[tuple[str, datetime, int]] = set()
    for i in range(n):
        job_id = f"job{i:05d}"
        spec: dict[str, Any] = {"job_id": job_id, "target": {"type": "run"}}
        if i % 2:
            spec["schedule"] = {"type": "interval", "every_ms": 1000, "start_at": T0, "catch_up": True}
            expected |= {(job_id, T0 + timedelta(seconds=s), 1) for s in range(SLOTS)}
        else:
            at = T0 + timedelta(milliseconds=i % 1000)
            spec["schedule"] = {"type": "once", "at": at}
            if i % 10 == 0:
                spec.update(target=FAIL, retry_policy={"max_attempts": 2})
                expected |= {(job_id, at, 1), (job_id, at, 2)}
            else:
                expected.add((job_id, at, 1))
        data = validation.normalize_job(spec, now=now, tz=UTC, validate_target=targets.validate, max_payload_bytes=None)
        jobs.append(
            Job(
                **data,
                schedule_type=data["schedule"]["type"],
                target_type=data["target"]["type"],
                created_at=now,
                updated_at=now,
            )
        )
    Job.objects.bulk_create(jobs, batch_size=500)
    return Workload(frozenset(expected), n)


def cut_connections() -> int:
    """Kill every other session on this test database (as a database restart would)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int(cursor.fetchone()[0])
        cursor.execute("SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()")
        ids = [row[0] for row in cursor.fetchall()]
        for pid in ids:
            cursor.execute(f"KILL CONNECTION {int(pid)}")
        return len(ids)


def allow_connections(allowed: bool) -> None:
    """PostgreSQL: refuse (or accept again) new connections to this test database: an outage."""
    name = connection.settings_dict["NAME"]
    with connection._nodb_cursor() as cursor:  # a database cannot refuse its own session
        cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}')
