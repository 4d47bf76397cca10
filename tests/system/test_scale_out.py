"""Scale-out with real worker fleets and real runner hosts.

* The ``task`` target hands 1,000 due routines to two real ``rqworker`` processes (django-tasks-rq on
  Redis) and to two real ``celery worker`` processes (django-tasks-fennel on RabbitMQ): each is
  executed exactly once by the fleet, counted by the task itself in Redis, and its result is read
  back from the Run through ``api.task_result``.
* Four ``run_due --loop`` hosts on PostgreSQL, two of them with their wall clock minutes off by
  libfaketime, execute every (job, slot) of 500 interval jobs exactly once, none early.

Each test skips, saying why, when its server, package or faketime is missing.
"""

from __future__ import annotations

import importlib.util
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from routines import api
from routines.clock import db_now
from routines.models import Run
from tests.support import fleet
from tests.support.processes import start, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

# The worker fleets' subject is the brokers and the task backends, not the database: they are
# marked db_independent (CI runs them on SQLite only). The skewed runner hosts below are about
# claims on PostgreSQL and are not.
ROUTINES = 1000
FLEET = 2


def need(package: str, backend: str, host: str, port: int, server: str) -> None:
    if importlib.util.find_spec(package) is None or backend not in getattr(settings, "TASKS", {}):
        pytest.skip(f"needs the {package} package (pip install -e '.[scale]')")
    if not fleet.reachable(host, port):
        pytest.skip(f"needs {server} on {host}:{port}")


@pytest.fixture
def redis_counts() -> Any:
    """The per-job execution counts the fleet's task writes, emptied before and after the test."""
    need("redis", "default", "127.0.0.1", 6379, "Redis")
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"{settings.SCALE_QUEUE}:executions"
    client.delete(key)
    yield lambda: {k.decode(): int(v) for k, v in client.hgetall(key).items()}
    client.delete(key)


def due_task_routines(task_name: str) -> list[str]:
    at = db_now() - timedelta(seconds=1)
    ids = [f"fleet{i:04d}" for i in range(ROUTINES)]
    api.create_many(
        {
            "job_id": job_id,
            "schedule": {"type": "once", "at": at},
            "target": {"type": "task", "name": task_name, "args": [job_id]},
        }
        for job_id in ids
    )
    return ids


def enqueue_all(ids: list[str]) -> None:
    """One real ``run_due`` process enqueues every due routine; its Runs complete at enqueue time."""
    proc = start("--runner-id", "enqueuer")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, (stdout, stderr)
    assert Run.objects.filter(status="completed").count() == len(ids), stderr


def assert_executed_once_each(ids: list[str], counts: Any, logs: Path) -> None:
    def done() -> bool:
        return sum(counts().values()) >= len(ids)

    try:
        wait_for(done, timeout=90, what=f"the fleet to execute {len(ids)} tasks")
    except AssertionError:
        raise AssertionError("\n".join(p.read_text()[-2000:] for p in sorted(logs.glob("*.log")))) from None
    time.sleep(1.0)  # a duplicate delivery would show up now
    assert counts() == dict.fromkeys(ids, 1)


def assert_results_read_back(ids: list[str], backend: str) -> set[int]:
    """Every Run leads to its task's finished result; returns the worker pids that produced them."""
    pids = set()
    runs = {run.job_id: run for run in Run.objects.all()}
    for job_id in ids:
        run = runs[job_id]
        assert run.result["backend"] == backend
        result = wait_for(lambda: finished(run.run_id), timeout=30, what=f"the result of {job_id}")
        assert result.status.name == "SUCCESSFUL", result.errors
        assert result.return_value["job_id"] == job_id
        assert result.return_value["execution"] == 1
        pids.add(result.return_value["worker_pid"])
    return pids


def finished(run_id: str) -> Any:
    result = api.task_result(run_id)
    return result if result.is_finished else None


