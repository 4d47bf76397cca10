"""Late detection: the rule, its query, one event and one signal per late slot, the setting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routines import api, signals
from routines.exceptions import InvalidInput
from routines.late import late_jobs, lateness, note_late
from routines.models import Event, Job
from routines.times import UTC

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RUN = {"type": "run"}


def once(job_id: str, at: datetime = T0, **fields: Any) -> Job:
    return api.create({"job_id": job_id, "schedule": {"type": "once", "at": at}, "target": RUN, **fields})


def late_events(job_id: str | None = None) -> list[dict[str, Any]]:
    qs = Event.objects.filter(event_type="routine_slot_late")
    if job_id is not None:
        qs = qs.filter(job_id=job_id)
    return [e.payload for e in qs.order_by("id")]


def test_the_default_is_the_setting_stored_at_creation_and_null_means_never() -> None:
    assert once("a").late_after_ms == 300_000
    with override_settings(ROUTINES={"LATE_AFTER_MS": 60_000}):
        assert once("b").late_after_ms == 60_000
    assert once("c", late_after_ms=None).late_after_ms is None
    at = T0 + timedelta(minutes=4)
    assert [j.job_id for j in late_jobs(at)] == ["b"]
    at = T0 + timedelta(days=30)
    assert [j.job_id for j in late_jobs(at)] == ["a", "b"]  # c is never late


@pytest.mark.parametrize("bad", [999, 0, -1, True, 1.5, "5m", 2**31])
def test_bad_late_after_ms_is_refused_naming_the_field(bad: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        once("x", late_after_ms=bad)
    assert exc.value.field == "late_after_ms"
    assert not Job.objects.exists()


def test_a_running_job_is_late_when_its_lease_expired_that_long_ago() -> None:
    once("r", late_after_ms=60_000)
    Job.objects.filter(job_id="r").update(
        state="running", lease_expires_at=T0 + timedelta(hours=1), current_slot_at=T0, current_run_id="run_x"
    )
    assert late_jobs(T0 + timedelta(hours=1, seconds=59)) == []
    (job,) = late_jobs(T0 + timedelta(hours=1, seconds=61))
    seen = lateness(job, T0 + timedelta(hours=1, seconds=61))
    assert seen.slot_at == T0 and seen.late_by_ms == 61_000


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    late_after_s=st.integers(1, 7200),
    overdue_s=st.integers(-3600, 7200),
    state=st.sampled_from(["active", "retry_waiting", "paused", "running", "completed"]),
)
def test_the_query_agrees_with_the_rule(late_after_s: int, overdue_s: int, state: str) -> None:
    """Late means: due (active/retry_waiting) or leased (running) more than late_after_ms ago."""
    Job.objects.all().delete()
    once("h", late_after_ms=late_after_s * 1000)
    due = T0 + timedelta(hours=3)
    Job.objects.filter(job_id="h").update(state=state, next_run_at=due, lease_expires_at=due)
    at = due + timedelta(seconds=overdue_s, milliseconds=500)
    expected = state in ("active", "retry_waiting", "running") and at - due > timedelta(seconds=late_after_s)
    assert bool(late_jobs(at)) == expected


def test_each_late_slot_is_journalled_and_signalled_once(django_capture_on_commit_callbacks: Any) -> None:
    once("j", late_after_ms=1000)
    got: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        got.append(kwargs)

    signals.job_late.connect(receiver)
    try:
        at = T0 + timedelta(minutes=1)
        with django_capture_on_commit_callbacks(execute=True):
            assert [j.job_id for j in api.late_jobs(at)] == ["j"]
            assert [j.job_id for j in api.late_jobs(at + timedelta(minutes=5))] == ["j"]  # still late: no new event
            note_late(late_jobs(at), at)
    finally:
        signals.job_late.disconnect(receiver)
    assert late_events("j") == [{"slot_at": "2026-01-01T12:00:00Z", "late_by_ms": 60_000}]
    assert len(got) == 1
    assert got[0]["job"].job_id == "j" and got[0]["slot_at"] == T0 and got[0]["late_by_ms"] == 60_000


def test_a_later_slot_that_is_late_again_gets_its_own_event() -> None:
    api.create(
        {
            "job_id": "i",
            "schedule": {"type": "interval", "every_ms": 3_600_000, "start_at": T0, "catch_up": True},
            "target": RUN,
            "late_after_ms": 1000,
        }
    )
    api.late_jobs(T0 + timedelta(minutes=1))
    api.run_due({"now": T0 + timedelta(minutes=1)})  # runs the first slot; the next is at 13:00
    api.late_jobs(T0 + timedelta(hours=1, minutes=1))
    assert [e["slot_at"] for e in late_events("i")] == ["2026-01-01T12:00:00Z", "2026-01-01T13:00:00Z"]


def test_run_due_notes_late_jobs_before_it_runs_them() -> None:
    once("k", late_after_ms=1000)
    api.run_due({"now": T0 + timedelta(seconds=30)})
    assert late_events("k") == [{"slot_at": "2026-01-01T12:00:00Z", "late_by_ms": 30_000}]
    assert api.get("k").state == "completed"


def test_run_due_on_time_writes_no_late_event() -> None:
    for i in range(20):
        once(f"n{i}")
    api.run_due({"now": T0 + timedelta(seconds=1)})
    assert late_events() == []


def test_late_jobs_takes_a_time_and_refuses_a_bad_one() -> None:
    once("t", late_after_ms=1000)
    assert [j.job_id for j in api.late_jobs("2026-01-01T12:00:05Z")] == ["t"]
    with pytest.raises(InvalidInput) as exc:
        api.late_jobs("soon")
    assert exc.value.field == "at"
