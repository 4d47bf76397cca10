"""Lifecycle signals, and how the journal is logged through the ``routines`` logger."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger("routines")

# kwargs: event (an Event row, already committed)
event_recorded = Signal()
# kwargs: run (a Run row); run_started before the target executes, run_finished once it is recorded
run_started = Signal()
run_finished = Signal()
# kwargs: job (a Job), slot_at, late_by_ms; once per late slot, after its routine_slot_late event is committed
job_late = Signal()


EVENT_LEVEL = logging.INFO  # the level of most events; failures and denials are warnings


def log_event(event: Any) -> None:
    level = logging.WARNING if event.event_type in _WARN else EVENT_LEVEL
    if logger.isEnabledFor(level):
        logger.log(
            level,
            "%s job=%s run=%s %s",
            event.event_type,
            event.job_id,
            event.run_id or "-",
            event.payload,
            extra={"event_type": event.event_type, "job_id": event.job_id, "run_id": event.run_id},
        )


_WARN = {"routine_run_failed", "routine_lease_expired", "routine_policy_denied", "routine_slot_late"}
