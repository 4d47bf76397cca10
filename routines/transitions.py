"""The state machine of a job's slot: pure functions from an attempt's outcome to the job's fields.

Nothing here reads or writes the database; the runner writes what they return, fenced by the
claim, and the rescue of an expired lease uses the same rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import schedules, slots
from .journal import event
from .models import Event, Run
from .targets.base import CANCELLED, COMPLETED, Outcome
from .times import add_ms, iso

LEASE_EXPIRED = {"reason": "lease_expired"}


def wrap_result(result: Any) -> dict[str, Any]:
    """The seed's rule for ``last_result``: a dict as it is, anything else under ``result``."""
    return result if isinstance(result, dict) else {"result": result}


def transition(
    job: dict[str, Any], slot_at: datetime, attempt: int, outcome: Outcome, now: datetime, run: Run
) -> tuple[dict[str, Any], list[Event]]:
    """The job's fields after attempt ``attempt`` of ``slot_at`` ended with ``outcome``.

    Pure apart from building unsaved Event rows: the caller writes both, fenced.
    """
    job_id = job["job_id"]
    base = {"slot_at": iso(slot_at), "attempt": attempt}
    fields: dict[str, Any] = {"last_run_id": run.run_id, "last_run_at": run.started_at}
    events: list[Event] = []
    if outcome.status in (COMPLETED, CANCELLED):
        fields.update(last_result=wrap_result(outcome.result), last_error=None)
        kind = "routine_run_completed" if outcome.status == COMPLETED else "routine_run_cancelled"
        events.append(event(kind, job_id, now, run.run_id, **base))
        fields.update(_advance(job, slot_at, now))
        return fields, events
    fields["last_error"] = outcome.error
    max_attempts = job["retry_policy"].get("max_attempts", 1)
    events.append(event("routine_run_failed", job_id, now, run.run_id, error=outcome.error, **base))
    retry_at = add_ms(now, job["retry_policy"].get("backoff_ms", 0))
    if attempt < max_attempts and retry_at is not None:
        fields.update(
            state="retry_waiting",
            next_run_at=retry_at,
            attempt_count=attempt,
            current_run_id=run.run_id,
            current_slot_at=slot_at,
            claimed_by=None,
            lease_expires_at=None,
        )
        events.append(event("routine_retry_scheduled", job_id, now, run.run_id, next_run_at=iso(retry_at), **base))
        return fields, events
    fields.update(_advance(job, slot_at, now, exhausted=True))
    return fields, events


def _advance(job: dict[str, Any], slot_at: datetime, now: datetime, exhausted: bool = False) -> dict[str, Any]:
    """Leave the slot: on to the next one, or to the end of the schedule (or of its bounds)."""
    run_count = job.get("run_count", 0) + 1
    nxt = schedules.next_slot(job["schedule"], slot_at, now)
    fields: dict[str, Any] = {
        "attempt_count": 0,
        "current_run_id": None,
        "current_slot_at": None,
        "claimed_by": None,
        "lease_expires_at": None,
        "run_count": run_count,
    }
    max_runs, end_at = job.get("max_runs"), job.get("end_at")
    if (max_runs is not None and run_count >= max_runs) or (nxt is not None and end_at is not None and nxt > end_at):
        fields.update(state="completed", next_run_at=None, next_slot_at=None, completed_at=now)
    elif nxt is None:
        fields.update(state="exhausted" if exhausted else "completed", next_run_at=None, next_slot_at=None)
        fields["completed_at"] = now
    else:
        fields.update(state="active", next_run_at=slots.run_at(job["schedule"], job["job_id"], nxt), next_slot_at=nxt)
    return fields
