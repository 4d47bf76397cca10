"""``manage.py routines late`` and ``check``: late jobs listed, journalled once, and check's exit status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from routines import api
from routines.models import Event
from routines.records import job_record
from tests.support.cli import routines
from tests.support.jobs import EARLY, make, once

pytestmark = pytest.mark.django_db

needs_late_detection = pytest.mark.skipif(not hasattr(api, "late_jobs"), reason="late detection not merged yet")


def test_check_refuses_a_bad_max_late_naming_it() -> None:
    with pytest.raises(CommandError, match=r"--max-late: .*like 90s, 5m, 2h, 1d"):
        routines("check", "--max-late", "soon")


@needs_late_detection
def test_late_lists_late_jobs_and_journals_each_slot_once() -> None:
    make("stale", once(EARLY))
    make("fresh", once(timezone.now() + timedelta(days=1)))
    result = routines("late")
    [header, row] = result.out.splitlines()
    assert header.split()[:2] == ["JOB_ID", "STATE"] and row.split()[0] == "stale"
    assert routines("late", "--json").json == [job_record(api.get("stale"))]
    assert Event.objects.filter(event_type="routine_slot_late", job_id="stale").count() == 1


@needs_late_detection
def test_late_with_nothing_late_says_so() -> None:
    make("fresh", once(timezone.now() + timedelta(days=1)))
    assert routines("late").out.strip() == "nothing is late"
    assert routines("late", "--json").json == []


@needs_late_detection
def test_check_is_0_when_nothing_is_late() -> None:
    make("fresh", once(timezone.now() + timedelta(days=1)))
    result = routines("check", "--json")
    assert result.exit_code == 0
    assert result.json == {"status": "ok", "due": 0, "late": 0, "late_jobs": []}
    assert routines("check").out.startswith("ok: nothing is late")


@needs_late_detection
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


@needs_late_detection
def test_check_max_late_ignores_jobs_late_by_less() -> None:
    make("stale", once(timezone.now() - timedelta(hours=1)))
    assert routines("check", "--max-late", "2h").exit_code == 0
    assert routines("check", "--max-late", "10m").exit_code == 2
