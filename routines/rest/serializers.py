"""JSON out (the field names of the Python API, ISO 8601 UTC times) and the documented shapes of JSON in.

Input is not validated here: views hand the parsed JSON to ``routines.api``, which runs
``routines.validation`` once, so REST, admin and Python callers share one set of rules. The
input serializers below exist to describe those rules in the OpenAPI schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from routines.records import jsonable
from routines.states import RUN_STATUSES, STATES
from routines.times import iso
from routines.validation import MAX_CONCURRENCY_KEY, MAX_TIMEOUT_MS, MIN_TIMEOUT_MS

from . import schema
from .bases import Field, Serializer

TIMEOUT_HELP = (
    "How long the runner waits for the target, in milliseconds (at least 1000); past it the run fails "
    'with {"reason": "timeout"} and counts towards max_attempts. null: no limit.'
)

LATE_HELP = (
    "How long past its due time (or its runner's lease) the job counts as late, in milliseconds (at least "
    "1000): health/ then answers 503 and a routine_slot_late event is written. null: never late."
)
END_AT_HELP = "No run after this instant: the job is completed when its next slot would be later. null: no end."
CONCURRENCY_KEY_HELP = (
    "Jobs sharing this key run at most concurrency_limit at once, across every runner; a job held back "
    "stays due and is not charged an attempt. null: no group."
)
CONCURRENCY_LIMIT_HELP = "How many jobs of the concurrency_key group may run at once (default 1)."
MAX_RUNS_HELP = "The job is completed once this many scheduled slots have finished. null: no limit."


@extend_schema_field(OpenApiTypes.DATETIME)
class UTCDateTimeField(Field):
    """ISO 8601 in UTC with a ``Z`` whatever ``TIME_ZONE`` is (DRF would use the current zone)."""

    def to_representation(self, value: datetime) -> str | None:
        return iso(value)


class AnyJSONField(Field):
    def to_representation(self, value: Any) -> Any:
        return jsonable(value)

    def to_internal_value(self, data: Any) -> Any:
        return data


@extend_schema_field(schema.ANY)
class PayloadField(AnyJSONField):
    pass


@extend_schema_field(schema.OBJECT)
class ObjectField(AnyJSONField):
    pass


@extend_schema_field(schema.SCHEDULE)
class ScheduleField(AnyJSONField):
    pass


@extend_schema_field(schema.TARGET)
class TargetField(AnyJSONField):
    pass


@extend_schema_field(schema.RETRY_POLICY)
class RetryPolicyField(AnyJSONField):
    pass


@extend_schema_field(schema.TIME)
class TimeInputField(AnyJSONField):
    pass


@extend_schema_field({"oneOf": [{"type": "string"}, schema.OBJECT]})
class ScopeField(AnyJSONField):
    pass


class JobSerializer(Serializer):
    job_id = serializers.CharField()
    schedule = ScheduleField()
    target = TargetField()
    payload = PayloadField(allow_null=True)
    metadata = ObjectField()
    routing_policy = ObjectField()
    retry_policy = RetryPolicyField()
    timeout_ms = serializers.IntegerField(allow_null=True, help_text=TIMEOUT_HELP)
    late_after_ms = serializers.IntegerField(allow_null=True, help_text=LATE_HELP)
    end_at = UTCDateTimeField(allow_null=True, help_text=END_AT_HELP)
    max_runs = serializers.IntegerField(allow_null=True, help_text=MAX_RUNS_HELP)
    concurrency_key = serializers.CharField(allow_null=True, help_text=CONCURRENCY_KEY_HELP)
    concurrency_limit = serializers.IntegerField(help_text=CONCURRENCY_LIMIT_HELP)
    run_count = serializers.IntegerField(
        help_text=gettext_lazy("Scheduled slots finished so far (manual runs don't count).")
    )
    paused_until = UTCDateTimeField(
        allow_null=True, help_text=gettext_lazy("A timed pause ends at the first run_due after this.")
    )
    idempotency_key = serializers.CharField()
    state = serializers.ChoiceField(choices=STATES)
    attempt_count = serializers.IntegerField()
    next_run_at = UTCDateTimeField(allow_null=True)
    current_run_id = serializers.CharField(allow_null=True)
    current_slot_at = UTCDateTimeField(allow_null=True)
    last_run_id = serializers.CharField(allow_null=True)
    last_run_at = UTCDateTimeField(allow_null=True)
    last_result = PayloadField(allow_null=True)
    last_error = PayloadField(allow_null=True)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    cancelled_at = UTCDateTimeField(allow_null=True)
    completed_at = UTCDateTimeField(allow_null=True)


class RunSerializer(Serializer):
    run_id = serializers.CharField()
    job_id = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=RUN_STATUSES)
    scope = ScopeField()
    input = PayloadField(allow_null=True)
    metadata = ObjectField()
    result = PayloadField(allow_null=True)
    error = PayloadField(allow_null=True)
    steps = serializers.ListField(child=ObjectField())
    slot_at = UTCDateTimeField(allow_null=True)
    attempt = serializers.IntegerField()
    manual = serializers.BooleanField()
    runner_id = serializers.CharField(allow_null=True)
    started_at = UTCDateTimeField()
    finished_at = UTCDateTimeField(allow_null=True)


class EventSerializer(Serializer):
    id = serializers.IntegerField(help_text=gettext_lazy("increasing in the order the events were written"))
    event_type = serializers.CharField(
        help_text=gettext_lazy("e.g. routine_created, routine_run_completed, routine_slot_late")
    )
    job_id = serializers.CharField()
    run_id = serializers.CharField(allow_null=True)
    payload = ObjectField()
    created_at = UTCDateTimeField()


class DueResultSerializer(Serializer):
    job_id = serializers.CharField()
    slot_at = UTCDateTimeField(allow_null=True)
    run_id = serializers.CharField()
    status = serializers.CharField()
    outcome = serializers.ChoiceField(choices=("completed", "failed", "cancelled"))


class RunDueResponseSerializer(Serializer):
    results = DueResultSerializer(many=True)


class NextDueSerializer(Serializer):
    next_due_at = UTCDateTimeField(allow_null=True)


# Documented input shapes (see the module docstring) -----------------------------------------


@extend_schema_field(
    {
        "type": "integer",
        "minimum": MIN_TIMEOUT_MS,
        "maximum": MAX_TIMEOUT_MS,
        "nullable": True,
        "description": TIMEOUT_HELP,
    }
)
class TimeoutField(AnyJSONField):
    pass


@extend_schema_field(
    {
        "type": "integer",
        "minimum": MIN_TIMEOUT_MS,
        "maximum": MAX_TIMEOUT_MS,
        "nullable": True,
        "description": LATE_HELP,
    }
)
class LateAfterField(AnyJSONField):
    pass


@extend_schema_field(
    {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_MS, "nullable": True, "description": MAX_RUNS_HELP}
)
class MaxRunsField(AnyJSONField):
    pass


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_CONCURRENCY_KEY,
        "pattern": r"\S",
        "nullable": True,
        "description": CONCURRENCY_KEY_HELP,
    }
)
class ConcurrencyKeyField(AnyJSONField):
    pass


@extend_schema_field(
    {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_MS, "description": CONCURRENCY_LIMIT_HELP}
)
class ConcurrencyLimitField(AnyJSONField):
    pass


@extend_schema_field(schema.JOB_ID)
class JobIdField(AnyJSONField):
    pass


@extend_schema_field(schema.IDEMPOTENCY_KEY)
class IdempotencyKeyField(AnyJSONField):
    pass


class JobPatchSerializer(Serializer):
    schedule = ScheduleField(required=False)
    target = TargetField(required=False)
    payload = PayloadField(required=False, allow_null=True)
    metadata = ObjectField(required=False)
    routing_policy = ObjectField(required=False)
    retry_policy = RetryPolicyField(required=False)
    timeout_ms = TimeoutField(required=False, allow_null=True)
    late_after_ms = LateAfterField(required=False, allow_null=True)
    end_at = TimeInputField(required=False, allow_null=True, help_text=END_AT_HELP)
    max_runs = MaxRunsField(required=False, allow_null=True)
    concurrency_key = ConcurrencyKeyField(required=False, allow_null=True)
    concurrency_limit = ConcurrencyLimitField(required=False)
    idempotency_key = IdempotencyKeyField(required=False)
    state = serializers.ChoiceField(choices=("active", "paused"), required=False)
    next_run_at = TimeInputField(required=False, allow_null=True)


class JobCreateSerializer(JobPatchSerializer):
    job_id = JobIdField(required=False)
    schedule = ScheduleField()
    target = TargetField()


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 200, "nullable": True})
class RunnerIdField(AnyJSONField):
    pass


@extend_schema_field({**schema.CLAIM_TTL_MS, "nullable": True})
class ClaimTTLField(AnyJSONField):
    pass


@extend_schema_field({**schema.LIMIT, "nullable": True})
class LimitField(AnyJSONField):
    pass


@extend_schema_field({**schema.RUN_DUE_NOW, "nullable": True})
class RunDueNowField(AnyJSONField):
    pass


class RunDueSerializer(Serializer):
    """Options of one run: leave a key out, or set it to null, for its default."""

    limit = LimitField(required=False, allow_null=True, help_text=gettext_lazy("claim at most this many jobs"))
    now = RunDueNowField(
        required=False, allow_null=True, help_text=gettext_lazy("the clock to go by; default the database's")
    )
    runner_id = RunnerIdField(required=False, allow_null=True)
    claim_ttl_ms = ClaimTTLField(required=False, allow_null=True)


class LateJobSerializer(Serializer):
    job_id = serializers.CharField()
    next_run_at = UTCDateTimeField(allow_null=True)
    late_by_ms = serializers.IntegerField()


class HealthSerializer(Serializer):
    status = serializers.ChoiceField(choices=("ok", "late"))
    due = serializers.IntegerField(
        help_text=gettext_lazy("jobs due now, counted up to 10000 (10000 means at least that many)")
    )
    late = serializers.IntegerField(
        help_text=gettext_lazy("jobs late: due longer ago than their late_after_ms, counted up to 10000 like due")
    )
    late_jobs = LateJobSerializer(
        many=True, required=False, help_text=gettext_lazy("staff only: the first 100 late jobs")
    )


class PauseRequestSerializer(Serializer):
    until = TimeInputField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Resume by itself at the first run_due after this time."),
    )


class PauseAllRequestSerializer(Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class PauseAllStateSerializer(Serializer):
    paused = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)
    since = UTCDateTimeField(allow_null=True)
    actor = serializers.CharField(allow_null=True)


def job_data(job: Any) -> dict[str, Any]:
    return JobSerializer(job).data


def run_data(run: Any) -> dict[str, Any]:
    return RunSerializer(run).data
