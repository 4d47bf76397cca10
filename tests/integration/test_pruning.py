"""api.prune / routines.pruning (SPEC §11): what is deleted, what is always kept, batches."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routines import api
from routines.exceptions import InvalidInput
from routines.models import Event, Run
from routines.pruning import parse_duration, prune

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def make_runs(job_id: str, ages_days: list[float], status: str = "completed") -> list[Run]:
    runs = [
        Run(
            run_id=f"run_{job_id}_{i}",
            job_id=job_id,
            status=status,
            started_at=NOW - timedelta(days=age),
            finished_at=None if status == "running" else NOW - timedelta(days=age),
            manual=True,
        )
        for i, age in enumerate(ages_days)
    ]
    return Run.objects.bulk_create(runs)


def run_ids() -> set[str]:
    return set(Run.objects.values_list("run_id", flat=True))


def test_parse_duration() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    for bad in ("", "30", "d", "-3d", "3y", "1.5d", "30 days", "99999999d", None):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_old_finished_runs_go_the_newest_of_each_job_stay() -> None:
    make_runs("a", [100, 90, 80, 70, 60, 1])
    make_runs("b", [200, 150])
    out = prune(timedelta(days=30), timedelta(days=90), keep_last=2, now=NOW)
    assert out["runs"] == 4
    assert run_ids() == {"run_a_4", "run_a_5", "run_b_0", "run_b_1"}


def test_running_runs_are_never_deleted() -> None:
    make_runs("a", [400, 300], status="running")
    make_runs("b", [400, 300], status="failed")
    assert prune(timedelta(days=1), timedelta(days=1), keep_last=0, now=NOW)["runs"] == 2
    assert run_ids() == {"run_a_0", "run_a_1"}


def test_keep_last_zero_keeps_nothing_old_and_recent_runs_stay() -> None:
    make_runs("a", [40, 20, 10])
    prune(timedelta(days=15), timedelta(days=90), keep_last=0, now=NOW)
    assert run_ids() == {"run_a_2"}


def test_events_older_than_retention_are_deleted() -> None:
    Event.objects.bulk_create(
        [
            Event(event_type="routine_created", job_id="a", payload={}, created_at=NOW - timedelta(days=d))
            for d in (1, 89, 91, 500)
        ]
    )
    assert prune(timedelta(days=30), timedelta(days=90), keep_last=10, now=NOW)["events"] == 2
    assert sorted((NOW - e).days for e in Event.objects.values_list("created_at", flat=True)) == [1, 89]


def test_dry_run_counts_and_deletes_nothing() -> None:
    make_runs("a", [100, 90, 80])
    Event.objects.create(event_type="x", job_id="a", payload={}, created_at=NOW - timedelta(days=100))
    assert prune(timedelta(days=30), timedelta(days=90), keep_last=1, dry_run=True, now=NOW) == {"runs": 2, "events": 1}
    assert Run.objects.count() == 3 and Event.objects.count() == 1


def test_defaults_come_from_settings(settings: pytest.FixtureRequest) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "PRUNE_RUNS_OLDER_THAN": "2d", "PRUNE_KEEP_LAST": 2}
    make_runs("a", [5, 4, 3, 1])
    prune(now=NOW)
    assert run_ids() == {"run_a_2", "run_a_3"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"runs_older_than": "30d"}, "runs_older_than"),
        ({"events_older_than": timedelta(days=-1)}, "events_older_than"),
        ({"keep_last": -1}, "keep_last"),
        ({"keep_last": True}, "keep_last"),
        ({"dry_run": "yes"}, "dry_run"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, field: str) -> None:
    make_runs("a", [100])
    with pytest.raises(InvalidInput) as err:
        api.prune(**kwargs)
    assert err.value.field == field
    assert Run.objects.count() == 1


def test_api_prune_deletes_through_the_real_clock() -> None:
    make_runs("a", [100, 90])
    assert api.prune(timedelta(days=30), timedelta(days=90), keep_last=1) == {"runs": 1, "events": 0}


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
