"""Pure normalisation of job inputs and patches (the filters of the list calls are in ``routines.filters``).

The Python API, the REST serializers and the admin forms all call these functions, so a job gets
the same checks whichever door it comes through. Nothing here touches the database; callers pass
``now``, the time zone for naive values and the target validator (the registry lives above us).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from . import schedules, slots
from .exceptions import InvalidInput
from .i18n import gettext as _
from .states import DEFINITION_FIELDS
from .times import coerce_time

JOB_KEYS = ("job_id", *DEFINITION_FIELDS, "idempotency_key", "state", "next_run_at")
PATCH_KEYS = JOB_KEYS[1:]
RETRY_DEFAULTS = {"max_attempts": 1, "backoff_ms": 0}
MAX_ATTEMPTS = 1_000_000
MAX_BACKOFF_MS = 10 * 366 * 24 * 3600 * 1000
ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,200}")
MAX_KEY_LENGTH = 255
MAX_CONCURRENCY_KEY = 200
MAX_JSON_DEPTH = 64
MAX_INT = 2**63 - 1
MIN_TIMEOUT_MS = 1000  # the shortest timeout_ms a job (or DEFAULT_TIMEOUT_MS) may have
MAX_TIMEOUT_MS = 2**31 - 1

TargetValidator = Callable[[object], dict[str, Any]]


def new_job_id() -> str:
    return "routine_" + uuid.uuid4().hex


def normalize_job(
    raw: object,
    *,
    now: datetime,
    tz: tzinfo,
    validate_target: TargetValidator,
    max_payload_bytes: int | None = None,
    default_timeout_ms: int | None = None,
    default_late_after_ms: int | None = None,
) -> dict[str, Any]:
    """Return the full, normalised field set of a new job."""
    code = "invalid_job"
    data = _mapping(raw, JOB_KEYS, "unsupported_job_key", code, "job")
    for key in ("schedule", "target"):
        if key not in data:
            raise InvalidInput(_("%(field)s is required") % {"field": key}, code=code, field=key)
    job_id = data.get("job_id")
    job_id = new_job_id() if job_id is None else check_id(job_id, "job_id", code)
    out: dict[str, Any] = {"job_id": job_id}
    out.update(
        _fields(data, now=now, tz=tz, validate_target=validate_target, code=code, max_payload_bytes=max_payload_bytes)
    )
    out.setdefault("payload", None)
    out.setdefault("metadata", {})
    out.setdefault("routing_policy", {})
    out.setdefault("retry_policy", dict(RETRY_DEFAULTS))
    out.setdefault("timeout_ms", default_timeout_ms)
    out.setdefault("late_after_ms", default_late_after_ms)
    out.setdefault("idempotency_key", "routine:" + job_id)
    out.setdefault("state", "active")
    out.setdefault("end_at", None)
    out.setdefault("max_runs", None)
    out.setdefault("concurrency_key", None)
    out.setdefault("concurrency_limit", 1)
    if "next_run_at" in out:
        out["next_slot_at"] = None
    else:
        slot = schedules.first_slot(out["schedule"], now)
        out["next_slot_at"] = slot
        out["next_run_at"] = None if slot is None else slots.run_at(out["schedule"], job_id, slot)
    ends_before(out["next_slot_at"] or out["next_run_at"], out["end_at"], code)
    return out


def ends_before(first: datetime | None, end_at: datetime | None, code: str) -> None:
    """Refuse an ``end_at`` that would end the schedule before its first run."""
    if first is not None and end_at is not None and first > end_at:
        raise InvalidInput(
            _("end_at (%(end_at)s UTC) is before the first run (%(first)s UTC)")
            % {"end_at": f"{end_at:%Y-%m-%d %H:%M:%S}", "first": f"{first:%Y-%m-%d %H:%M:%S}"},
            code=code,
            field="end_at",
        )


def normalize_patch(
    raw: object,
    *,
    now: datetime,
    tz: tzinfo,
    validate_target: TargetValidator,
    max_payload_bytes: int | None = None,
) -> dict[str, Any]:
    """Return the normalised keys of a patch ; only the keys given."""
    code = "invalid_patch"
    data = _mapping(raw, PATCH_KEYS, "unsupported_patch_key", code, "patch")
    return _fields(
        data, now=now, tz=tz, validate_target=validate_target, code=code, max_payload_bytes=max_payload_bytes
    )


def _fields(
    data: Mapping[str, Any],
    *,
    now: datetime,
    tz: tzinfo,
    validate_target: TargetValidator,
    code: str,
    max_payload_bytes: int | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "schedule" in data:
        out["schedule"] = schedules.normalize(data["schedule"], now=now, tz=tz, code=code)
    if "target" in data:
        out["target"] = normalize_target(data["target"], validate_target, code)
    if "payload" in data:
        out["payload"] = check_json(data["payload"], "payload", code, max_bytes=max_payload_bytes)
    for key in ("metadata", "routing_policy"):
        if key in data:
            value = data[key]
            if not isinstance(value, dict):
                raise InvalidInput(_("%(field)s must be an object") % {"field": key}, code=code, field=key)
            out[key] = check_json(value, key, code, max_bytes=max_payload_bytes)
    if "retry_policy" in data:
        out["retry_policy"] = normalize_retry_policy(data["retry_policy"], code)
    if "timeout_ms" in data:
        out["timeout_ms"] = timeout_ms(data["timeout_ms"], code)
    if "late_after_ms" in data:
        out["late_after_ms"] = late_after_ms(data["late_after_ms"], code)
    if "end_at" in data:
        out["end_at"] = None if data["end_at"] is None else time_value(data["end_at"], "end_at", code, tz)
    if "max_runs" in data:
        out["max_runs"] = max_runs(data["max_runs"], code)
    if "concurrency_key" in data:
        out["concurrency_key"] = concurrency_key(data["concurrency_key"], code)
    if "concurrency_limit" in data:
        out["concurrency_limit"] = concurrency_limit(data["concurrency_limit"], code)
    if "idempotency_key" in data:
        key = data["idempotency_key"]
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH or not storable_text(key):
            raise InvalidInput(
                _("idempotency_key must be a non-empty string of at most %(max)s characters") % {"max": MAX_KEY_LENGTH},
                code=code,
                field="idempotency_key",
            )
        out["idempotency_key"] = key
    if "state" in data:
        if data["state"] not in ("active", "paused"):
            raise InvalidInput(_("state must be 'active' or 'paused'"), code=code, field="state")
        out["state"] = data["state"]
    if "next_run_at" in data:
        value = data["next_run_at"]
        out["next_run_at"] = None if value is None else time_value(value, "next_run_at", code, tz)
    return out


def normalize_target(raw: object, validate_target: TargetValidator, code: str) -> dict[str, Any]:
    """Run the target type's own validator, reporting its errors under this operation's code."""
    try:
        target = validate_target(raw)
    except InvalidInput as exc:
        if exc.code in ("invalid_job", "invalid_patch"):
            exc.code = code
        raise
    checked: dict[str, Any] = check_json(target, "target", code)
    return checked


def normalize_retry_policy(raw: object, code: str) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise InvalidInput(_("retry_policy must be an object"), code=code, field="retry_policy")
    for key in raw:
        if key not in RETRY_DEFAULTS:
            raise InvalidInput(
                _("retry_policy: unsupported key %(key)s") % {"key": repr(key)},
                code="unsupported_retry_key",
                field=str(key),
            )
    out = dict(RETRY_DEFAULTS)
    bounds = {"max_attempts": (1, MAX_ATTEMPTS), "backoff_ms": (0, MAX_BACKOFF_MS)}
    for key, (low, high) in bounds.items():
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidInput(
                    _("retry_policy: %(key)s must be an integer from %(low)s to %(high)s")
                    % {"key": key, "low": low, "high": high},
                    code=code,
                    field="retry_policy",
                )
            out[key] = value
    return out


def late_after_ms(value: object, code: str) -> int | None:
    """A job's ``late_after_ms``: None (never late) or whole milliseconds, one second at least."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_TIMEOUT_MS <= value <= MAX_TIMEOUT_MS:
        raise InvalidInput(
            _("late_after_ms must be null or an integer from %(low)s to %(high)s (milliseconds)")
            % {"low": MIN_TIMEOUT_MS, "high": MAX_TIMEOUT_MS},
            code=code,
            field="late_after_ms",
        )
    return value


