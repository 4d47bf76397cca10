"""Pure translation between the admin's structured editor fields and job inputs.

The admin form shows a schedule as a handful of plain fields (a date, "every 5 minutes", a cron
line and its zone) instead of JSON. Turning those fields into a schedule dict, and a stored
schedule back into fields, is plain data work, so it lives here, without Django, where unit and
property tests reach it cheaply. The form only moves values in and out.

To add a scheduling field: name it in ``EDITOR_FIELDS`` for the schedule types that use it, then
read it in ``schedule_from_fields`` and write it in ``fields_from_schedule``. The form builds its
rows, and the page shows or hides them, from these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .exceptions import RoutineError

SCHEDULE_TYPES = ("once", "interval", "cron", "json")
UNITS = {"seconds": 1000, "minutes": 60_000, "hours": 3_600_000, "days": 86_400_000}
# Which editor fields belong to which schedule type (the page shows only the selected type's rows).
RECURRING_FIELDS = ("catch_up", "misfire", "misfire_grace_seconds", "max_catch_up", "jitter_seconds")
EDITOR_FIELDS: dict[str, tuple[str, ...]] = {
    "once": ("once_at",),
    "interval": ("every", "every_unit", "start_at", *RECURRING_FIELDS),
    "cron": ("cron_expr", "cron_timezone", *RECURRING_FIELDS),
    "json": ("schedule",),
}
MISFIRE_CHOICES = ("", "latest", "all", "skip")  # "": as the catch-up box says
ALL_EDITOR_FIELDS = ("schedule_type", *dict.fromkeys(f for fields in EDITOR_FIELDS.values() for f in fields))
# Where an error the schedule validator raises is shown, per schedule type.
ERROR_FIELD = {"once": "once_at", "interval": "every", "cron": "cron_expr", "json": "schedule"}
# Error codes of the editor; the form turns them into translated messages.
REQUIRED, TOO_SMALL, NEGATIVE, UNKNOWN = "required", "too_small", "negative", "unknown"


def schedule_from_fields(values: Mapping[str, Any]) -> tuple[Any, dict[str, str]]:
    """The schedule the editor fields describe, and ``{field: error code}`` for every field that is wrong.

    ``values`` holds already-typed values (aware datetimes, ints, bools, str). For ``json`` the
    advanced ``schedule`` value is returned as given: the schedule validator checks it.
    """
    kind = values.get("schedule_type") or "json"
    errors: dict[str, str] = {}
    if kind not in SCHEDULE_TYPES:
        return None, {"schedule_type": UNKNOWN}
    if kind == "json":
        return values.get("schedule"), errors
    if kind == "once":
        at = values.get("once_at")
        if not isinstance(at, datetime):
            return None, {"once_at": REQUIRED}
        return {"type": "once", "at": at}, errors
    if kind == "interval":
        return _interval(values)
    expr = (values.get("cron_expr") or "").strip()
    if not expr:
        errors["cron_expr"] = REQUIRED
    schedule: dict[str, Any] = {"type": "cron", "expr": expr, "catch_up": bool(values.get("catch_up"))}
    if values.get("cron_timezone"):
        schedule["timezone"] = values["cron_timezone"]
    _recurring(values, schedule, errors)
    return (None if errors else schedule), errors


def _recurring(values: Mapping[str, Any], schedule: dict[str, Any], errors: dict[str, str]) -> None:
    """The misfire and jitter fields into ``schedule`` (seconds become the schedule's milliseconds)."""
    misfire = values.get("misfire") or ""
    if misfire not in MISFIRE_CHOICES:
        errors["misfire"] = UNKNOWN
    elif misfire:
        schedule["misfire"] = misfire
        schedule["catch_up"] = misfire == "all"
    for field, key, scale, low in (
        ("misfire_grace_seconds", "misfire_grace_ms", 1000, 0),
        ("max_catch_up", "max_catch_up", 1, 1),
        ("jitter_seconds", "jitter_ms", 1000, 0),
    ):
        value = values.get(field)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            errors[field] = TOO_SMALL if low else NEGATIVE
        else:
            schedule[key] = value * scale


def _interval(values: Mapping[str, Any]) -> tuple[Any, dict[str, str]]:
    errors: dict[str, str] = {}
    every, unit = values.get("every"), values.get("every_unit") or "minutes"
    if every is None or every == "":
        errors["every"] = REQUIRED
    elif isinstance(every, bool) or not isinstance(every, int) or every < 1:
        errors["every"] = TOO_SMALL
    if unit not in UNITS:
        errors["every_unit"] = UNKNOWN
    if errors or not isinstance(every, int):
        return None, errors
    schedule: dict[str, Any] = {
        "type": "interval",
        "every_ms": every * UNITS[unit],
        "catch_up": bool(values.get("catch_up")),
    }
    if isinstance(values.get("start_at"), datetime):
        schedule["start_at"] = values["start_at"]
    _recurring(values, schedule, errors)
    return (None if errors else schedule), errors


def fields_from_schedule(schedule: Mapping[str, Any] | None) -> dict[str, Any]:
    """Editor values that show a stored schedule; ``json`` when the fields cannot express it exactly."""
    if not isinstance(schedule, Mapping):
        return {"schedule_type": "json"}
    kind = schedule.get("type")
    if kind == "once" and isinstance(schedule.get("at"), datetime):
        return {"schedule_type": "once", "once_at": schedule["at"]}
    recurring = _recurring_fields(schedule)
    if kind in ("interval", "cron") and recurring is None:
        return {"schedule_type": "json"}
    if kind == "interval" and isinstance(schedule.get("every_ms"), int):
        every_ms = schedule["every_ms"]
        for unit in ("days", "hours", "minutes", "seconds"):
            if every_ms % UNITS[unit] == 0:
                return {
                    "schedule_type": "interval",
                    "every": every_ms // UNITS[unit],
                    "every_unit": unit,
                    "start_at": schedule.get("start_at"),
                    "catch_up": bool(schedule.get("catch_up")),
                    **(recurring or {}),
                }
        return {"schedule_type": "json"}
    if kind == "cron" and isinstance(schedule.get("expr"), str):
        return {
            "schedule_type": "cron",
            "cron_expr": schedule["expr"],
            "cron_timezone": schedule.get("timezone"),
            "catch_up": bool(schedule.get("catch_up")),
            **(recurring or {}),
        }
    return {"schedule_type": "json"}


def _recurring_fields(schedule: Mapping[str, Any]) -> dict[str, Any] | None:
    """The misfire and jitter fields of a stored schedule; None when they are not whole seconds."""
    out: dict[str, Any] = {"misfire": schedule.get("misfire") or ""}
    for key, field, scale in (
        ("misfire_grace_ms", "misfire_grace_seconds", 1000),
        ("max_catch_up", "max_catch_up", 1),
        ("jitter_ms", "jitter_seconds", 1000),
    ):
        value = schedule.get(key)
        if value is None:
            out[field] = None
        elif not isinstance(value, int) or value % scale:
            return None
        else:
            out[field] = value // scale
    return out


def retry_from_fields(max_attempts: Any, backoff_seconds: Any) -> dict[str, Any]:
    """The retry policy of the editor's two fields; blank fields take the defaults (1 attempt, no backoff)."""
    policy: dict[str, Any] = {"max_attempts": 1 if max_attempts is None else max_attempts, "backoff_ms": 0}
    if backoff_seconds is not None:
        policy["backoff_ms"] = backoff_seconds * 1000 if isinstance(backoff_seconds, int) else backoff_seconds
    return policy


def fields_from_retry(policy: Mapping[str, Any] | None) -> dict[str, Any]:
    policy = policy or {}
    backoff_ms = policy.get("backoff_ms", 0)
    return {"max_attempts": policy.get("max_attempts", 1), "backoff_seconds": backoff_ms // 1000}


def error_field(kind: str, exc: RoutineError, retry: bool = False) -> str:
    """The editor field that shows a validator's error about the schedule (or the retry policy)."""
    if retry:
        return "backoff_seconds" if "backoff_ms" in exc.detail else "max_attempts"
    if kind == "cron" and "timezone" in exc.detail:
        return "cron_timezone"
    if kind == "interval" and "start_at" in exc.detail:
        return "start_at"
    return ERROR_FIELD.get(kind, "schedule")
