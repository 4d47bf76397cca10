"""The public Python API and the only write path for jobs.

The admin, the REST API and the management commands are thin shells over these functions, so a
job gets the same validation, the same ``next_run_at`` and the same journal whichever door it
came through. Errors are ``routines.exceptions``; times in are aware/naive datetimes, epoch ms or
ISO 8601 strings, times out are aware UTC datetimes.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from . import policy, schedules, sql, targets, validation
from .clock import db_now
from .conf import routines_settings
from .exceptions import AlreadyExists, InvalidInput, JobBusy, JobTerminal, NotFound
from .journal import acting_as, announce, event, observed
from .manual import run_manual
from .models import Event, Job, Run
from .retry import with_retry
from .runner import DueResult, Runner
from .states import DUE_STATES, TERMINAL_STATES
from .times import iso

__all__ = [
    "DueResult",
    "cancel",
    "clear",
    "create",
    "create_many",
    "create_or_get",
    "delete",
    "due",
    "ensure_tables",
    "filter_runs",
    "get",
    "get_run",
    "list",
    "list_due",
    "next_due_at",
    "prune",
    "run_due",
    "run_now",
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


def normalize(raw: object, *, patch: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Validate a job input (or a patch) the way ``create`` (``update``) will, writing nothing.

    Shells that show errors before writing (the admin form) call this, so there is one set of rules.
    """
    options: dict[str, Any] = {
        "now": now or timezone.now(),
        "tz": timezone.get_current_timezone(),
        "validate_target": targets.validate,
        "max_payload_bytes": routines_settings.MAX_PAYLOAD_BYTES,
    }
    if patch:
        return validation.normalize_patch(raw, **options)
    return validation.normalize_job(raw, **options, default_timeout_ms=routines_settings.DEFAULT_TIMEOUT_MS)


@_records_actor
def create(job_input: Mapping[str, Any], *, actor: str | None = None) -> Job:
    """Create a job; an explicitly given ``idempotency_key`` that exists returns that job instead."""
    return create_or_get(job_input)[0]


@_records_actor
def create_or_get(job_input: Mapping[str, Any], *, actor: str | None = None) -> tuple[Job, bool]:
    """``create``, also saying whether the job is new (the REST API answers 201 or 200)."""
    now = timezone.now()
    data = normalize(job_input, now=now)
    explicit_key = isinstance(job_input, Mapping) and "idempotency_key" in job_input
    if explicit_key:
        existing = Job.objects.filter(idempotency_key=data["idempotency_key"]).first()
        if existing is not None:
            return existing, False
    policy.check("create", data)
    job = Job(**_job_fields(data, now))
    created = event("routine_created", job.job_id, now, **_created_payload(job))

    def write() -> None:
        with transaction.atomic():
            job.save(force_insert=True)
            created.save()

    try:
        with_retry(write)
    except IntegrityError:
        if explicit_key:
            existing = Job.objects.filter(idempotency_key=data["idempotency_key"]).first()
            if existing is not None:
                return existing, False
        if Job.objects.filter(job_id=job.job_id).exists():
            raise AlreadyExists(f"job {job.job_id!r} already exists", field="job_id") from None
        raise AlreadyExists(f"idempotency_key {data['idempotency_key']!r} is taken", field="idempotency_key") from None
    announce([created])
    return job, True


# Keys per lookup (an IN list) of create_many: well under SQLite's and MySQL's bound-parameter limits.
CREATE_BATCH = 500


def create_many(inputs: Iterable[Mapping[str, Any]]) -> builtins.list[Job]:
    """``create`` for many inputs at once, all or nothing, in a few bulk INSERTs.

    Every input is validated first with ``create``'s rules; a bad one raises its error with
    ``field`` as ``create`` would and the index in the message (and as ``.index``), and nothing is
    written. An explicit ``idempotency_key`` that already exists (in the table, or earlier in the
    same call) yields that job at its position and writes nothing for it, as ``create`` does; a
    ``job_id`` or implicit key that is taken raises ``AlreadyExists`` and writes nothing at all.
    """
    now = timezone.now()
    check = _normalizer(now)
    datas: builtins.list[dict[str, Any]] = []
    explicit: builtins.list[bool] = []
    for index, job_input in enumerate(inputs):
        try:
            datas.append(check(job_input))
        except InvalidInput as exc:
            raise _at_index(exc, index) from None
        explicit.append(isinstance(job_input, Mapping) and "idempotency_key" in job_input)
    existing = _existing_by_key({data["idempotency_key"] for data, given in zip(datas, explicit, strict=True) if given})
    asks_policy = routines_settings.POLICY is not None
    # Fields in the model's own order, so new Jobs are built as ones read back are.
    defaults = {field.attname: field.get_default() for field in Job._meta.concrete_fields}
    alias = connection.alias
    result: builtins.list[Job] = []
    new_jobs: builtins.list[Job] = []
    new_ids: dict[str, int] = {}
    new_keys: dict[str, int] = {}
    positions: dict[str, Job] = {}
    for index, (data, given) in enumerate(zip(datas, explicit, strict=True)):
        key = data["idempotency_key"]
        if given and key in existing:
            result.append(existing[key])
            continue
        if given and key in positions:
            result.append(positions[key])  # the same key earlier in the call: that job
            continue
        if data["job_id"] in new_ids:
            raise AlreadyExists(f"inputs[{index}]: job_id {data['job_id']!r} is given twice", field="job_id")
        if key in new_keys:
            raise AlreadyExists(f"inputs[{index}]: idempotency_key {key!r} is given twice", field="idempotency_key")
        if asks_policy:
            policy.check("create", data)
        new_ids[data["job_id"]] = new_keys[key] = index
        row = {**defaults, **_job_fields(data, now)}
        job = Job.from_db(alias, row.keys(), tuple(row.values()))
        positions[key] = job
        result.append(job)
        new_jobs.append(job)
    if new_jobs:
        _insert_new(new_jobs, new_ids, new_keys, now)
    return result


