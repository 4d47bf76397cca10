"""Jobs and runs as plain JSON-ready dicts: the records the REST API returns, for shells without DRF.

The command line's ``--json`` prints these, so a script can switch between ``manage.py routines``
and the REST API without reshaping anything. Field names are those of the Python API; times are
ISO 8601 UTC strings, also inside JSON fields. Stdlib only (plus ``routines.times``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .states import DEFINITION_FIELDS
from .times import iso

JOB_FIELDS = (
    "job_id",
    *DEFINITION_FIELDS,
    "run_count",
    "paused_until",
    "idempotency_key",
    "state",
    "attempt_count",
    "next_run_at",
    "current_run_id",
    "current_slot_at",
    "last_run_id",
    "last_run_at",
    "last_result",
    "last_error",
    "created_at",
    "updated_at",
    "cancelled_at",
    "completed_at",
)
RUN_FIELDS = (
    "run_id",
    "job_id",
    "kind",
    "status",
    "scope",
    "input",
    "metadata",
    "result",
    "error",
    "steps",
    "slot_at",
    "attempt",
    "manual",
    "runner_id",
    "started_at",
    "finished_at",
)


def jsonable(value: Any) -> Any:
    """Datetimes anywhere inside ``value`` (schedules hold aware datetimes) as ISO 8601 UTC strings."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def job_record(job: Any) -> dict[str, Any]:
    return {name: jsonable(getattr(job, name)) for name in JOB_FIELDS}


def run_record(run: Any) -> dict[str, Any]:
    return {name: jsonable(getattr(run, name)) for name in RUN_FIELDS}
