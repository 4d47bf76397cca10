"""api.prune / routines.pruning (SPEC §11): what is deleted, what is always kept, batches."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

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
