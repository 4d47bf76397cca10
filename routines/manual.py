"""A manual run (``run_now``): the target executes now, in this process, and the schedule is left alone."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from . import signals
from .clock import Clock
from .execution import close_run, default_runner_id, execute, new_run, new_run_id
from .journal import announce, event
from .models import Job, Run
from .retry import with_retry
from .sql import RUN_FINISH_FIELDS
from .states import CLAIM_FIELDS
from .targets.base import CANCELLED, COMPLETED, FAILED
from .transitions import wrap_result


def run_manual(job: Job) -> Run:
    """Execute ``job``'s target now as a manual run, leaving its schedule alone (``run_now``)."""
    clock = Clock()
    row = {name: getattr(job, name) for name in CLAIM_FIELDS}
    run = new_run(row, new_run_id(), clock.wall(), slot_at=None, attempt=1, runner_id=default_runner_id(), manual=True)
    with_retry(lambda: Run.objects.bulk_create([run]))
    outcome = execute(row, run, None, 1, manual=True)
    finished = clock.wall()
    close_run(run, outcome, finished)
    kind = {COMPLETED: "routine_run_completed", CANCELLED: "routine_run_cancelled", FAILED: "routine_run_failed"}
    payload: dict[str, Any] = {"manual": True}
    if outcome.status == FAILED:
        payload["error"] = outcome.error
    ev = event(kind[outcome.status], job.job_id, finished, run.run_id, **payload)
    fields: dict[str, Any] = {"last_run_id": run.run_id, "last_run_at": run.started_at}
    if outcome.status == FAILED:
        fields["last_error"] = outcome.error
    else:
        fields.update(last_result=wrap_result(outcome.result), last_error=None)

    def write() -> None:
        with transaction.atomic():
            Job.objects.filter(job_id=job.job_id).update(**fields, updated_at=finished, version=F("version") + 1)
            Run.objects.bulk_update([run], RUN_FINISH_FIELDS)
            ev.save()

    with_retry(write)
    announce([ev])
    signals.run_finished.send(sender=Run, run=run)
    return run
