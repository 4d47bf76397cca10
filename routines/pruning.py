"""Deleting old run history and journal entries in small batches.

Each batch is one SELECT of primary keys and one DELETE by those keys, each in its own short
transaction, so pruning a large table never holds locks for long and the number of queries grows
with the number of batches, not rows. A job's newest ``keep_last`` runs and every running Run
are never deleted: one query first finds each job's ``keep_last``-th newest start time through
the ``(job_id, -started_at)`` index, and batches walk the old finished runs in start order.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext

from .conf import routines_settings
from .exceptions import InvalidInput
from .models import Event, Run
from .sql import concrete_field

DURATION_RE = re.compile(r"\s*(\d{1,7})\s*([smhdw])\s*", re.ASCII)
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_DURATION = timedelta(days=100 * 366)


def parse_duration(text: object) -> timedelta:
    """``"30d"``, ``"12h"``, ``"90m"`` (also ``s`` and ``w``) as a timedelta; ValueError otherwise."""
    match = DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(gettext("%(text)s is not a duration like 30d, 12h or 90m") % {"text": repr(text)})
    value = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    if value > MAX_DURATION:
        raise ValueError(gettext("%(text)s is longer than 100 years") % {"text": repr(text)})
    return value


def _retention(value: object, setting: str, field: str) -> timedelta:
    if value is None:
        value = getattr(routines_settings, setting)
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                raise InvalidInput(
                    gettext("ROUTINES[%(setting)s]: %(problem)s") % {"setting": repr(setting), "problem": exc},
                    code="invalid_filter",
                    field=field,
                ) from None
    if not isinstance(value, timedelta) or value < timedelta(0) or value > MAX_DURATION:
        raise InvalidInput(
            gettext("%(field)s must be a non-negative timedelta") % {"field": field}, code="invalid_filter", field=field
        )
    return value


def _count(value: object, field: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 1_000_000_000:
        raise InvalidInput(
            gettext("%(field)s must be an integer of at least %(low)s") % {"field": field, "low": low},
            code="invalid_filter",
            field=field,
        )
    return value


def kth_newest_starts(keep_last: int) -> dict[str, datetime]:
    """Each job's ``keep_last``-th newest run start, in one query (one index probe per job).

    Runs started before it are outside the job's newest ``keep_last``; jobs with fewer runs are
    absent. Computed once before deleting: runs created meanwhile only push older runs further
    down, so a run prunable by this answer stays prunable.
    """
    table = connection.ops.quote_name(Run._meta.db_table)
    job, started = connection.ops.quote_name("job_id"), connection.ops.quote_name("started_at")
    run_id = connection.ops.quote_name("run_id")
    sql = (
        f"SELECT j.{job}, (SELECT r.{started} FROM {table} r WHERE r.{job} = j.{job} "
        f"ORDER BY r.{started} DESC, r.{run_id} DESC LIMIT 1 OFFSET %s) "
        f"FROM (SELECT DISTINCT {job} FROM {table}) j"
    )
    col = concrete_field(Run, "started_at").get_col(Run._meta.db_table)
    converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
    out: dict[str, datetime] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [keep_last - 1])
        for job_id, value in cursor.fetchall():
            for converter in converters:
                value = converter(value, col, connection)
            if value is not None:
                out[job_id] = value
    return out


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
    from .clock import db_now

    runs_age = _retention(runs_older_than, "PRUNE_RUNS_OLDER_THAN", "runs_older_than")
    events_age = _retention(events_older_than, "PRUNE_EVENTS_OLDER_THAN", "events_older_than")
    keep = _count(routines_settings.PRUNE_KEEP_LAST if keep_last is None else keep_last, "keep_last", 0)
    size = _count(routines_settings.PRUNE_BATCH_SIZE if batch_size is None else batch_size, "batch_size", 1)
    if not isinstance(dry_run, bool):
        raise InvalidInput(gettext("dry_run must be true or false"), code="invalid_filter", field="dry_run")
    now = now or db_now()
    return {
        "runs": _prune_runs(now - runs_age, keep, size, dry_run),
        "events": _prune_events(now - events_age, size, dry_run),
    }


def _prune_runs(cutoff: datetime, keep_last: int, size: int, dry_run: bool) -> int:
    """Walk old finished runs in (started_at, run_id) order, a batch at a time, never revisiting."""
    limits = kth_newest_starts(keep_last) if keep_last > 0 else None
    old = Run.objects.filter(started_at__lt=cutoff).exclude(status=Run.Status.RUNNING).order_by("started_at", "run_id")
    removed = 0
    after: tuple[datetime, str] | None = None
    while True:
        qs = old
        if after is not None:
            qs = qs.filter(Q(started_at__gt=after[0]) | Q(started_at=after[0], run_id__gt=after[1]))
        rows = list(qs.values_list("run_id", "job_id", "started_at")[:size])
        if not rows:
            return removed
        after = (rows[-1][2], rows[-1][0])
        keys = [
            run_id
            for run_id, job_id, started in rows
            if limits is None or (job_id in limits and started < limits[job_id])
        ]
        if keys and not dry_run:
            # Re-checked next to the DELETE: a run finished since, or still running, is safe either way.
            removed += Run.objects.filter(run_id__in=keys).exclude(status=Run.Status.RUNNING).delete()[0]
        else:
            removed += len(keys)
        if len(rows) < size:
            return removed


def _prune_events(cutoff: datetime, size: int, dry_run: bool) -> int:
    old = Event.objects.filter(created_at__lt=cutoff)
    if dry_run:
        return old.count()
    removed = 0
    while True:
        keys = list(old.order_by("id").values_list("id", flat=True)[:size])
        if not keys:
            return removed
        removed += Event.objects.filter(id__in=keys).delete()[0]
        if len(keys) < size:
            return removed
