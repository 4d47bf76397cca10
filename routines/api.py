"""The public Python API and the only write path for jobs.

The admin, the REST API and the management commands are thin shells over these functions, so a
job gets the same validation, the same ``next_run_at`` and the same journal whichever door it
came through. Errors are ``routines.exceptions``; times in are aware/naive datetimes, epoch ms or
ISO 8601 strings, times out are aware UTC datetimes.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from . import creation, filters, late, pausing, policy, schedules, slots, validation
from .batches import DueResult
from .clock import db_now
from .creation import create_many, normalize
from .exceptions import AlreadyExists, InvalidInput, JobBusy, JobTerminal, NotFound
from .journal import acting_as, announce, event
from .manual import run_manual
from .models import Event, Job, Run
from .queries import (
    due_jobs,
    filter_events,
    filter_jobs,
    filter_runs,
    get,
    get_run,
    list_due,
    next_due_at,
    task_result,
)
from .retry import with_retry
from .runner import Runner
from .states import TERMINAL_STATES

__all__ = [
    "DueResult",
    "cancel",
    "clear",
    "create",
    "create_many",
    "create_or_get",
    "delete",
    "due",
    "due_jobs",
    "ensure_tables",
    "filter_events",
    "filter_jobs",
    "filter_runs",
    "get",
    "get_run",
    "late_jobs",
    "list",
    "list_due",
    "next_due_at",
    "normalize",
    "pause",
    "pause_all",
    "paused_all",
    "prune",
    "resume",
    "resume_all",
    "run_due",
    "run_now",
    "task_result",
    "update",
]

BUSY_STATES = ("running", "retry_waiting")
EDITABLE_STATES = ("active", "paused")
# Optimistic writes re-read and retry when a runner changed the job in between; a few tries do.
WRITE_ATTEMPTS = 20


_F = TypeVar("_F", bound=Callable[..., Any])


def _records_actor(func: _F) -> _F:
    """Make the ``actor`` keyword of a write (an admin or REST user's name) reach its journal events.

    The events are built deep inside (by the runner, for a manual run), so the name travels in a
    context variable for the duration of the call rather than through every helper.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with acting_as(kwargs.get("actor")):
            return func(*args, **kwargs)

    return cast(_F, wrapper)


def ensure_tables() -> None:
    """Create the app's tables if they are missing (idempotent); migrations stay the normal way."""
    if Job._meta.db_table in connection.introspection.table_names():
        return
    from django.core.management import call_command

    call_command("migrate", "routines", verbosity=0, interactive=False)


def clear() -> None:
    """Delete every job, run and event."""
    with transaction.atomic():
        Job.objects.all().delete()
        Run.objects.all().delete()
        Event.objects.all().delete()


# Create and change -----------------------------------------------------------------------------


@_records_actor
def create(job_input: Mapping[str, Any], *, actor: str | None = None) -> Job:
    """Create a job; an explicitly given ``idempotency_key`` that exists returns that job instead."""
    return creation.create_or_get(job_input)[0]


@_records_actor
def create_or_get(job_input: Mapping[str, Any], *, actor: str | None = None) -> tuple[Job, bool]:
    """``create``, also saying whether the job is new (the REST API answers 201 or 200)."""
    return creation.create_or_get(job_input)


@_records_actor
def update(job_id: str, patch: Mapping[str, Any], *, actor: str | None = None) -> Job:
    """Apply ``patch`` to an active or paused job; ``state`` is how pause and resume work."""
    now = timezone.now()
    return _update(job_id, normalize(patch, patch=True, now=now), now)


@_records_actor
def pause(job_id: str, until: Any = None, *, actor: str | None = None) -> Job:
    """Pause an active job; with ``until`` (a time) it resumes by itself at the first run_due after it.

    Slots that fell due meanwhile follow the schedule's misfire policy, as after any pause.
    """
    now = timezone.now()
    changes: dict[str, Any] = {"state": "paused"}
    if until is not None:
        changes["paused_until"] = validation.pause_until(until, now, timezone.get_current_timezone())
    return _update(job_id, changes, now)


@_records_actor
def resume(job_id: str, *, actor: str | None = None) -> Job:
    """Resume a paused job (timed or not)."""
    return update(job_id, {"state": "active"})


def _update(job_id: str, changes: dict[str, Any], now: datetime) -> Job:
    for _ in range(WRITE_ATTEMPTS):
        job = get(job_id)
        _check_editable(job)
        same_pause = changes.get("paused_until") == job.paused_until
        if set(changes) <= {"state", "paused_until"} and changes.get("state", job.state) == job.state and same_pause:
            return job  # pausing a paused job (or an empty patch) writes nothing
        policy.check("update", {**{key: getattr(job, key) for key in policy.CONTEXT_KEYS}, **changes})
        fields = _patched_fields(job, changes, now)
        updated = event("routine_updated", job_id, now, **_redacted(changes))
        try:
            written = with_retry(lambda: _write_if_unchanged(job, fields, now, [updated]))
        except IntegrityError:
            raise AlreadyExists(
                f"idempotency_key {changes.get('idempotency_key')!r} is taken", field="idempotency_key"
            ) from None
        if written:
            announce([updated])
            job.refresh_from_db()
            return job
    raise JobBusy(gettext("job %(job_id)s kept changing; try again") % {"job_id": repr(job_id)})


def _patched_fields(job: Job, changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    fields = dict(changes)
    if "state" in changes:
        fields.setdefault("paused_until", None)  # a plain pause or a resume ends a timed pause
    if "schedule" in changes:
        fields["schedule_type"] = changes["schedule"]["type"]
        keep = "next_run_at" in changes or (
            job.state == "paused" and job.next_run_at is not None and changes.get("state") != "active"
        )
        if not keep:
            slot = schedules.first_slot(changes["schedule"], now)
            fields["next_slot_at"] = slot
            fields["next_run_at"] = None if slot is None else slots.run_at(changes["schedule"], job.job_id, slot)
    if "next_run_at" in changes:
        fields["next_slot_at"] = None  # set by hand: its own slot
    if "target" in changes:
        fields["target_type"] = changes["target"]["type"]
    if "end_at" in changes or "next_run_at" in fields:
        first = fields.get("next_slot_at", job.next_slot_at) or fields.get("next_run_at", job.next_run_at)
        validation.ends_before(first, fields.get("end_at", job.end_at), "invalid_patch")
    max_runs = changes.get("max_runs")
    if max_runs is not None and max_runs <= job.run_count:
        message = f"max_runs must be more than the {job.run_count} runs this job has had"
        raise InvalidInput(message, code="invalid_patch", field="max_runs")
    return fields


def _redacted(changes: dict[str, Any]) -> dict[str, Any]:
    return {**changes, "payload": "redacted"} if "payload" in changes else dict(changes)


def _write_if_unchanged(job: Job, fields: dict[str, Any], now: datetime, events: builtins.list[Event]) -> bool:
    with transaction.atomic():
        n = Job.objects.filter(job_id=job.job_id, version=job.version).update(
            **fields, updated_at=now, version=F("version") + 1
        )
        if n:
            Event.objects.bulk_create(events)
    return bool(n)


def _check_editable(job: Job) -> None:
    if job.state in BUSY_STATES:
        raise JobBusy(gettext("job %(job_id)s is %(state)s") % {"job_id": repr(job.job_id), "state": job.state})
    if job.state in TERMINAL_STATES:
        raise JobTerminal(gettext("job %(job_id)s is %(state)s") % {"job_id": repr(job.job_id), "state": job.state})


@_records_actor
def cancel(job_id: str, *, actor: str | None = None) -> None:
    """Cancel a job in any state (idempotent); a Run in progress is marked cancelled."""
    for _ in range(WRITE_ATTEMPTS):
        job = get(job_id)
        if job.state == "cancelled":
            return
        now = timezone.now()
        cancelled = event("routine_cancelled", job_id, now, previous_state=job.state)
        running_run = job.current_run_id if job.state == "running" else None

        def write() -> bool:
            with transaction.atomic():
                n = Job.objects.filter(job_id=job_id, version=job.version).update(
                    state="cancelled",
                    cancelled_at=now,
                    next_run_at=None,
                    current_run_id=None,
                    current_slot_at=None,
                    attempt_count=0,
                    claimed_by=None,
                    lease_expires_at=None,
                    updated_at=now,
                    version=F("version") + 1,
                )
                if not n:
                    return False
                if running_run:
                    Run.objects.filter(run_id=running_run, status="running").update(
                        status="cancelled", error="routine cancelled", finished_at=now
                    )
                cancelled.save()
                return True

        if with_retry(write):
            announce([cancelled])
            return
    raise JobBusy(gettext("job %(job_id)s kept changing; try again") % {"job_id": repr(job_id)})


@_records_actor
def delete(job_id: str, *, actor: str | None = None) -> None:
    """Delete a job (not while it runs); its runs and events stay as history."""
    job = get(job_id)
    if job.state == "running":
        raise JobBusy(gettext("job %(job_id)s is running") % {"job_id": repr(job_id)})
    now = timezone.now()
    deleted = event("routine_deleted", job_id, now, previous_state=job.state)

    def write() -> bool:
        with transaction.atomic():
            n, _ = Job.objects.filter(job_id=job_id).exclude(state="running").delete()
            if n:
                deleted.save()
            return bool(n)

    if not with_retry(write):
        if Job.objects.filter(job_id=job_id).exists():
            raise JobBusy(gettext("job %(job_id)s is running") % {"job_id": repr(job_id)})
        raise NotFound(gettext("job %(job_id)s not found") % {"job_id": repr(job_id)})
    announce([deleted])


# Read ------------------------------------------------------------------------------------------


def list(filter: Mapping[str, Any] | None = None) -> builtins.list[Job]:  # noqa: A001 - the seed's name
    return builtins.list(filter_jobs(filter))


due = list_due


# Monitoring ------------------------------------------------------------------------------------


def late_jobs(at: datetime | None = None) -> builtins.list[Job]:
    """Jobs that should be running and are not: due (or their lease expired) more than their
    ``late_after_ms`` ago. Each late slot seen for the first time is journalled as
    ``routine_slot_late`` and sent as ``routines.signals.job_late``, whoever looks first."""
    tz = timezone.get_current_timezone()
    when = db_now() if at is None else validation.time_value(at, "at", "invalid_filter", tz)
    jobs = late.late_jobs(when)
    late.note_late(jobs, when)
    return jobs


# Every runner --------------------------------------------------------------------------------


@_records_actor
def pause_all(reason: str = "", *, actor: str | None = None) -> None:
    """Hold every runner: ``run_due`` claims nothing until ``resume_all`` (running jobs finish)."""
    if not isinstance(reason, str) or len(reason) > 1000:
        raise InvalidInput(
            gettext("reason must be a string of at most 1000 characters"), code="invalid_input", field="reason"
        )
    pausing.pause_all(reason, timezone.now())


@_records_actor
def resume_all(*, actor: str | None = None) -> None:
    pausing.resume_all()


def paused_all() -> str | None:
    """The reason every runner is held (``""`` when none was given), or None when they are not."""
    state = pausing.paused_all()
    return None if state is None else state.reason


# Execute ---------------------------------------------------------------------------------------


def run_due(opts: Mapping[str, Any] | None = None, *, should_stop: Any = None) -> builtins.list[DueResult]:
    """Claim and execute what is due; returns one DueResult per executed attempt."""
    o = filters.normalize_run_due_opts(opts, tz=timezone.get_current_timezone())
    runner = Runner(
        now=o.get("now"),
        limit=o.get("limit"),
        runner_id=o.get("runner_id"),
        claim_ttl_ms=o.get("claim_ttl_ms"),
        should_stop=should_stop,
    )
    return runner.run()


@_records_actor
def run_now(job_id: str, *, actor: str | None = None) -> Run:
    """Execute the target now as a manual run, leaving state, schedule and attempts alone."""
    job = get(job_id)
    if job.state == "cancelled":
        raise JobTerminal(gettext("job %(job_id)s is cancelled") % {"job_id": repr(job_id)})
    if job.state in BUSY_STATES:
        raise JobBusy(gettext("job %(job_id)s is %(state)s") % {"job_id": repr(job_id), "state": job.state})
    return run_manual(job)


# Housekeeping ----------------------------------------------------------------------------------


def prune(
    runs_older_than: timedelta | None = None,
    events_older_than: timedelta | None = None,
    keep_last: int | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Delete finished Runs and Events past their retention (defaults: ROUTINES PRUNE_*), in batches.

    Each job's newest ``keep_last`` Runs and every running Run are kept. Returns
    ``{"runs": n, "events": n}``: what was deleted, or with ``dry_run`` what would be.
    """
    from . import pruning

    return pruning.prune(runs_older_than, events_older_than, keep_last, dry_run)
