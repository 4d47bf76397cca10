"""OpenAPI pieces drf-spectacular cannot infer: the ``oneOf`` shapes of schedules and targets.

Written as plain JSON Schema so request and response describe exactly what
``routines.validation`` and the target validators accept and store. A target type a project
registers itself matches the last, open variant.
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from routines import targets
from routines.filters import LATEST_NOW, MAX_TTL_MS
from routines.schedules import SCHEDULE_TYPES
from routines.times import MAX_MS, to_ms
from routines.validation import MAX_ATTEMPTS, MAX_BACKOFF_MS, MAX_INT, MAX_KEY_LENGTH

from .exceptions import ErrorSerializer

TIME: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "format": "date-time", "description": "ISO 8601"},
        {"type": "integer", "minimum": 0, "maximum": MAX_MS, "description": "epoch milliseconds"},
    ]
}
OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
ANY: dict[str, Any] = {"nullable": True, "description": "any JSON value"}
JOB_ID: dict[str, Any] = {"type": "string", "pattern": r"^[A-Za-z0-9._:-]{1,200}$"}


def _variant(title: str, type_name: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "properties": {"type": {"type": "string", "enum": [type_name]}, **properties},
        "required": ["type", *required],
        "additionalProperties": False,
    }


_NULLABLE_INT = {"type": "integer", "nullable": True}
RECURRING: dict[str, Any] = {
    "catch_up": {"type": "boolean", "description": "true: misfire all; false: misfire latest"},
    "misfire": {
        "type": "string",
        "enum": ["all", "latest", "skip"],
        "description": "missed slots: all replays each, latest runs once for them all (the default), skip runs none",
    },
    "misfire_grace_ms": {
        **_NULLABLE_INT,
        "minimum": 0,
        "description": "a slot reached more than this late is missed (skip: one minute when null)",
    },
    "max_catch_up": {**_NULLABLE_INT, "minimum": 1, "description": "misfire all replays at most this many slots"},
    "jitter_ms": {
        **_NULLABLE_INT,
        "minimum": 0,
        "description": "each run is due up to this much after its slot, the same for every runner",
    },
}

SCHEDULE: dict[str, Any] = {
    "oneOf": [
        _variant("once", "once", {"at": TIME}, ("at",)),
        _variant(
            "interval",
            "interval",
            {"every_ms": {"type": "integer", "minimum": 1}, "start_at": TIME, **RECURRING},
            ("every_ms",),
        ),
        _variant("cron", "cron", {"expr": {"type": "string"}, "timezone": {"type": "string"}, **RECURRING}, ("expr",)),
    ],
    "description": "when the job is due",
}

SESSION: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "title": "live",
            "properties": {"kind": {"type": "string", "enum": ["live"]}, "ref": {"type": "string"}},
            "required": ["kind", "ref"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "routed",
            "properties": {"kind": {"type": "string", "enum": ["routed"]}, "opts": OBJECT},
            "required": ["kind"],
            "additionalProperties": False,
        },
    ]
}
BUILTIN_TARGETS = ("run", "query", "callable", "task")
TARGET: dict[str, Any] = {
    "oneOf": [
        _variant(
            "run",
            "run",
            {
                "scope": {"oneOf": [{"type": "string"}, OBJECT]},
                "run_opts": {
                    "type": "object",
                    "properties": {"kind": {"type": "string"}, "input": ANY, "metadata": OBJECT},
                    "additionalProperties": False,
                },
                "outcome": {"type": "string", "enum": ["completed", "failed", "cancelled"]},
                "result": ANY,
                "error": ANY,
                "cancel_reason": {"type": "string", "nullable": True},
            },
        ),
        _variant(
            "query",
            "query",
            {
                "session": SESSION,
                "prompt": {"type": "string", "minLength": 1},
                "query_opts": OBJECT,
                "thread": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {"thread_id": {"type": "string"}},
                            "required": ["thread_id"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "properties": {"start": OBJECT},
                            "required": ["start"],
                            "additionalProperties": False,
                        },
                    ]
                },
                "stop_session": {"type": "boolean"},
            },
            ("session", "prompt"),
        ),
        _variant("callable", "callable", {"path": {"type": "string"}, "kwargs": OBJECT}, ("path",)),
        _variant(
            "task",
            "task",
            {
                "name": {"type": "string"},
                "args": {"type": "array", "items": {}},
                "kwargs": OBJECT,
                "queue_name": {"type": "string"},
                "priority": {"type": "integer"},
                "backend": {"type": "string"},
            },
            ("name",),
        ),
        {
            "type": "object",
            "title": "registered",
            "description": "a target type the project registered through routines.targets",
            "properties": {"type": {"type": "string", "not": {"enum": list(BUILTIN_TARGETS)}}},
            "required": ["type"],
        },
    ],
    "description": "what the job does",
}
RETRY_POLICY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS},
        "backoff_ms": {"type": "integer", "minimum": 0, "maximum": MAX_BACKOFF_MS},
    },
    "additionalProperties": False,
}
IDEMPOTENCY_KEY: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}
LIMIT: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_INT}
# run-due adds leases to its clock, so the clock it is given must leave room for them.
RUN_DUE_NOW: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "format": "date-time", "description": "ISO 8601, before 9999-12-01"},
        {"type": "integer", "minimum": 0, "maximum": to_ms(LATEST_NOW) - 1, "description": "epoch milliseconds"},
    ]
}
CLAIM_TTL_MS: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_TTL_MS}

ERROR_CODES = {
    "400": "invalid input (`error` names the code, `field` the input key)",
    "403": "`permission_denied`, `not_authenticated` or `policy_denied`",
    "404": "`not_found`",
    "405": "`method_not_allowed`",
    "406": "`not_acceptable`",
    "409": "`already_exists`, `job_busy` or `job_terminal`",
    "413": "`payload_too_large`",
    "415": "`unsupported_media_type`",
    "429": "`throttled`",
}


CLOSED_REQUESTS = ("JobCreateRequest", "PatchedJobPatchRequest", "RunDueRequest")


def close_request_bodies(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Unknown keys are refused (``unsupported_*_key``), so the request bodies say so.

    And the ``target_type`` filter lists the types this project registered, known only now.
    """
    for operation in result.get("paths", {}).values():
        for parameter in operation.get("get", {}).get("parameters", []):
            if parameter["name"] == "target_type":
                parameter["schema"]["enum"] = [*targets.types(), ""]
    schemas = result.get("components", {}).get("schemas", {})
    for name in CLOSED_REQUESTS:
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    return result


