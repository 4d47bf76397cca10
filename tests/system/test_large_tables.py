"""Large tables: pruning 100,000 runs in bounded batches, and admin changelists whose query count
does not grow from 10 rows to 10,000.

These build their tables on every database; the small-table behaviour of the same code is in
tests/integration/test_pruning.py and test_admin_history.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone as django_timezone

from routines.models import Event, Job, Run
from routines.pruning import prune
from tests.support.pages import page

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
RUNS = "/admin/routines/run/"
EVENTS = "/admin/routines/event/"
JOBS = "/admin/routines/job/"


def _history(n: int) -> None:
    now = django_timezone.now()
    jobs = [
        Job(
            job_id=f"job{i:05d}",
            schedule={"type": "interval", "every_ms": 60_000, "start_at": now, "catch_up": False},
            schedule_type="interval",
            target={"type": "run"},
            target_type="run",
            idempotency_key=f"routine:job{i:05d}",
            next_run_at=now + timedelta(minutes=i),
            last_run_id=f"run_{i:05d}",
            last_run_at=now,
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    Job.objects.bulk_create(jobs, batch_size=500)
    runs = [
        Run(run_id=f"run_{i:05d}", job_id=f"job{i:05d}", status="completed", started_at=now, finished_at=now)
        for i in range(n)
    ]
    Run.objects.bulk_create(runs, batch_size=500)
    events = [Event(event_type="routine_created", job_id=f"job{i:05d}", payload={}, created_at=now) for i in range(n)]
    Event.objects.bulk_create(events, batch_size=500)


@pytest.mark.parametrize("url", [JOBS, RUNS, EVENTS, RUNS + "?kind=routine&status=completed"])
def test_changelists_make_the_same_number_of_queries_for_10_and_10000_rows(
    admin_client_: Client, django_assert_num_queries: Any, url: str
) -> None:
    _history(10)
    page(admin_client_, url)  # warm the session and content types
    with CaptureQueriesContext(connection) as ten:
        page(admin_client_, url)
    Job.objects.all().delete()
    Run.objects.all().delete()
    Event.objects.all().delete()
    _history(10_000)
    with django_assert_num_queries(len(ten)):
        html = page(admin_client_, url)
    assert html.count('class="action-checkbox"') == 100 or html.count("<tr") >= 100


def insert_runs_fast(rows: list[tuple[str, str, str, datetime]]) -> None:
    """100k rows through executemany: bulk_create's per-object work would dominate the test."""
    ops = connection.ops
    sql = (
        "INSERT INTO routines_run (run_id, job_id, kind, status, scope, metadata, steps, attempt, manual, "
        "started_at, job_created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    epoch = ops.adapt_datetimefield_value(datetime(1970, 1, 1, tzinfo=timezone.utc))
    values = [
        (run_id, job_id, "routine", status, "{}", "{}", "[]", 1, True, ops.adapt_datetimefield_value(at), epoch)
        for run_id, job_id, status, at in rows
    ]
    chunk = 80 if connection.vendor == "sqlite" else 1000  # old SQLite takes 999 parameters a statement
    head, row = sql.split(" VALUES ")
    with connection.cursor() as cursor:
        for i in range(0, len(values), chunk):
            part = values[i : i + chunk]
            cursor.execute(f"{head} VALUES {', '.join([row] * len(part))}", [v for r in part for v in r])


def test_100k_runs_are_pruned_in_bounded_batches() -> None:
    jobs, per_job = 50, 2000
    insert_runs_fast(
        [
            (
                f"run_{j}_{i}",
                f"job{j}",
                "running" if i == per_job - 1 and j % 10 == 0 else "completed",
                NOW - timedelta(days=60, minutes=i),
            )
            for j in range(jobs)
            for i in range(per_job)
        ]
    )
    batch = 5000
    expected = jobs * (per_job - 10) - (jobs // 10)  # keep 10 newest per job, and the running ones
    with CaptureQueriesContext(connection) as ctx:
        out = prune(timedelta(days=30), timedelta(days=90), keep_last=10, now=NOW, batch_size=batch)
    assert out["runs"] == expected
    batches = -(-expected // batch)
    assert len(ctx.captured_queries) <= 2 * (batches + 1) + 4
    assert Run.objects.count() == jobs * per_job - expected
    kept = Run.objects.filter(job_id="job0").order_by("-started_at")
    assert kept.count() == 11  # 10 newest + the old running one
    assert kept.filter(status="running").exists()
