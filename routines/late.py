"""Late jobs: the built-in dead-man's switch.

A job is late when it is due (or its runner's lease expired) longer ago than its
``late_after_ms``: nothing ran it. Whoever sees a late slot first (a runner, the health check,
the command line) journals it once: a conditional update of the job's ``late_slot_at`` picks that
one caller on every database, and only it writes the ``routine_slot_late`` event and sends
``routines.signals.job_late``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from . import signals
from .journal import announce, event
from .models import Event, Job
from .retry import with_retry
from .times import iso, to_ms

# A runner notes at most this many late jobs per pass, so a long outage costs it one bounded query.
NOTE_BATCH = 100
# Monitoring counts (metrics, health/) stop here, so a scrape or a probe reads a bounded number of
# index entries however many jobs are due, late or finished; a count equal to it means "at least".
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Lateness:
    job: Job
    slot_at: datetime | None  # the slot that did not run (None for a job set due by hand)
    due_at: datetime  # since when it should have been running
    late_by_ms: int


def late_jobs(at: datetime, limit: int | None = None, by_more_than_ms: int = 0) -> list[Job]:
    """The late jobs at ``at`` (late by more than ``by_more_than_ms`` too), longest overdue first."""
    qs = Job.objects.late(at, by_more_than_ms).order_by("next_run_at", "job_id")
    return list(qs if limit is None else qs[:limit])


def look(at: datetime, shown: int, by_more_than_ms: int = 0) -> tuple[list[Job], int]:
    """What a monitor sees at ``at``: at most ``shown`` jobs late by more than ``by_more_than_ms``,
    longest overdue first, and how many there are, up to ``COUNT_CAP``.

    Looking counts as seeing whatever the threshold: the first ``shown`` late jobs have their late
    slots journalled if nobody saw them before. Bounded both ways, so a probe during a long outage
    reads as few rows as on a quiet day.
    """
    seen = late_jobs(at, shown)
    note_late(seen, at)
    jobs = late_jobs(at, shown, by_more_than_ms) if by_more_than_ms and seen else seen
    count = count_up_to(Job.objects.late(at, by_more_than_ms).values("next_run_at")) if jobs else 0
    return jobs, count


def count_up_to(qs: QuerySet[Any], cap: int | None = None) -> int:
    """``qs.count()``, but no more than ``cap`` (default ``COUNT_CAP``): a LIMITed subquery,
    ``SELECT COUNT(*) FROM (SELECT ... LIMIT cap)``, which stops reading at the cap.

    Give ``qs`` a ``.values()`` of a column its index holds: the subquery otherwise selects the
    primary key, which the (state, ...) indexes do not hold, and reads a table row per entry."""
    return qs[: COUNT_CAP if cap is None else cap].count()


def lateness(job: Job, at: datetime) -> Lateness:
    """How late ``job`` is at ``at``: since its due time, or since its lease expired if it was running."""
    if job.state == "running":
        due = job.lease_expires_at or at
        slot = job.current_slot_at
    else:
        due = job.next_run_at or at
        slot = job.current_slot_at if job.state == "retry_waiting" else job.next_slot_at or job.next_run_at
    return Lateness(job, slot, due, max(0, to_ms(at) - to_ms(due)))


def note_late(jobs: list[Job], at: datetime) -> list[Lateness]:
    """Journal each job's late slot unless someone already did; returns the ones noted by this call."""
    noted: list[Lateness] = []
    for job in jobs:
        seen = lateness(job, at)
        mark = seen.slot_at or seen.due_at

        def write(seen: Lateness = seen, mark: datetime = mark) -> bool:
            with transaction.atomic():
                first = (
                    Job.objects.filter(job_id=seen.job.job_id)
                    .filter(Q(late_slot_at__isnull=True) | ~Q(late_slot_at=mark))
                    .update(late_slot_at=mark)
                )
                if first:
                    ev = event("routine_slot_late", seen.job.job_id, at)
                    ev.payload.update(slot_at=iso(seen.slot_at), late_by_ms=seen.late_by_ms)
                    ev.save()
                    transaction.on_commit(lambda: _tell(ev, seen))
                return bool(first)

        if with_retry(write):
            noted.append(seen)
    return noted


def _tell(ev: Event, seen: Lateness) -> None:
    announce([ev])
    signals.job_late.send(sender=Job, job=seen.job, slot_at=seen.slot_at, late_by_ms=seen.late_by_ms)
