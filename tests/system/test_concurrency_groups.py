"""Concurrency groups across real runner processes, on SQLite, PostgreSQL and MariaDB.

Every execution appends ``start``/``end`` lines to one file from inside the target (apart from
our own Run rows); appends from several processes land in the order they happen, so replaying
the file gives how many jobs of each group were executing at every moment.
"""

from __future__ import annotations

import re
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from routines import api
from routines.clock import db_now
from routines.models import Job, Run
from tests.support.processes import start, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

GROUPS, PER_GROUP, LIMIT, RUNNERS = 5, 10, 2, 4


def logged(log: Path, seconds: float) -> dict[str, Any]:
    return {
        "type": "callable",
        "path": "tests.support.callables.logged",
        "kwargs": {"log": str(log), "seconds": seconds},
    }


def replay(log: Path) -> tuple[dict[str, int], Counter[str], Counter[str]]:
    """The most jobs of each group executing at once, and how often each job started and ended."""
    running: Counter[str] = Counter()
    peak: dict[str, int] = {}
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        what, job_id, *_ = line.split()
        group = job_id.split("-")[0]
        if what == "start":
            starts[job_id] += 1
            running[group] += 1
            peak[group] = max(peak.get(group, 0), running[group])
        else:
            ends[job_id] += 1
            running[group] -= 1
    return peak, starts, ends


def finish(proc: Any, timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (out, err)
    assert "Traceback" not in err, err
    return str(out)


def test_four_runners_never_run_more_of_a_group_than_its_limit(tmp_path: Path) -> None:
    log = tmp_path / "executions.log"
    at = db_now() - timedelta(seconds=10)
    names = [f"g{g}-{i}" for i in range(PER_GROUP) for g in range(GROUPS)]
    for n, name in enumerate(names):
        api.create(
            {
                "job_id": name,
                "schedule": {"type": "once", "at": at + timedelta(milliseconds=n)},
                "target": logged(log, 0.1),
                "concurrency_key": name.split("-")[0],
                "concurrency_limit": LIMIT,
            }
        )
    go = tmp_path / "go"
    procs = [start("--runner-id", f"p{i}", go=go) for i in range(RUNNERS)]
    go.touch()
    outputs = [finish(p) for p in procs]

    peak, starts, ends = replay(log)
    assert max(peak.values()) <= LIMIT, f"a group ran more than {LIMIT} at once: {peak}"
    assert starts == ends == Counter({name: 1 for name in names}), "a job ran twice, or not at all"
    assert Counter(Run.objects.values_list("job_id", flat=True)) == Counter(names)
    assert set(Run.objects.values_list("status", flat=True)) == {"completed"}
    assert set(Job.objects.values_list("state", flat=True)) == {"completed"}
    assert set(Run.objects.values_list("attempt", flat=True)) == {1}, "a held-back job was charged an attempt"
    executed = [int(re.search(r"(\d+) executed", out).group(1)) for out in outputs]  # type: ignore[union-attr]
    assert sum(executed) == len(names)
    # The limit was reached, so it held something back: the test would see a runner exceed it.
    assert list(peak.values()).count(LIMIT) >= 1, peak


def test_a_killed_runners_place_in_its_group_frees_when_its_lease_expires(tmp_path: Path) -> None:
    log = tmp_path / "executions.log"
    at = db_now() - timedelta(seconds=10)
    for n, (name, seconds) in enumerate([("g-stuck", 60.0), ("g-next", 0.0)]):
        api.create(
            {
                "job_id": name,
                "schedule": {"type": "once", "at": at + timedelta(milliseconds=n)},
                "target": logged(log, seconds),
                "retry_policy": {"max_attempts": 1},
                "concurrency_key": "g",
            }
        )
    victim = start("--runner-id", "victim", "--claim-ttl-ms", "3000")
    wait_for(lambda: log.exists() and "start g-stuck" in log.read_text(), what="g-stuck to start")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    # In this process, not a new one: a loaded machine can take longer than the lease to start
    # Django, and after the lease has expired g-next is rightly free to run.
    assert api.run_due({"runner_id": "early"}) == [], "g-next ran beside a job of its group still held"
    lease = Job.objects.get(job_id="g-stuck").lease_expires_at
    assert lease is not None and db_now() < lease, "the check above ran after the lease expired"
    assert api.get("g-next").state == "active"
    wait_for(lambda: db_now() > lease, what="the lease to expire")
    finish(start("--runner-id", "late"))
    assert api.get("g-stuck").state == "exhausted"
    assert api.get("g-next").state == "completed"
    assert "start g-next" in log.read_text()