class RoutinesAutoSchema(AutoSchema):
    """Adds the error responses every operation can give, in the one error shape.

    Docstrings are written for developers, so an operation's description is only what its
    ``extend_schema`` says, never a view's docstring.
    """

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular narrows it so
        return ""

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, description in ERROR_CODES.items():
            if code not in responses:
                body: dict[str, Any] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    ErrorSerializer, code, direction=direction
                )
                body["description"] = description
                responses[code] = body
        return responses


# Query parameters, documented with what the filters accept (django-filter would say "string").
# An empty value is the same as leaving the parameter out: filter forms send every field.
EMPTY: dict[str, Any] = {"type": "string", "enum": [""], "description": "the same as leaving it out"}
FILTER_TEXT: dict[str, Any] = {"type": "string", "maxLength": MAX_KEY_LENGTH, "pattern": "^[^\\x00]*$"}


def query_parameter(name: str, schema: dict[str, Any], description: str) -> OpenApiParameter:
    return OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=description)


def time_parameter(name: str, description: str) -> OpenApiParameter:
    return query_parameter(name, {"oneOf": [*TIME["oneOf"], EMPTY]}, description)


def text_parameter(name: str, description: str) -> OpenApiParameter:
    return query_parameter(name, FILTER_TEXT, description)


def bool_parameter(name: str, description: str) -> OpenApiParameter:
    return query_parameter(name, {"oneOf": [{"type": "boolean"}, EMPTY]}, description)


def choice_parameter(name: str, choices: tuple[str, ...], description: str) -> OpenApiParameter:
    return query_parameter(name, {"type": "string", "enum": [*choices, ""]}, description)


JOB_FILTERS = [
    text_parameter("job_id", "exact job id"),
    choice_parameter("schedule_type", SCHEDULE_TYPES, "once, interval or cron"),
    choice_parameter("target_type", BUILTIN_TARGETS, "a built-in or registered target type"),
    time_parameter("due_before", "jobs due at or before this time (ISO 8601 or epoch ms)"),
]
RUN_FILTERS = [text_parameter("job_id", "exact job id"), bool_parameter("manual", "manual runs only, or none")]
EVENT_FILTERS = [
    text_parameter("job_id", "exact job id"),
    text_parameter("run_id", "exact run id"),
    text_parameter("event_type", "exact type, e.g. routine_run_failed"),
    time_parameter("created_after", "events written after this time (ISO 8601 or epoch ms)"),
    time_parameter("created_before", "events written at or before this time (ISO 8601 or epoch ms)"),
]
