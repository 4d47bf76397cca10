from __future__ import annotations

import dataclasses

from django.db import connection
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from routines import late
from routines.clock import db_now


@dataclasses.dataclass
class LateRoutines(HealthCheck):
    """Fails while a job is due (or its runner's lease expired) longer ago than its late_after_ms."""

    def run(self) -> None:
        try:
            now = db_now()
            jobs, count = late.look(now, late.NOTE_BATCH)  # bounded, like health/
        finally:
            if not connection.in_atomic_block:
                connection.close()  # the check runs on a pool thread, whose connection nobody else closes
        if jobs:
            raise ServiceUnavailable(f"{count} routine(s) late")  # counts only: the report may be public
