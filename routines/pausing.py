"""Pauses beyond one job's state: the switch that holds every runner, and pauses that end by themselves.

Both are read by ``run_due`` at the start of each pass, never per job: a paused fleet costs one
indexed lookup per pass, and a timed pause ends at the first pass after its ``paused_until``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from .journal import announce, current_actor, event
from .models import Event, Job, Switch
from .retry import with_retry
from .times import iso

PAUSE_ALL = "pause_all"
WAKE_BATCH = 1000


@dataclass(frozen=True)
class GlobalPause:
    reason: str
    since: datetime
    actor: str | None


def paused_all() -> GlobalPause | None:
    switch = Switch.objects.filter(name=PAUSE_ALL).first()
    if switch is None:
        return None
    return GlobalPause(switch.reason, switch.created_at, switch.actor)


def pause_all(reason: str, now: datetime) -> GlobalPause:
    """Hold every runner until ``resume_all``; pausing again keeps the first reason and time."""
    try:
        with transaction.atomic():
            Switch.objects.create(name=PAUSE_ALL, reason=reason, actor=current_actor(), created_at=now)
    except IntegrityError:
        pass  # already paused
    current = paused_all()
    return current or GlobalPause(reason, now, current_actor())


def resume_all() -> bool:
    """Let runners claim again; False when nothing was paused."""
    deleted, _ = Switch.objects.filter(name=PAUSE_ALL).delete()
    return bool(deleted)


def wake(now: datetime) -> int:
    """Resume the jobs whose timed pause has ended; their missed slots follow their misfire policy."""
    ended = Job.objects.filter(state="paused", paused_until__lte=now)
    rows = list(ended.values_list("job_id", "version", "paused_until")[:WAKE_BATCH])
    woken: list[Event] = []
    for job_id, version, until in rows:

        def write(job_id: str = job_id, version: int = version, until: datetime | None = until) -> None:
            with transaction.atomic():
                n = Job.objects.filter(job_id=job_id, version=version, state="paused").update(
                    state="active", paused_until=None, updated_at=now, version=F("version") + 1
                )
                if n:
                    ev = event(
                        "routine_updated", job_id, now, state="active", reason="pause_ended", paused_until=iso(until)
                    )
                    ev.save()
                    woken.append(ev)

        with_retry(write)
    announce(woken)
    return len(woken)