def _insert_new(jobs: builtins.list[Job], new_ids: dict[str, int], new_keys: dict[str, int], now: datetime) -> None:
    """Write create_many's new jobs and their ``routine_created`` events in one transaction."""
    # Event objects only for someone to see; else rows made as they are sent.
    created = [event("routine_created", job.job_id, now, **_created_payload(job)) for job in jobs] if observed() else []

    def write() -> None:
        with transaction.atomic():
            sql.insert_objects(jobs, return_pks=False)
            if created:
                sql.insert_objects(created, return_pks=True)
            else:
                rows = (("routine_created", job.job_id, None, _created_payload(job), now) for job in jobs)
                sql.insert(Event, EVENT_FIELDS, rows)

    try:
        with_retry(write)
    except IntegrityError:  # an id or key is taken: say which, naming its input
        _check_free(new_ids, new_keys)
        raise AlreadyExists("a job_id or idempotency_key was taken meanwhile; nothing was created") from None
    announce(created)


# Event columns after its id, in field order.
EVENT_FIELDS = ("event_type", "job_id", "run_id", "payload", "created_at")


def _normalizer(now: datetime) -> Callable[[object], dict[str, Any]]:
    """``normalize`` for many inputs: the settings and the time zone are read once, not per input."""
    tz = timezone.get_current_timezone()
    max_bytes = routines_settings.MAX_PAYLOAD_BYTES
    default_timeout = routines_settings.DEFAULT_TIMEOUT_MS

    def check(raw: object) -> dict[str, Any]:
        return validation.normalize_job(
            raw,
            now=now,
            tz=tz,
            validate_target=targets.validate,
            max_payload_bytes=max_bytes,
            default_timeout_ms=default_timeout,
        )

    return check


def _at_index(exc: InvalidInput, index: int) -> InvalidInput:
    """The same error, its message saying which input it is about."""
    again = type(exc)(f"inputs[{index}]: {exc.detail}", code=exc.code, field=exc.field)
    for name, value in vars(exc).items():
        setattr(again, name, value)
    again.index = index  # type: ignore[attr-defined]
    return again


def _existing_by_key(keys: set[str]) -> dict[str, Job]:
    found: dict[str, Job] = {}
    ordered = sorted(keys)
    for i in range(0, len(ordered), CREATE_BATCH):
        for job in Job.objects.filter(idempotency_key__in=ordered[i : i + CREATE_BATCH]):
            found[job.idempotency_key] = job
    return found


def _check_free(new_ids: dict[str, int], new_keys: dict[str, int]) -> None:
    """Raise AlreadyExists, naming the first input whose job_id or key is already stored (if one is)."""
    for values, column, field in ((new_ids, "job_id", "job_id"), (new_keys, "idempotency_key", "idempotency_key")):
        ordered = builtins.list(values)
        taken: builtins.list[str] = []
        for i in range(0, len(ordered), CREATE_BATCH):
            chunk = ordered[i : i + CREATE_BATCH]
            taken += Job.objects.filter(**{f"{column}__in": chunk}).values_list(column, flat=True)
        if taken:
            value = min(taken, key=lambda v: values[v])
            raise AlreadyExists(f"inputs[{values[value]}]: {field} {value!r} already exists", field=field)


