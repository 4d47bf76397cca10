"""Reading jobs and runs: lookups by id, the filtered lists and what is due.

Filters are validated by ``routines.filters`` so every shell refuses the same bad input with the
same error; ``routines.api`` re-exports these as the public API.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from . import filters, targets, validation
from .clock import db_now
from .exceptions import NotFound
from .models import Event, Job, Run
from .states import DUE_STATES
from .targets.task import read_result


def get(job_id: str) -> Job:
    if not isinstance(job_id, str) or not validation.ID_RE.fullmatch(job_id):
        raise NotFound(gettext("job not found"))  # no such id can exist; PostgreSQL would refuse a NUL in the query
    try:
        return Job.objects.get(job_id=job_id)
    except Job.DoesNotExist:
        raise NotFound(gettext("job %(job_id)s not found") % {"job_id": repr(job_id)}) from None


def filter_jobs(filter: Mapping[str, Any] | None = None) -> QuerySet[Job]:
    """The queryset behind ``list`` (last changed first), for shells that paginate it themselves."""
    f = filters.normalize_job_filter(filter, tz=timezone.get_current_timezone(), target_types=targets.types())
    qs = Job.objects.order_by("-updated_at", "job_id")
    for key in ("job_id", "state", "schedule_type", "target_type"):
        if key in f:
            qs = qs.filter(**{key: f[key]})
    if "due_before" in f:
        qs = qs.filter(next_run_at__lte=f["due_before"])
    if "limit" in f:
        qs = qs[: f["limit"]]
    return qs


def filter_runs(filter: Mapping[str, Any] | None = None) -> QuerySet[Run]:
    """Run history, newest first; exact-match filters ``job_id, status, manual``."""
    f = filters.normalize_run_filter(filter)
    qs = Run.objects.order_by("-started_at", "run_id")
    for key in ("job_id", "status", "manual"):
        if key in f:
            qs = qs.filter(**{key: f[key]})
    return qs


def filter_events(filter: Mapping[str, Any] | None = None) -> QuerySet[Event]:
    """The journal, newest first; ``created_after`` is exclusive, ``created_before`` inclusive."""
    f = filters.normalize_event_filter(filter, tz=timezone.get_current_timezone())
    qs = Event.objects.order_by("-id")
    for key in ("job_id", "run_id", "event_type"):
        if key in f:
            qs = qs.filter(**{key: f[key]})
    if "created_after" in f:
        qs = qs.filter(created_at__gt=f["created_after"])
    if "created_before" in f:
        qs = qs.filter(created_at__lte=f["created_before"])
    return qs


def get_run(run_id: str) -> Run:
    if not isinstance(run_id, str) or not validation.ID_RE.fullmatch(run_id):
        raise NotFound(gettext("run not found"))
    try:
        return Run.objects.get(run_id=run_id)
    except Run.DoesNotExist:
        raise NotFound(gettext("run %(run_id)s not found") % {"run_id": repr(run_id)}) from None


def task_result(run_id: str) -> Any:
    """The Django Tasks ``TaskResult`` of the task a ``task`` run enqueued, as its backend sees it now
    (status, return value, errors): the Run itself completes at enqueue time."""
    return read_result(get_run(run_id).result)


def due_jobs(filter: Mapping[str, Any] | None = None) -> QuerySet[Job]:
    """The queryset behind ``list_due``."""
    f = filters.normalize_due_filter(filter, tz=timezone.get_current_timezone())
    at = f.get("at") or db_now()
    qs = Job.objects.due_or_rescuable(at)
    if f.get("include_claimed"):
        qs = qs | Job.objects.filter(state="running")
    qs = qs.order_by("next_run_at", "job_id")
    if "limit" in f:
        qs = qs[: f["limit"]]
    return qs


def list_due(filter: Mapping[str, Any] | None = None) -> list[Job]:
    return list(due_jobs(filter))


def next_due_at() -> datetime | None:
    """The earliest ``next_run_at`` among jobs that can be due (one index lookup)."""
    return (
        Job.objects.filter(state__in=DUE_STATES, next_run_at__isnull=False)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )
