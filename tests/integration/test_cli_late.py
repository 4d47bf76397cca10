"""``manage.py routines late`` and ``check``: late jobs listed, journalled once, and check's exit status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routines import api
from routines.models import Event, Job
from routines.records import job_record
from tests.support.cli import routines
from tests.support.jobs import EARLY, make, once

pytestmark = pytest.mark.django_db


def test_check_refuses_a_bad_max_late_naming_it() -> None:
    with pytest.raises(CommandError, match=r"--max-late: .*like 90s, 5m, 2h, 1d"):
        routines("check", "--max-late", "soon")


def test_late_lists_late_jobs_and_journals_each_slot_once() -> None:
    make("stale", once(EARLY))
    make("fresh", once(timezone.now() + timedelta(days=1)))
    result = routines("late")
    [header, row] = result.out.splitlines()
    assert header.split()[:2] == ["JOB_ID", "STATE"] and row.split()[0] == "stale"
    assert routines("late", "--json").json == [job_record(api.get("stale"))]
    assert Event.objects.filter(event_type="routine_slot_late", job_id="stale").count() == 1


def test_late_with_nothing_late_says_so() -> None:
    make("fresh", once(timezone.now() + timedelta(days=1)))
    assert routines("late").out.strip() == "nothing is late"
    assert routines("late", "--json").json == []


def test_check_is_0_when_nothing_is_late() -> None:
    make("fresh", once(timezone.now() + timedelta(days=1)))
    result = routines("check", "--json")
    assert result.exit_code == 0
    assert result.json == {"status": "ok", "due": 0, "late": 0, "late_jobs": []}
    assert routines("check").out.startswith("ok: nothing is late")


def test_check_is_2_when_a_job_is_late_and_journals_it() -> None:
    make("stale", once(EARLY))
    result = routines("check", "--json")
    assert result.exit_code == 2
    document = result.json
    assert (document["status"], document["due"], document["late"]) == ("late", 1, 1)
    [entry] = document["late_jobs"]
    assert entry["job_id"] == "stale" and entry["next_run_at"] == "2000-01-01T00:00:00Z"
    assert entry["late_by_ms"] > 26 * 365 * 86_400_000
    assert Event.objects.filter(event_type="routine_slot_late", job_id="stale").exists()
    assert routines("check").out.startswith("late: 1 job(s) late: stale")


def test_check_max_late_ignores_jobs_late_by_less() -> None:
    make("stale", once(timezone.now() - timedelta(hours=1)))
    assert routines("check", "--max-late", "2h").exit_code == 0
    assert routines("check", "--max-late", "10m").exit_code == 2


def test_check_max_late_is_compared_in_the_query_and_every_late_job_is_journalled() -> None:
    now = timezone.now()
    make("hour", once(now - timedelta(hours=1)))
    make("day", once(now - timedelta(days=1)))
    assert [j.job_id for j in Job.objects.late(now, by_more_than_ms=2 * 3_600_000)] == ["day"]
    result = routines("check", "--max-late", "2h", "--json")
    assert (result.exit_code, result.json["late"], [j["job_id"] for j in result.json["late_jobs"]]) == (
        2,
        1,
        ["day"],
    )
    # Seen is seen: the job late by less than --max-late is journalled too, as without the flag.
    journalled = Event.objects.filter(event_type="routine_slot_late").values_list("job_id", flat=True)
    assert sorted(journalled) == ["day", "hour"]


def late_jobs(n: int) -> None:
    Job.objects.bulk_create(
        Job(
            job_id=f"late{i:04d}",
            schedule={"type": "once", "at": EARLY.isoformat()},
            schedule_type="once",
            target={"type": "run"},
            target_type="run",
            idempotency_key=f"routine:late{i:04d}",
            next_run_at=EARLY + timedelta(seconds=i),
            late_after_ms=300_000,
            created_at=EARLY,
            updated_at=EARLY,
        )
        for i in range(n)
    )


@pytest.mark.parametrize("action", ["check", "late"])
def test_late_and_check_read_a_bounded_number_of_jobs(action: str) -> None:
    """A probe during an outage: however many jobs are late, the same statements (the first ones
    named and journalled, the rest counted)."""
    late_jobs(150)
    args = ["check", "--json"] if action == "check" else ["late", "--limit", "5"]
    with CaptureQueriesContext(connection) as few:
        first = routines(*args)
    more = 250
    Job.objects.all().delete()
    Event.objects.all().delete()
    late_jobs(more)
    with CaptureQueriesContext(connection) as many:
        second = routines(*args)
    assert len(many) == len(few)
    if action == "check":
        assert (second.exit_code, second.json["late"], second.json["due"]) == (2, more, more)
        assert len(second.json["late_jobs"]) == 100 and second.json["late_jobs"][0]["job_id"] == "late0000"
        assert first.json["late"] == 150
    else:
        lines = second.out.splitlines()
        assert [line.split()[0] for line in lines[1:6]] == [f"late{i:04d}" for i in range(5)]
        assert lines[-1] == "… and 245 more (--limit shows more)"
