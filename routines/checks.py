"""System checks for the ``ROUTINES`` setting (ids routines.E001…)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, IMPORT_STRING_LISTS, IMPORT_STRINGS, POSITIVE, user_settings


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
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
        errors.append(Error("ROUTINES must be a dict.", hint="See the README's settings table.", id="routines.E001"))
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
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            names = " or ".join(t.__name__ for t in types)
            errors.append(Error(f"ROUTINES[{key!r}] must be {names}, not {type(value).__name__}.", id="routines.E003"))
            continue
        if key in POSITIVE and value <= 0:
            errors.append(Error(f"ROUTINES[{key!r}] must be positive.", id="routines.E003"))
        paths = []
        if key in IMPORT_STRINGS and value is not None:
            paths = [value]
        elif key in IMPORT_STRING_LISTS:
            paths = list(value)
        elif key == "TARGETS":
            paths = list(value.values())
        elif key == "CALLABLE_ALLOWLIST" and not all(isinstance(p, str) for p in value):
            errors.append(Error("ROUTINES['CALLABLE_ALLOWLIST'] must hold strings.", id="routines.E003"))
        for path in paths:
            if not isinstance(path, str):
                errors.append(Error(f"ROUTINES[{key!r}] must hold dotted paths (strings).", id="routines.E003"))
                continue
            try:
                import_string(path)
            except ImportError as exc:
                errors.append(Error(f"ROUTINES[{key!r}]: {path!r} does not import ({exc}).", id="routines.E004"))
    return errors
