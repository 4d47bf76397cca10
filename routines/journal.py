"""The journal: building Event rows, and telling the log and ``event_recorded`` once they are written."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from . import signals
from .models import Event

# Who asked for the write in progress (an admin or REST user); events written meanwhile say so.
# A context variable rather than an argument so the runner, which writes the events of a manual
# run, needs no knowledge of who triggered it.
_actor: ContextVar[str | None] = ContextVar("routines_actor", default=None)


@contextmanager
def acting_as(actor: str | None) -> Iterator[None]:
    """Events built inside this block carry ``payload["actor"] = actor`` (nothing when None)."""
    if actor is None:
        yield
        return
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str | None:
    return _actor.get()


def event(event_type: str, job_id: str, at: datetime, run_id: str | None = None, **payload: Any) -> Event:
    actor = _actor.get()
    if actor is not None:
        payload.setdefault("actor", actor)
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
