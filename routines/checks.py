"""System checks for the ``ROUTINES`` setting (ids routines.E001…)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from .conf import (
    DEFAULTS,
    DURATIONS,
    IMPORT_STRING_LISTS,
    IMPORT_STRINGS,
    MAX_BATCH,
    MAX_LOOP_WAIT_SECONDS,
    NON_NEGATIVE,
    POSITIVE,
    user_settings,
)
from .pruning import parse_duration
from .validation import MAX_TIMEOUT_MS, MIN_TIMEOUT_MS


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    """isinstance, except that True is not an int here: a flag where a number belongs is a mistake."""
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not getattr(settings, "USE_TZ", False):
        errors.append(
            Error(
                "routines needs USE_TZ = True: schedules are instants in time.",
                hint="Set USE_TZ = True in your settings.",
                id="routines.E005",
            )
        )
    user = user_settings()
    if not isinstance(user, dict):
        hint = "See the settings reference: https://django-durable-routines.readthedocs.io/en/latest/reference/settings.html"
        errors.append(Error("ROUTINES must be a dict.", hint=hint, id="routines.E001"))
        return errors
    for key, value in user.items():
        if key not in DEFAULTS:
            errors.append(
                Error(
                    f"ROUTINES has an unknown key {key!r}.",
                    hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                    id="routines.E002",
                )
            )
            continue
        types = DEFAULTS[key][1]
        if not _has_type(value, types):
            names = " or ".join(t.__name__ for t in types)
            errors.append(Error(f"ROUTINES[{key!r}] must be {names}, not {type(value).__name__}.", id="routines.E003"))
            continue
        problem = _value_problem(key, value)
        if problem:
            errors.append(Error(f"ROUTINES[{key!r}] {problem}.", id="routines.E003"))
        elif key == "BATCH_SIZE" and value > MAX_BATCH:
            message = f"ROUTINES['BATCH_SIZE'] is {value}; the runner claims at most {MAX_BATCH}."
            errors.append(CheckWarning(message, id="routines.W001"))
        paths = []
        if key in IMPORT_STRINGS and value is not None:
            paths = [value]
        elif key in IMPORT_STRING_LISTS:
            paths = list(value)
        elif key == "TARGETS":
            paths = list(value.values())
            if not all(isinstance(name, str) and name for name in value):
                errors.append(Error("ROUTINES['TARGETS'] type names must be non-empty strings.", id="routines.E003"))
        elif key == "CALLABLE_ALLOWLIST" and not all(isinstance(p, str) for p in value):
            errors.append(Error("ROUTINES['CALLABLE_ALLOWLIST'] must hold strings.", id="routines.E003"))
        for path in paths:
            if not isinstance(path, str):
                errors.append(Error(f"ROUTINES[{key!r}] must hold dotted paths (strings).", id="routines.E003"))
                continue
            try:
                import_string(path)
            except Exception as exc:  # a module that raises on import does not import either
                reason = str(exc) if isinstance(exc, ImportError) else f"{type(exc).__name__}: {exc}"
                errors.append(Error(f"ROUTINES[{key!r}]: {path!r} does not import ({reason}).", id="routines.E004"))
    return errors


def _value_problem(key: str, value: Any) -> str | None:
    """What is wrong with a value of the right type (a negative timeout, an unreadable duration)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if key in POSITIVE and not value > 0:
        return "must be positive"
    if key in NON_NEGATIVE and value < 0:
        return "must not be negative"
    if key == "LOOP_MAX_WAIT_SECONDS" and not 0 < value <= MAX_LOOP_WAIT_SECONDS:
        return f"must be more than 0 and at most {MAX_LOOP_WAIT_SECONDS} seconds"
    if key == "LATE_AFTER_MS" and value is not None and not MIN_TIMEOUT_MS <= value <= MAX_TIMEOUT_MS:
        return f"must be None or a number of milliseconds from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}"
    if key == "DEFAULT_TIMEOUT_MS" and value is not None and not MIN_TIMEOUT_MS <= value <= MAX_TIMEOUT_MS:
        return f"must be None or a number of milliseconds from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}"
    if key in DURATIONS:
        try:
            parse_duration(value)
        except ValueError as exc:
            return f"is not a duration: {exc}"
    return None
