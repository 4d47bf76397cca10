"""OpenAPI pieces drf-spectacular cannot infer: the ``oneOf`` shapes of schedules and targets.

Written as plain JSON Schema so request and response describe exactly what
``routines.validation`` and the target validators accept and store. A target type a project
registers itself matches the last, open variant.
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema

from routines.times import MAX_MS
from routines.validation import MAX_ATTEMPTS, MAX_BACKOFF_MS, MAX_INT, MAX_KEY_LENGTH, MAX_TTL_MS

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


SCHEDULE: dict[str, Any] = {
    "oneOf": [
        _variant("once", "once", {"at": TIME}, ("at",)),
        _variant(
            "interval",
            "interval",
            {"every_ms": {"type": "integer", "minimum": 1}, "start_at": TIME, "catch_up": {"type": "boolean"}},
            ("every_ms",),
        ),
        _variant(
            "cron",
            "cron",
            {"expr": {"type": "string"}, "timezone": {"type": "string"}, "catch_up": {"type": "boolean"}},
            ("expr",),
        ),
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
    """Unknown keys are refused (``unsupported_*_key``), so the request bodies say so."""
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
