"""Helpers that build jobs and drive them into each state through the real API and runner.

Jobs driven here are due at ``EARLY`` (long before any other test's slots) and are run with the
clock frozen at that instant, so the runner touches no other job of the test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from routines import api
from routines.models import Event, Job, Run
from routines.runner import Runner
from routines.times import UTC

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EARLY = datetime(2000, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
RUN = {"type": "run"}
FAIL = {"type": "run", "outcome": "failed", "error": {"reason": "nope"}}


def verb(logged: str) -> str:
    """The first word of a logged statement; Django logs an executemany as "N times: INSERT …"."""
    words = logged.split()
    return (words[2] if len(words) > 2 and words[1] == "times:" else words[0]).upper()


def once(at: datetime = T0) -> dict[str, Any]:
    return {"type": "once", "at": at}


def every(ms: int = 60_000, start_at: datetime = T0, catch_up: bool = False) -> dict[str, Any]:
    return {"type": "interval", "every_ms": ms, "start_at": start_at, "catch_up": catch_up}


def make(
    job_id: str, schedule: dict[str, Any] | None = None, target: dict[str, Any] | None = None, **extra: Any
) -> Job:
    return api.create({"job_id": job_id, "schedule": schedule or once(), "target": target or RUN, **extra})


def claim(job_id: str, ttl_ms: int = 60_000) -> Run:
    """Claim ``job_id`` without executing it, as a runner does just before the target starts."""
    job = api.get(job_id)
    claims = Runner(now=job.next_run_at, claim_ttl_ms=ttl_ms, runner_id="test-claimer").claim(1)
    assert [c.job["job_id"] for c in claims] == [job_id]
    return claims[0].run


def in_state(job_id: str, state: str) -> Job:
    """A job in ``state``, reached the way production reaches it."""
    if state == "paused":
        make(job_id, once(EARLY), state="paused")
    elif state in ("active", "running"):
        make(job_id, once(EARLY))
        if state == "running":
            claim(job_id)
    elif state == "retry_waiting":
        make(job_id, once(EARLY), FAIL, retry_policy={"max_attempts": 2, "backoff_ms": 60_000})
        api.run_due({"now": EARLY})
    elif state == "completed":
        make(job_id, once(EARLY))
        api.run_due({"now": EARLY})
    elif state == "exhausted":
        make(job_id, once(EARLY), FAIL)
        api.run_due({"now": EARLY})
    elif state == "cancelled":
        make(job_id, once(EARLY))
        api.cancel(job_id)
    job = api.get(job_id)
    assert job.state == state
    return job


def snapshot() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Everything the app stored, to show that a refused call wrote nothing."""
    jobs = list(Job.objects.order_by("job_id").values())
    runs = list(Run.objects.order_by("run_id").values())
    return jobs, runs, Event.objects.count()


def events(job_id: str) -> list[str]:
    return list(Event.objects.filter(job_id=job_id).order_by("id").values_list("event_type", flat=True))
