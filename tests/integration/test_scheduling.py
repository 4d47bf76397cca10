"""Misfire policies, jitter and bounds through the API, the runner, REST and the admin editor."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from routines import api, slots
from routines.models import Event, Job, Run
from routines.times import UTC

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HOUR = 3_600_000
RUN = {"type": "run"}
BASE = "/api/routines/"


def hourly(**keys: Any) -> dict[str, Any]:
    return {"type": "interval", "every_ms": HOUR, "start_at": T0, **keys}


def run_at(now: datetime) -> list[Any]:
    return api.run_due({"now": now})


def skipped_events(job_id: str) -> list[dict[str, Any]]:
    return [e.payload for e in Event.objects.filter(job_id=job_id, event_type="routine_slots_skipped")]


# Misfire ----------------------------------------------------------------------------------------


def test_skip_runs_nothing_for_missed_slots_and_journals_them_once() -> None:
    api.create({"job_id": "report", "schedule": hourly(misfire="skip"), "target": RUN})
    now = T0 + timedelta(hours=5, minutes=20)
    assert run_at(now) == []
    job = api.get("report")
    assert job.next_run_at == T0 + timedelta(hours=6) and job.state == "active"
    assert skipped_events("report") == [{"count": 6, "first": "2026-01-01T12:00:00Z", "last": "2026-01-01T17:00:00Z"}]
    assert run_at(now) == [] and len(skipped_events("report")) == 1  # nothing left to skip
    done = run_at(T0 + timedelta(hours=6, seconds=5))
    assert [r.slot_at for r in done] == [T0 + timedelta(hours=6)]
    assert Run.objects.filter(job_id="report").count() == 1


def test_all_with_max_catch_up_replays_only_the_newest_slots_in_order() -> None:
    api.create({"job_id": "sync", "schedule": hourly(misfire="all", max_catch_up=2), "target": RUN})
    done = run_at(T0 + timedelta(hours=5, minutes=20))
    assert [r.slot_at for r in done] == [T0 + timedelta(hours=4), T0 + timedelta(hours=5)]
    assert skipped_events("sync")[0]["count"] == 4
    assert api.get("sync").next_run_at == T0 + timedelta(hours=6)


def test_all_with_a_grace_replays_only_slots_within_it() -> None:
    api.create({"job_id": "g", "schedule": hourly(misfire="all", misfire_grace_ms=2 * HOUR), "target": RUN})
    done = run_at(T0 + timedelta(hours=5, minutes=20))
    assert [r.slot_at for r in done] == [T0 + timedelta(hours=4), T0 + timedelta(hours=5)]


def test_latest_is_the_default_and_unchanged() -> None:
    api.create({"job_id": "l", "schedule": hourly(), "target": RUN})
    done = run_at(T0 + timedelta(hours=5, minutes=20))
    assert [r.slot_at for r in done] == [T0]
    assert skipped_events("l") == []
    assert api.get("l").next_run_at == T0 + timedelta(hours=6, minutes=20)


def test_a_skip_that_passes_end_at_completes_the_job() -> None:
    api.create(
        {
            "job_id": "e",
            "schedule": hourly(misfire="skip"),
            "target": RUN,
            "end_at": T0 + timedelta(hours=3, minutes=30),
        }
    )
    assert run_at(T0 + timedelta(hours=5)) == []
    job = api.get("e")
    assert job.state == "completed" and job.next_run_at is None


# Jitter -----------------------------------------------------------------------------------------


def test_jitter_delays_each_run_by_its_own_offset_and_keeps_the_nominal_slot() -> None:
    job = api.create({"job_id": "spread", "schedule": hourly(misfire="all", jitter_ms=600_000), "target": RUN})
    offset = timedelta(milliseconds=slots.offset_ms("spread", T0, 600_000))
    assert job.next_run_at == T0 + offset and job.next_slot_at == T0
    assert timedelta(0) <= offset < timedelta(minutes=10)
    if offset > timedelta(0):
        assert run_at(T0 + offset - timedelta(milliseconds=1)) == []
    done = run_at(T0 + offset)
    assert [r.slot_at for r in done] == [T0]
    assert Run.objects.get(job_id="spread").slot_at == T0
    second = T0 + timedelta(hours=1)
    job = api.get("spread")
    assert job.next_slot_at == second
    assert job.next_run_at == second + timedelta(milliseconds=slots.offset_ms("spread", second, 600_000))


# Bounds -----------------------------------------------------------------------------------------


def test_max_runs_completes_the_job_and_run_count_counts_scheduled_slots() -> None:
    api.create({"job_id": "thrice", "schedule": hourly(catch_up=True), "target": RUN, "max_runs": 3})
    api.run_now("thrice")  # a manual run is not a scheduled slot
    done = run_at(T0 + timedelta(hours=10))
    assert len(done) == 3
    job = api.get("thrice")
    assert (job.state, job.run_count, job.next_run_at) == ("completed", 3, None)


def test_end_at_completes_the_job_after_the_last_slot_before_it() -> None:
    api.create({"job_id": "until", "schedule": hourly(catch_up=True), "target": RUN, "end_at": T0 + timedelta(hours=2)})
    done = run_at(T0 + timedelta(hours=10))
    assert [r.slot_at for r in done] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert api.get("until").state == "completed"


def test_bad_bounds_are_refused_naming_the_field() -> None:
    with pytest.raises(Exception) as exc:
        api.create({"schedule": hourly(), "target": RUN, "end_at": T0 - timedelta(hours=1)})
    assert getattr(exc.value, "field", None) == "end_at"
    for bad in (0, -1, True, "3", 2**31):
        with pytest.raises(Exception) as exc:
            api.create({"schedule": hourly(), "target": RUN, "max_runs": bad})
        assert getattr(exc.value, "field", None) == "max_runs"
    api.create({"job_id": "p", "schedule": hourly(catch_up=True), "target": RUN})
    run_at(T0 + timedelta(minutes=90))
    assert api.get("p").run_count == 2
    with pytest.raises(Exception) as exc:
        api.update("p", {"max_runs": 2})
    assert getattr(exc.value, "field", None) == "max_runs"
    assert api.update("p", {"max_runs": 3}).max_runs == 3


# REST and the admin -----------------------------------------------------------------------------


def test_rest_takes_and_shows_the_new_fields(staff_client: Client) -> None:
    body = {
        "job_id": "r1",
        "schedule": {**hourly(misfire="skip", jitter_ms=1000), "start_at": "2026-01-01T12:00:00Z"},
        "target": RUN,
        "end_at": "2027-01-01T00:00:00Z",
        "max_runs": 5,
    }
    r = staff_client.post(BASE + "jobs/", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert (data["end_at"], data["max_runs"], data["run_count"]) == ("2027-01-01T00:00:00Z", 5, 0)
    assert data["schedule"]["misfire"] == "skip" and data["schedule"]["jitter_ms"] == 1000
    bad = {**body, "job_id": "r2", "max_runs": 0}
    r = staff_client.post(BASE + "jobs/", json.dumps(bad), content_type="application/json")
    assert r.status_code == 400 and r.json()["field"] == "max_runs"
    r = staff_client.patch(BASE + "jobs/r1/", json.dumps({"end_at": None}), content_type="application/json")
    assert r.status_code == 200 and r.json()["end_at"] is None


def test_the_admin_editor_creates_a_skipping_spread_bounded_job(admin_client: Client) -> None:
    form = {
        "job_id": "ed",
        "schedule_type": "interval",
        "every": "5",
        "every_unit": "minutes",
        "misfire": "skip",
        "misfire_grace_seconds": "30",
        "jitter_seconds": "20",
        "max_runs": "10",
        "end_at": "2027-01-01 00:00:00",
        "target": '{"type": "run"}',
        "max_attempts": "1",
        "backoff_seconds": "0",
    }
    r = admin_client.post("/admin/routines/job/add/", form)
    assert r.status_code == 302, r.content.decode()[:3000]
    job = Job.objects.get(job_id="ed")
    assert job.schedule["misfire"] == "skip" and job.schedule["misfire_grace_ms"] == 30_000
    assert job.schedule["jitter_ms"] == 20_000 and job.max_runs == 10 and job.end_at is not None
    page = admin_client.get("/admin/routines/job/").content.decode()
    assert "every 5 minutes ± 20 seconds, skipping missed runs" in page
