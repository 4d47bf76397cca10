"""Creating jobs: one input (``create_or_get``) or many in a few bulk INSERTs (``create_many``).

Both validate with the same rules (``normalize``) and write each job with its ``routine_created``
event in one transaction; ``routines.api`` re-exports them as the public API.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from . import policy, sql, targets, validation
from .conf import routines_settings
from .exceptions import AlreadyExists, InvalidInput
from .journal import announce, event, observed
from .models import Event, Job
from .retry import with_retry
from .times import iso


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
    return validation.normalize_job(
        raw,
        **options,
        default_timeout_ms=routines_settings.DEFAULT_TIMEOUT_MS,
        default_late_after_ms=routines_settings.LATE_AFTER_MS,
    )


def create_or_get(job_input: Mapping[str, Any]) -> tuple[Job, bool]:
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
            raise AlreadyExists(
                gettext("job %(job_id)s already exists") % {"job_id": repr(job.job_id)}, field="job_id"
            ) from None
        raise AlreadyExists(
            gettext("idempotency_key %(idempotency_key)s is taken")
            % {"idempotency_key": repr(data["idempotency_key"])},
            field="idempotency_key",
        ) from None
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
            raise AlreadyExists(
                gettext("inputs[%(index)s]: job_id %(job_id)s is given twice")
                % {"index": index, "job_id": repr(data["job_id"])},
                field="job_id",
            )
        if key in new_keys:
            raise AlreadyExists(
                gettext("inputs[%(index)s]: idempotency_key %(key)s is given twice")
                % {"index": index, "key": repr(key)},
                field="idempotency_key",
            )
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
        raise AlreadyExists(gettext("a job_id or idempotency_key was taken meanwhile; nothing was created")) from None
    announce(created)


# Event columns after its id, in field order.
EVENT_FIELDS = ("event_type", "job_id", "run_id", "payload", "created_at")


def _normalizer(now: datetime) -> Callable[[object], dict[str, Any]]:
    """``normalize`` for many inputs: the settings and the time zone are read once, not per input."""
    tz = timezone.get_current_timezone()
    max_bytes = routines_settings.MAX_PAYLOAD_BYTES
    default_timeout = routines_settings.DEFAULT_TIMEOUT_MS
    default_late = routines_settings.LATE_AFTER_MS

    def check(raw: object) -> dict[str, Any]:
        return validation.normalize_job(
            raw,
            now=now,
            tz=tz,
            validate_target=targets.validate,
            max_payload_bytes=max_bytes,
            default_timeout_ms=default_timeout,
            default_late_after_ms=default_late,
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
            raise AlreadyExists(
                gettext("inputs[%(index)s]: %(field)s %(value)s already exists")
                % {"index": values[value], "field": field, "value": repr(value)},
                field=field,
            )


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
