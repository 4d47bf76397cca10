"""Deleting old run history and journal entries in small batches (SPEC §11).

Each batch is one SELECT of primary keys and one DELETE by those keys, each in its own short
transaction, so pruning a large table never holds locks for long and the number of queries grows
with the number of batches, not rows. A job's newest ``keep_last`` runs and every running Run
are never candidates: the SELECT itself excludes them (a correlated subquery finds each job's
``keep_last``-th newest start time through the ``(job_id, -started_at)`` index).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from .conf import routines_settings
from .exceptions import InvalidInput
from .models import Event, Run

DURATION_RE = re.compile(r"\s*(\d{1,7})\s*([smhdw])\s*", re.ASCII)
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_DURATION = timedelta(days=100 * 366)


def parse_duration(text: object) -> timedelta:
    """``"30d"``, ``"12h"``, ``"90m"`` (also ``s`` and ``w``) as a timedelta; ValueError otherwise."""
    match = DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h or 90m")
    value = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    if value > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than 100 years")
    return value


def _retention(value: object, setting: str, field: str) -> timedelta:
    if value is None:
        value = getattr(routines_settings, setting)
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                raise InvalidInput(f"ROUTINES[{setting!r}]: {exc}", code="invalid_filter", field=field) from None
    if not isinstance(value, timedelta) or value < timedelta(0) or value > MAX_DURATION:
        raise InvalidInput(f"{field} must be a non-negative timedelta", code="invalid_filter", field=field)
    return value


def _count(value: object, field: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 1_000_000_000:
        raise InvalidInput(f"{field} must be an integer of at least {low}", code="invalid_filter", field=field)
    return value


def prunable_runs(cutoff: datetime, keep_last: int) -> QuerySet[Run]:
    qs = Run.objects.filter(started_at__lt=cutoff).exclude(status=Run.Status.RUNNING)
    if keep_last > 0:
        kth_newest = (
            Run.objects.filter(job_id=OuterRef("job_id"))
            .order_by("-started_at", "-run_id")
            .values("started_at")[keep_last - 1 : keep_last]
        )
        # A job with fewer than keep_last runs gives NULL: nothing of it is prunable.
        qs = qs.filter(started_at__lt=Subquery(kth_newest))
    return qs


def _in_batches(select: Callable[[int], list[Any]], delete: Callable[[list[Any]], int], batch_size: int) -> int:
    removed = 0
    while True:
        keys = select(batch_size)
        if not keys:
            return removed
        removed += delete(keys)
        if len(keys) < batch_size:
            return removed


def prune(
    runs_older_than: timedelta | None = None,
    events_older_than: timedelta | None = None,
    keep_last: int | None = None,
    dry_run: bool = False,
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
) -> dict[str, int]:
    """Delete finished Runs and Events older than their retention; returns how many (or would)."""
    from .runner import db_now

    runs_age = _retention(runs_older_than, "PRUNE_RUNS_OLDER_THAN", "runs_older_than")
    events_age = _retention(events_older_than, "PRUNE_EVENTS_OLDER_THAN", "events_older_than")
    keep = _count(routines_settings.PRUNE_KEEP_LAST if keep_last is None else keep_last, "keep_last", 0)
    size = _count(routines_settings.PRUNE_BATCH_SIZE if batch_size is None else batch_size, "batch_size", 1)
    if not isinstance(dry_run, bool):
        raise InvalidInput("dry_run must be true or false", code="invalid_filter", field="dry_run")
    now = now or db_now()
    runs = prunable_runs(now - runs_age, keep)
    events = Event.objects.filter(created_at__lt=now - events_age)
    if dry_run:
        return {"runs": runs.count(), "events": events.count()}

    def select_runs(n: int) -> list[str]:
        return list(runs.order_by("started_at", "run_id").values_list("run_id", flat=True)[:n])

    def delete_runs(keys: list[str]) -> int:
        # Re-checked: a run cannot go back to running, but keep the guard next to the DELETE.
        return Run.objects.filter(run_id__in=keys).exclude(status=Run.Status.RUNNING).delete()[0]

    def select_events(n: int) -> list[int]:
        return list(events.order_by("id").values_list("id", flat=True)[:n])

    def delete_events(keys: list[int]) -> int:
        return Event.objects.filter(id__in=keys).delete()[0]

    return {
        "runs": _in_batches(select_runs, delete_runs, size),
        "events": _in_batches(select_events, delete_events, size),
    }