def _job_fields(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A new job's fields from normalised input; the type columns are denormalised for filters."""
    return {
        **data,
        "schedule_type": data["schedule"]["type"],
        "target_type": data["target"]["type"],
        "created_at": now,
        "updated_at": now,
    }


def _created_payload(job: Job) -> dict[str, Any]:
    return {
        "schedule_type": job.schedule_type,
        "target_type": job.target_type,
        "state": job.state,
        "next_run_at": iso(job.next_run_at),
    }


@_records_actor
def update(job_id: str, patch: Mapping[str, Any], *, actor: str | None = None) -> Job:
    """Apply ``patch`` to an active or paused job; ``state`` is how pause and resume work."""
    now = timezone.now()
    changes = normalize(patch, patch=True, now=now)
    for _ in range(WRITE_ATTEMPTS):
        job = get(job_id)
        _check_editable(job)
        if set(changes) <= {"state"} and changes.get("state", job.state) == job.state:
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
    raise JobBusy(f"job {job_id!r} kept changing; try again")


def _patched_fields(job: Job, changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    fields = dict(changes)
    if "schedule" in changes:
        fields["schedule_type"] = changes["schedule"]["type"]
        keep = "next_run_at" in changes or (
            job.state == "paused" and job.next_run_at is not None and changes.get("state") != "active"
        )
        if not keep:
            fields["next_run_at"] = schedules.first_slot(changes["schedule"], now)
    if "target" in changes:
        fields["target_type"] = changes["target"]["type"]
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
        raise JobBusy(f"job {job.job_id!r} is {job.state}")
    if job.state in TERMINAL_STATES:
        raise JobTerminal(f"job {job.job_id!r} is {job.state}")


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
    raise JobBusy(f"job {job_id!r} kept changing; try again")


@_records_actor
def delete(job_id: str, *, actor: str | None = None) -> None:
    """Delete a job (not while it runs); its runs and events stay as history."""
    job = get(job_id)
    if job.state == "running":
        raise JobBusy(f"job {job_id!r} is running")
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
            raise JobBusy(f"job {job_id!r} is running")
        raise NotFound(f"job {job_id!r} not found")
    announce([deleted])


# Read ------------------------------------------------------------------------------------------


def get(job_id: str) -> Job:
    if not isinstance(job_id, str) or not validation.ID_RE.fullmatch(job_id):
        raise NotFound("job not found")  # no such id can exist; PostgreSQL would refuse a NUL in the query
    try:
        return Job.objects.get(job_id=job_id)
    except Job.DoesNotExist:
        raise NotFound(f"job {job_id!r} not found") from None


def filter_jobs(filter: Mapping[str, Any] | None = None) -> QuerySet[Job]:
    """The queryset behind ``list`` (last changed first), for shells that paginate it themselves."""
    f = validation.normalize_job_filter(filter, tz=timezone.get_current_timezone(), target_types=targets.types())
    qs = Job.objects.order_by("-updated_at", "job_id")
    for key in ("job_id", "state", "schedule_type", "target_type"):
        if key in f:
            qs = qs.filter(**{key: f[key]})
    if "due_before" in f:
        qs = qs.filter(next_run_at__lte=f["due_before"])
    if "limit" in f:
        qs = qs[: f["limit"]]
    return qs


def list(filter: Mapping[str, Any] | None = None) -> builtins.list[Job]:  # noqa: A001 - the seed's name
    return builtins.list(filter_jobs(filter))


def filter_runs(filter: Mapping[str, Any] | None = None) -> QuerySet[Run]:
    """Run history, newest first; exact-match filters ``job_id, status, manual``."""
    f = validation.normalize_run_filter(filter)
    qs = Run.objects.order_by("-started_at", "run_id")
    for key in ("job_id", "status", "manual"):
        if key in f:
            qs = qs.filter(**{key: f[key]})
    return qs


def get_run(run_id: str) -> Run:
    if not isinstance(run_id, str) or not validation.ID_RE.fullmatch(run_id):
        raise NotFound("run not found")
    try:
        return Run.objects.get(run_id=run_id)
    except Run.DoesNotExist:
        raise NotFound(f"run {run_id!r} not found") from None


def due_jobs(filter: Mapping[str, Any] | None = None) -> QuerySet[Job]:
    """The queryset behind ``list_due``."""
    f = validation.normalize_due_filter(filter, tz=timezone.get_current_timezone())
    at = f.get("at") or db_now()
    qs = Job.objects.due_or_rescuable(at)
    if f.get("include_claimed"):
        qs = qs | Job.objects.filter(state="running")
    qs = qs.order_by("next_run_at", "job_id")
    if "limit" in f:
        qs = qs[: f["limit"]]
    return qs


def list_due(filter: Mapping[str, Any] | None = None) -> builtins.list[Job]:
    return builtins.list(due_jobs(filter))


due = list_due


def next_due_at() -> datetime | None:
    """The earliest ``next_run_at`` among jobs that can be due (one index lookup)."""
    return (
        Job.objects.filter(state__in=DUE_STATES, next_run_at__isnull=False)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )


# Execute ---------------------------------------------------------------------------------------


def run_due(opts: Mapping[str, Any] | None = None, *, should_stop: Any = None) -> builtins.list[DueResult]:
    """Claim and execute what is due; returns one DueResult per executed attempt."""
    o = validation.normalize_run_due_opts(opts, tz=timezone.get_current_timezone())
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
        raise JobTerminal(f"job {job_id!r} is cancelled")
    if job.state in BUSY_STATES:
        raise JobBusy(f"job {job_id!r} is {job.state}")
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
