"""Missed slots, applied by a runner to the due rows it read, before it claims them.

A job whose misfire policy skips slots is moved on to the slot it should run (or past ``now``)
with one ``routine_slots_skipped`` event, in the claim's transaction and fenced on the row's
``version``, so two runners can't both skip the same slots. Jobs with the default policy cost a
dictionary lookup and no statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F

from . import slots
from .journal import announce, event
from .models import Event, Job
from .times import iso


def apply(rows: list[dict[str, Any]], now: datetime, wall: datetime) -> list[dict[str, Any]]:
    """The rows still to claim at ``now``; the caller holds a transaction open."""
    kept: list[dict[str, Any]] = []
    events: list[Event] = []
    for row in rows:
        resolution = None
        if row["state"] == "active":
            resolution = slots.resolve(row["schedule"], row["next_slot_at"] or row["next_run_at"], now)
        if resolution is None:
            kept.append(row)
            continue
        fields = _fields(row, resolution, wall)
        won = Job.objects.filter(job_id=row["job_id"], version=row["version"], state="active").update(
            **fields, version=F("version") + 1
        )
        if not won:
            continue  # another runner moved it meanwhile
        first, last = iso(resolution.first), iso(resolution.last)
        events.append(
            event("routine_slots_skipped", row["job_id"], wall, count=resolution.skipped, first=first, last=last)
        )
        due = fields["next_run_at"]
        if fields["state"] == "active" and due is not None and due <= now:
            kept.append({**row, **fields, "version": row["version"] + 1})
    if events:
        Event.objects.bulk_create(events)
        transaction.on_commit(lambda: announce(events))
    return kept


def _fields(row: dict[str, Any], resolution: slots.Resolution, wall: datetime) -> dict[str, Any]:
    """The job's next slot after the skip, or its end when the schedule (or ``end_at``) has none."""
    slot = resolution.slot or resolution.next_at
    end_at = row.get("end_at")
    if slot is None or (end_at is not None and slot > end_at):
        return {
            "state": "completed",
            "next_run_at": None,
            "next_slot_at": None,
            "completed_at": wall,
            "updated_at": wall,
        }
    due = slots.run_at(row["schedule"], row["job_id"], slot)
    return {"state": "active", "next_run_at": due, "next_slot_at": slot, "updated_at": wall}
