"""Rescue: a ``running`` job whose lease expired (its runner crashed or froze) is failed with
``lease_expired`` and retried or advanced under its retry policy.

The write is fenced on the lease still being expired and the run still current, so a runner that
comes back and renews in time keeps its job, and two rescuers can't both take it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F

from .execution import new_run, new_run_id
from .journal import announce, event
from .models import Event, Job, Run
from .retry import with_retry
from .states import CLAIM_FIELDS
from .targets.base import FAILED, Outcome
from .times import iso
from .transitions import LEASE_EXPIRED, transition


def rescue_expired(now: datetime) -> int:
    """Fail and reschedule up to 1000 jobs whose lease expired before ``now``; how many were taken."""
    rows = list(
        Job.objects.lease_expired(now).order_by("lease_expires_at").values(*CLAIM_FIELDS, "lease_expires_at")[:1000]
    )
    rescued = 0
    for row in rows:

        def write(row: dict[str, Any] = row) -> list[Event]:
            with transaction.atomic():
                run = Run.objects.filter(run_id=row["current_run_id"]).first() or new_run(
                    row,
                    row["current_run_id"] or new_run_id(),
                    now,
                    slot_at=row["current_slot_at"],
                    attempt=row["attempt_count"],
                    runner_id=None,
                )
                slot_at = row["current_slot_at"] or row["next_run_at"]
                outcome = Outcome(FAILED, error=dict(LEASE_EXPIRED))
                fields, evs = transition(row, slot_at, row["attempt_count"], outcome, now, run)
                ok = (
                    Job.objects.lease_expired(now)
                    .filter(job_id=row["job_id"], current_run_id=row["current_run_id"])
                    .update(**fields, updated_at=now, version=F("version") + 1)
                )
                if not ok:
                    return []
                Run.objects.filter(run_id=run.run_id, status="running").update(
                    status=FAILED, error=dict(LEASE_EXPIRED), finished_at=now
                )
                lease = event(
                    "routine_lease_expired",
                    row["job_id"],
                    now,
                    run.run_id,
                    slot_at=iso(slot_at),
                    attempt=row["attempt_count"],
                    lease_expired_at=iso(row["lease_expires_at"]),
                )
                evs.insert(0, lease)
                Event.objects.bulk_create(evs)
                return evs

        evs = with_retry(write)
        if evs:
            rescued += 1
            announce(evs)
    return rescued
