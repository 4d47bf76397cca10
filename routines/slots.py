"""When a recurring job's slot really runs: missed slots (the misfire policy) and jitter.

Pure, like ``schedules``: the caller passes ``now``. A runner resolves a slot's misfire before it
claims the slot, so a job that no runner reached for hours skips or replays what its schedule says
instead of what happened to be stored. Jitter is derived from the job id and the slot alone, so
every runner computes the same instant and a job's runs never move when a runner restarts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import schedules
from .times import add_ms, to_ms

# Under ``skip`` without a ``misfire_grace_ms``: a run_due started by cron each minute is late by
# up to a minute, which must not count as missing the slot.
DEFAULT_SKIP_GRACE_MS = 60_000
# A cron schedule is stepped slot by slot; this bounds the work for a job missed for months (a
# longer gap is resolved over several claims).
MAX_STEPS = 100_000


@dataclass(frozen=True)
class Resolution:
    """What to do instead of running the stored slot: run ``slot`` (an older one was skipped), or
    run nothing now and wait for ``next_at`` (None: the schedule has no slot left)."""

    slot: datetime | None
    next_at: datetime | None
    skipped: int
    first: datetime
    last: datetime


def resolve(schedule: dict[str, Any], slot_at: datetime, now: datetime) -> Resolution | None:
    """The misfire policy applied to ``slot_at`` reached at ``now``; None: run ``slot_at`` as it is.

    ``all`` runs every missed slot oldest first, but not one more than ``misfire_grace_ms`` late
    and at most the newest ``max_catch_up`` of them; ``skip`` runs no slot more than the grace
    late; ``latest`` (the default) runs the stored slot once and then moves past ``now``.
    """
    if schedule.get("type") not in ("interval", "cron"):
        return None
    policy = schedules.misfire_policy(schedule)
    if policy == "latest":
        return None
    grace = schedule.get("misfire_grace_ms")
    if policy == "skip" and grace is None:
        grace = DEFAULT_SKIP_GRACE_MS
    cap = schedule.get("max_catch_up") if policy == "all" else None
    if grace is None and cap is None:
        return None
    if grace is not None:
        grace += schedule.get("jitter_ms") or 0  # a slot is due up to jitter_ms after it: not late yet
    late_ms = to_ms(now) - to_ms(slot_at)
    if late_ms <= 0 or (cap is None and grace is not None and late_ms <= grace):
        return None  # on time: the common case costs no slot arithmetic
    oldest = None if grace is None else now - timedelta(milliseconds=grace)
    if schedule["type"] == "interval":
        return _interval(schedule["every_ms"], slot_at, now, oldest, cap)
    return _stepped(schedule, slot_at, now, oldest, cap)


def _interval(every: int, s0: datetime, now: datetime, oldest: datetime | None, cap: int | None) -> Resolution | None:
    last_index = (to_ms(now) - to_ms(s0)) // every  # slots s0 + i*every for i in 0..last_index are due
    start = 0 if oldest is None else max(0, -(-(to_ms(oldest) - to_ms(s0)) // every))
    if cap is not None:
        start = max(start, last_index - cap + 1)
    if start == 0:
        return None
    skipped = min(start, last_index + 1)

    def nth(i: int) -> datetime | None:
        return add_ms(s0, i * every)

    last = nth(skipped - 1) or s0
    if start <= last_index:
        return Resolution(nth(start), None, skipped, s0, last)
    return Resolution(None, nth(last_index + 1), skipped, s0, last)


def _stepped(
    schedule: dict[str, Any], s0: datetime, now: datetime, oldest: datetime | None, cap: int | None
) -> Resolution | None:
    """``_interval`` for schedules without arithmetic (cron): step through the due slots."""
    step = {**schedule, "catch_up": True}
    due: list[datetime] = []
    slot: datetime | None = s0
    while slot is not None and slot <= now and len(due) < MAX_STEPS:
        due.append(slot)
        slot = schedules.next_slot(step, slot, slot)
    start = 0 if oldest is None else next((i for i, s in enumerate(due) if s >= oldest), len(due))
    if cap is not None:
        start = max(start, len(due) - cap)
    if start == 0:
        return None
    if start < len(due):
        return Resolution(due[start], None, start, s0, due[start - 1])
    return Resolution(None, slot, start, s0, due[-1])


def offset_ms(job_id: str, slot: datetime, jitter_ms: int) -> int:
    """The job's offset for ``slot``, in ``[0, jitter_ms)``: a hash of the two, nothing random."""
    if jitter_ms <= 0:
        return 0
    digest = hashlib.blake2b(f"{job_id}\x00{to_ms(slot)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % jitter_ms


def run_at(schedule: dict[str, Any], job_id: str, slot: datetime) -> datetime:
    """The instant the job is due for ``slot``: the slot plus its jitter offset."""
    jitter = schedule.get("jitter_ms") or 0
    if not jitter:
        return slot
    return add_ms(slot, offset_ms(job_id, slot, jitter)) or slot
