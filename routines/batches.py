"""What a runner holds between its claim and its finish: claims, finished outcomes, the batch.

Plain records, shared by the runner's thread and its heartbeat (under ``Runner.lock``).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .models import Run
from .targets.base import COMPLETED, Outcome


@dataclass
class DueResult:
    job_id: str
    slot_at: datetime | None
    run: Run
    status: str = "executed"
    outcome: str = COMPLETED


@dataclass
class Claim:
    """A job this runner holds: the row as it was before the claim, and the Run it created."""

    job: dict[str, Any]
    run: Run
    slot_at: datetime
    attempt: int


@dataclass
class Finish:
    claim: Claim
    outcome: Outcome
    finished_at: datetime


@dataclass
class Batch:
    """One batch on its way: shared by the runner's thread and its heartbeat, under ``Runner.lock``."""

    waiting: deque[Claim]  # claimed, not started
    confirmed: tuple[float, float]  # (monotonic, wall) time the claims were last known to be held
    in_hand: Claim | None = None
    started: float = 0.0
    pending: list[Finish] = field(default_factory=list)
    flushed: float = field(default_factory=time.monotonic)
    results: list[DueResult] = field(default_factory=list)
    lost_hand: bool = False


def since(mark: tuple[float, float]) -> float:
    """Seconds since ``mark`` by both clocks: a frozen VM may stop the one and not the other."""
    return max(time.monotonic() - mark[0], time.time() - mark[1])


def now_mark() -> tuple[float, float]:
    return (time.monotonic(), time.time())
