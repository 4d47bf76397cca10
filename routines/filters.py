"""Pure normalisation of the filters of list_jobs, list_runs, list_events and due_jobs, and of run_due's options.

Every caller (the Python API, the REST query parameters, the admin and the command line) passes its
filters through these, so an unknown key is ``unsupported_filter`` and a bad value ``invalid_filter``
wherever it comes from. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from . import schedules
from .exceptions import InvalidInput
from .i18n import gettext as _
from .states import RUN_STATUSES, STATES
from .times import UTC, coerce_time
from .validation import MAX_INT, MAX_KEY_LENGTH, storable_text

JOB_FILTER_KEYS = ("job_id", "state", "schedule_type", "target_type", "due_before", "limit")
RUN_FILTER_KEYS = ("job_id", "status", "manual")
EVENT_FILTER_KEYS = ("job_id", "run_id", "event_type", "created_after", "created_before")
DUE_FILTER_KEYS = ("at", "limit", "include_claimed")
RUN_DUE_KEYS = ("now", "limit", "runner_id", "claim_ttl_ms")
MAX_TTL_MS = 7 * 24 * 3600 * 1000
MAX_RUNNER_ID_LENGTH = 200  # Job.claimed_by and Run.runner_id
# run_due adds leases (up to MAX_TTL_MS) to its clock; a later clock would overflow datetime.
LATEST_NOW = datetime(9999, 12, 1, tzinfo=UTC)


def normalize_job_filter(raw: object, *, tz: tzinfo, target_types: tuple[str, ...]) -> dict[str, Any]:
    data = _filter_mapping(raw, JOB_FILTER_KEYS)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        if key == "job_id":
            out[key] = _filter_str(value, key)
        elif key == "state":
            out[key] = _choice(value, key, STATES)
        elif key == "schedule_type":
            out[key] = _choice(value, key, schedules.SCHEDULE_TYPES)
        elif key == "target_type":
            out[key] = _choice(value, key, target_types)
        elif key == "due_before":
            out[key] = _filter_time(value, key, tz)
        else:
            out[key] = positive_int(value, key, "invalid_filter")
    return out


def normalize_run_filter(raw: object) -> dict[str, Any]:
    data = _filter_mapping(raw, RUN_FILTER_KEYS)
    out: dict[str, Any] = {}
    if data.get("job_id") is not None:
        out["job_id"] = _filter_str(data["job_id"], "job_id")
    if data.get("status") is not None:
        out["status"] = _choice(data["status"], "status", RUN_STATUSES)
    if data.get("manual") is not None:
        out["manual"] = _filter_bool(data["manual"], "manual")
    return out


def normalize_event_filter(raw: object, *, tz: tzinfo) -> dict[str, Any]:
    """The journal's filters: exact ids and type, and a half-open creation window."""
    data = _filter_mapping(raw, EVENT_FILTER_KEYS)
    out: dict[str, Any] = {}
    for key in ("job_id", "run_id", "event_type"):
        if data.get(key) is not None:
            out[key] = _filter_str(data[key], key)
    for key in ("created_after", "created_before"):
        if data.get(key) is not None:
            out[key] = _filter_time(data[key], key, tz)
    return out


def normalize_due_filter(raw: object, *, tz: tzinfo) -> dict[str, Any]:
    data = _filter_mapping(raw, DUE_FILTER_KEYS)
    out: dict[str, Any] = {}
    if data.get("at") is not None:
        out["at"] = _filter_time(data["at"], "at", tz)
    if data.get("limit") is not None:
        out["limit"] = positive_int(data["limit"], "limit", "invalid_filter")
    if "include_claimed" in data:
        out["include_claimed"] = _filter_bool(data["include_claimed"], "include_claimed")
    return out


def normalize_run_due_opts(raw: object, *, tz: tzinfo) -> dict[str, Any]:
    data = _filter_mapping(raw, RUN_DUE_KEYS)
    out: dict[str, Any] = {}
    if data.get("now") is not None:
        out["now"] = _filter_time(data["now"], "now", tz)
        if out["now"] >= LATEST_NOW:
            raise InvalidInput(
                _("now must lie before 9999-12-01 (leases are counted from it)"), code="invalid_filter", field="now"
            )
    if data.get("limit") is not None:
        out["limit"] = positive_int(data["limit"], "limit", "invalid_filter")
    if data.get("runner_id") is not None:
        out["runner_id"] = _filter_str(data["runner_id"], "runner_id", MAX_RUNNER_ID_LENGTH)
    if data.get("claim_ttl_ms") is not None:
        value = data["claim_ttl_ms"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TTL_MS:
            raise InvalidInput(
                _("claim_ttl_ms must be an integer from 1 to %(max)s") % {"max": MAX_TTL_MS},
                code="invalid_filter",
                field="claim_ttl_ms",
            )
        out["claim_ttl_ms"] = value
    return out


def positive_int(value: object, field: str, code: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise InvalidInput(_("%(field)s must be a positive integer") % {"field": field}, code=code, field=field)
    return value


def _filter_mapping(raw: object, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidInput(_("filters must be an object"), code="invalid_filter", field=None)
    for key in raw:
        if key not in allowed:
            raise InvalidInput(
                _("unsupported filter %(key)s") % {"key": repr(key)}, code="unsupported_filter", field=str(key)
            )
    return raw


def _filter_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(_("%(field)s must be true or false") % {"field": field}, code="invalid_filter", field=field)
    return value


def _filter_str(value: object, field: str, max_length: int = MAX_KEY_LENGTH) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length or not storable_text(value):
        raise InvalidInput(
            _("%(field)s must be a non-empty string of at most %(max)s characters")
            % {"field": field, "max": max_length},
            code="invalid_filter",
            field=field,
        )
    return value


def _choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput(
            _("%(field)s must be one of %(choices)s") % {"field": field, "choices": ", ".join(choices)},
            code="invalid_filter",
            field=field,
        )
    return value


def _filter_time(value: object, field: str, tz: tzinfo) -> datetime:
    try:
        return coerce_time(value, tz)
    except ValueError as exc:
        raise InvalidInput(
            _("%(field)s %(problem)s") % {"field": field, "problem": exc}, code="invalid_filter", field=field
        ) from None
