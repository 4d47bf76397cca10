"""Several real OS processes running ``run_due`` at once on one database (SQLite first of all).

SPEC §1/§6: with Django's default SQLite settings (no ``timeout``, no ``transaction_mode``) two
runners never execute the same (job, slot, attempt), every due slot is executed, and nobody
crashes with "database is locked". The children connect to this test's database file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from routines import api
from routines.models import Job, Run
from tests.support.jobs import FAIL, RUN, T0, every, make, once

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
Starter = Callable[[str, list[str]], subprocess.Popen[str]]
SLOTS = 10  # each job has this many missed slots at NOW
NOW = T0 + timedelta(seconds=SLOTS - 1, milliseconds=500)
# Children set Django up, then wait for the go file so that they all start at the same moment.
READY = """
import os, sys, time, django
django.setup()
go = sys.argv.pop(1)
while not os.path.exists(go):
    time.sleep(0.005)
"""
COMMAND = (
    READY
    + """
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "run_due", *sys.argv[1:]])
"""
)
DRIVER = (
    READY
    + """
from routines import api
executed = []
while True:
    batch = api.run_due({"now": sys.argv[1], "limit": int(sys.argv[2]), "runner_id": sys.argv[3]})
    if not batch:
        break
    executed += [r.run.run_id for r in batch]
print(len(executed))
"""
)


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "ROUTINES_USE_TEST_DB": "1",
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture
def start(tmp_path: Path) -> Callable[[str, list[str]], subprocess.Popen[str]]:
    go = tmp_path / "go"

    def start(code: str, args: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", code, str(go), *args],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    return start


def finish(procs: list[subprocess.Popen[str]], go: Path) -> list[str]:
    go.touch()
    outputs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        assert "locked" not in stderr and "Traceback" not in stderr, stderr
        outputs.append(stdout)
    return outputs


Expected = dict[str, tuple[int, int]]  # job_id -> (slots due at NOW, attempts per slot)


@pytest.fixture
def workload() -> Expected:
    """More due jobs than a batch holds, some with missed slots to catch up, some failing once."""
    expected: Expected = {}
    for i in range(100):
        failing = i % 5 == 0
        job_id = f"once{i:03d}"
        make(job_id, once(T0), FAIL if failing else RUN, retry_policy={"max_attempts": 2})
        expected[job_id] = (1, 2 if failing else 1)
    for i in range(16):
        failing = i % 4 == 0
        job_id = f"tick{i:02d}"
        make(job_id, every(1000, catch_up=True), FAIL if failing else RUN, retry_policy={"max_attempts": 2})
        expected[job_id] = (SLOTS, 2 if failing else 1)
    return expected


def assert_every_slot_ran_exactly_once(expected: Expected) -> None:
    keys = Counter(Run.objects.values_list("job_id", "slot_at", "attempt"))
    duplicates = {k: n for k, n in keys.items() if n > 1}
    assert duplicates == {}
    assert set(keys) == {
        (job_id, T0 + timedelta(seconds=s), a)
        for job_id, (slots, attempts) in expected.items()
        for s in range(slots)
        for a in range(1, attempts + 1)
    }
    assert not Run.objects.filter(status="running").exists()
    assert api.list_due({"at": NOW}) == []
    ticks = Job.objects.filter(job_id__startswith="tick")
    assert set(ticks.values_list("next_run_at", flat=True)) == {T0 + timedelta(seconds=SLOTS)}


def test_the_default_sqlite_settings_are_in_use() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    assert "OPTIONS" not in settings.DATABASES["default"] or not settings.DATABASES["default"]["OPTIONS"]


def test_concurrent_run_due_commands_execute_each_slot_exactly_once(
    workload: Expected, start: Starter, tmp_path: Path
) -> None:
    procs = [start(COMMAND, ["--json", "--now", NOW.isoformat(), "--runner-id", f"p{i}"]) for i in range(4)]
    outputs = finish(procs, tmp_path / "go")
    reported = [row["run_id"] for out in outputs for row in json.loads(out)]
    assert len(reported) == len(set(reported)) == Run.objects.count()
    # Which runner wins how much depends on scheduling; the small-batch test below forces sharing.
    assert_every_slot_ran_exactly_once(workload)


def test_concurrent_small_batch_drivers_execute_each_slot_exactly_once(
    workload: Expected, start: Starter, tmp_path: Path
) -> None:
    """Tiny batches make the runners meet on the write lock as often as possible."""
    procs = [start(DRIVER, [NOW.isoformat(), str(limit), f"d{i}"]) for i, limit in enumerate((1, 2, 3, 5))]
    counts = [int(out) for out in finish(procs, tmp_path / "go")]
    assert sum(counts) == Run.objects.count()
    assert len(set(Run.objects.values_list("runner_id", flat=True))) > 1, "only one runner got any work"
    assert_every_slot_ran_exactly_once(workload)