@pytest.mark.db_independent
def test_rq_workers_execute_every_enqueued_routine_once(redis_counts: Any, tmp_path: Path) -> None:
    need("django_tasks_rq", "rq", "127.0.0.1", 6379, "Redis")
    import django_rq

    queue = django_rq.get_queue(settings.SCALE_QUEUE)
    queue.empty()
    ids = due_task_routines("tests.support.fleet_tasks.tally_rq")
    workers = [(fleet.rq_worker(f"rq{i}-{settings.SCALE_QUEUE}"), None) for i in range(FLEET)]
    with fleet.processes(workers, tmp_path):
        enqueue_all(ids)
        assert_executed_once_each(ids, redis_counts, tmp_path)
        pids = assert_results_read_back(ids, "rq")
    assert len(pids) == FLEET, "both workers took a share of the work"
    queue.empty()


@pytest.mark.db_independent
def test_celery_workers_execute_every_enqueued_routine_once(redis_counts: Any, tmp_path: Path) -> None:
    need("django_tasks_fennel", "celery", "127.0.0.1", 5672, "RabbitMQ")
    from django_tasks_fennel.app import app

    ids = due_task_routines("tests.support.fleet_tasks.tally_celery")
    workers = [(fleet.celery_worker(f"celery{i}"), None) for i in range(FLEET)]
    try:
        with fleet.processes(workers, tmp_path):
            enqueue_all(ids)
            assert_executed_once_each(ids, redis_counts, tmp_path)
            pids = assert_results_read_back(ids, "celery")
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(settings.SCALE_QUEUE)
    assert len(pids) == FLEET, "both workers took a share of the work"


# Runner hosts with skewed clocks --------------------------------------------------------------

JOBS = 500
EVERY = timedelta(seconds=2)
HOSTS = [("on-time-a", None), ("ahead-5m", "+5m"), ("on-time-b", None), ("behind-4m", "-4m")]


@pytest.fixture
def executions() -> Any:
    """A table the callable target writes one row to per execution, apart from routines' own Runs."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (ROUTINES_TEST_DB=postgres)")
    if not fleet.has_faketime():
        pytest.skip("needs libfaketime (apt-get install faketime)")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE scale_executions (job_id text, slot_at timestamptz, runner_pid int,"
            " executed_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE scale_executions")


def test_runner_hosts_with_skewed_clocks_execute_each_slot_once(executions: None, tmp_path: Path) -> None:
    start_at = db_now() + timedelta(seconds=3)
    target = {"type": "callable", "path": "tests.support.callables.record_execution"}
    schedule = {
        "type": "interval",
        "every_ms": int(EVERY.total_seconds() * 1000),
        "start_at": start_at,
        "catch_up": True,
    }
    api.create_many({"job_id": f"host{i:03d}", "schedule": schedule, "target": target} for i in range(JOBS))
    hosts = [
        (fleet.run_due_host(name, "--loop", "--max-wait", "0.2"), fleet.faketime_env(offset) if offset else None)
        for name, offset in HOSTS
    ]
    with fleet.processes(hosts, tmp_path) as procs:
        wait_for(lambda: db_now() > start_at + 4 * EVERY, timeout=30, what="four slots to pass")
        assert all(p.poll() is None for p in procs), [p.read_text() for p in tmp_path.glob("*.log")]
    runs = list(Run.objects.values_list("job_id", "slot_at", "attempt", "started_at", "status"))
    assert runs, [p.read_text() for p in tmp_path.glob("*.log")]
    assert max(Counter((job, slot) for job, slot, *_ in runs).values()) == 1
    assert all(started >= slot for _, slot, _, started, _ in runs), "a slot ran before it was due"
    assert {(attempt, status) for _, _, attempt, _, status in runs} == {(1, "completed")}
    by_job: dict[str, list[Any]] = {}
    for job, slot, *_ in runs:
        by_job.setdefault(job, []).append(slot)
    assert len(by_job) == JOBS
    for slots in by_job.values():  # no slot skipped either: start_at, +2 s, +4 s, ...
        assert sorted(slots) == [start_at + k * EVERY for k in range(len(slots))]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scale_executions WHERE executed_at < slot_at")
        assert cursor.fetchone()[0] == 0, "a slot executed before it was due by the database's clock"
        cursor.execute("SELECT job_id, slot_at, count(*) FROM scale_executions GROUP BY job_id, slot_at")
        executed = {(job, slot): n for job, slot, n in cursor.fetchall()}
    assert executed == {(job, slot): 1 for job, slot, *_ in runs}
    runners = set(Run.objects.values_list("runner_id", flat=True))
    assert runners == {name for name, _ in HOSTS}, "every host took a share, skewed ones included"
