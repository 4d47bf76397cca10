"""A job's states, and the columns a runner reads to execute one: named once for every module."""

from __future__ import annotations

STATES = ("active", "running", "retry_waiting", "paused", "completed", "exhausted", "cancelled")
DUE_STATES = ("active", "retry_waiting")
TERMINAL_STATES = ("completed", "exhausted", "cancelled")
RUN_STATUSES = ("running", "completed", "failed", "cancelled")

# What a job's creator says it is and does: the input keys after job_id, the admin's definition
# fields, and what the runner needs to execute it.
DEFINITION_FIELDS = (
    "schedule",
    "target",
    "payload",
    "metadata",
    "routing_policy",
    "retry_policy",
    "timeout_ms",
    "late_after_ms",
    "end_at",
    "max_runs",
    "concurrency_key",
    "concurrency_limit",
)
# What the runner reads of a job to claim and execute it (a row as a dict, never a model instance).
CLAIM_FIELDS = (
    "job_id",
    "state",
    "version",
    "next_run_at",
    "next_slot_at",
    "run_count",
    "attempt_count",
    "current_run_id",
    "current_slot_at",
    *DEFINITION_FIELDS,
    "created_at",
    "schedule_type",
    "target_type",
)