def timeout_ms(value: object, code: str) -> int | None:
    """A job's ``timeout_ms``: None (no limit) or whole milliseconds, one second at least."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_TIMEOUT_MS <= value <= MAX_TIMEOUT_MS:
        raise InvalidInput(
            _("timeout_ms must be null or an integer from %(low)s to %(high)s (milliseconds)")
            % {"low": MIN_TIMEOUT_MS, "high": MAX_TIMEOUT_MS},
            code=code,
            field="timeout_ms",
        )
    return value


def check_id(value: object, field: str, code: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise InvalidInput(
            _("%(field)s must be 1-200 characters of A-Z a-z 0-9 . _ : -") % {"field": field}, code=code, field=field
        )
    return value


def time_value(value: object, field: str, code: str, tz: tzinfo) -> datetime:
    try:
        return coerce_time(value, tz)
    except ValueError as exc:
        raise InvalidInput(
            _("%(field)s %(problem)s") % {"field": field, "problem": exc}, code=code, field=field
        ) from None


def check_json(value: Any, field: str, code: str, *, max_bytes: int | None = None) -> Any:
    """Refuse what JSON (or a database's JSON column) cannot hold: NaN, non-string keys, huge ints."""
    size = _json_size(value, field, code, 0)
    if max_bytes is not None and size > max_bytes:
        raise InvalidInput(
            _("%(field)s is larger than %(max)s bytes") % {"field": field, "max": max_bytes}, code=code, field=field
        )
    return value


def _json_size(value: Any, field: str, code: str, depth: int) -> int:
    """Walk the value once, checking it and estimating its encoded size."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(
            _("%(field)s is nested deeper than %(max)s levels") % {"field": field, "max": MAX_JSON_DEPTH},
            code=code,
            field=field,
        )
    # Strings and objects first: they are most of what a job holds, and this runs for every input.
    if isinstance(value, str):
        if not value.isascii() or "\x00" in value:
            _check_text(value, field, code)
        return len(value) + 2
    if isinstance(value, dict):
        total = 2
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(_("%(field)s has a non-string key") % {"field": field}, code=code, field=field)
            if not key.isascii() or "\x00" in key:
                _check_text(key, field, code)
            total += len(key) + 4 + _json_size(item, field, code, depth + 1)
        return total
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise InvalidInput(
                _("%(field)s holds an integer outside 64 bits") % {"field": field}, code=code, field=field
            )
        return 20
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(_("%(field)s holds a non-finite number") % {"field": field}, code=code, field=field)
        return 24
    if isinstance(value, (list, tuple)):
        return 2 + sum(_json_size(item, field, code, depth + 1) + 1 for item in value)
    raise InvalidInput(
        _("%(field)s holds a %(type)s, which is not JSON") % {"field": field, "type": type(value).__name__},
        code=code,
        field=field,
    )


def storable_text(text: str) -> bool:
    """False for what no database column takes: NUL characters and lone surrogates (not UTF-8).

    JSON can carry both (``"\\u0000"``, ``"\\ud800"``); PostgreSQL refuses them and MySQL cannot encode
    the latter, so they are refused as input rather than failing as a database error.
    """
    if text.isascii():
        return "\x00" not in text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _check_text(text: str, field: str, code: str) -> None:
    if not storable_text(text):
        raise InvalidInput(
            _("%(field)s holds a NUL character or an invalid surrogate") % {"field": field}, code=code, field=field
        )


def _mapping(raw: object, allowed: tuple[str, ...], unsupported: str, code: str, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(_("the %(what)s must be an object") % {"what": what}, code=code, field=None)
    for key in raw:
        if key not in allowed:
            raise InvalidInput(
                _("unsupported %(what)s key %(key)s") % {"what": what, "key": repr(key)},
                code=unsupported,
                field=str(key),
            )
    return raw


def pause_until(value: object, now: datetime, tz: tzinfo) -> datetime:
    """A timed pause's end: a time after ``now``."""
    until = time_value(value, "until", "invalid_patch", tz)
    if until <= now:
        raise InvalidInput(_("until must be in the future"), code="invalid_patch", field="until")
    return until


def max_runs(value: object, code: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT_MS:
        raise InvalidInput(
            _("max_runs must be null or an integer from 1 to %(max)s") % {"max": MAX_TIMEOUT_MS},
            code=code,
            field="max_runs",
        )
    return value


def concurrency_key(value: object, code: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CONCURRENCY_KEY or not storable_text(value):
        raise InvalidInput(
            _("concurrency_key must be null or a non-empty string of at most %(max)s characters")
            % {"max": MAX_CONCURRENCY_KEY},
            code=code,
            field="concurrency_key",
        )
    return value


def concurrency_limit(value: object, code: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT_MS:
        raise InvalidInput(
            _("concurrency_limit must be an integer from 1 to %(max)s") % {"max": MAX_TIMEOUT_MS},
            code=code,
            field="concurrency_limit",
        )
    return value
