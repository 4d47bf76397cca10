"""The journal: building Event rows, and telling the log and ``event_recorded`` once they are written."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from . import signals
from .models import Event


def event(event_type: str, job_id: str, at: datetime, run_id: str | None = None, **payload: Any) -> Event:
    return Event(event_type=event_type, job_id=job_id, run_id=run_id, payload=payload, created_at=at)


def announce(events: Iterable[Event]) -> None:
    """Log committed events and send ``event_recorded`` for them (receivers may read what was written)."""
    for ev in events:
        signals.log_event(ev)
        signals.event_recorded.send(sender=Event, event=ev)


def observed() -> bool:
    """Whether an event would reach anyone: a receiver of ``event_recorded`` or the ``routines`` log.

    Bulk writers skip building Event objects nobody would see.
    """
    return signals.event_recorded.has_listeners(Event) or signals.logger.isEnabledFor(signals.EVENT_LEVEL)
