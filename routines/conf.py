"""The ``ROUTINES`` settings dict, read at call time.

Like DRF's ``api_settings`` but never cached on import: every attribute access reads
``django.conf.settings`` again, so ``override_settings`` and pytest's ``settings`` fixture work.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

# name -> (default, allowed types). Keys listed in IMPORT_STRINGS hold dotted paths.
DEFAULTS: dict[str, tuple[Any, tuple[type, ...]]] = {
    # Runner
    "CLAIM_TTL_MS": (60_000, (int,)),
    "BATCH_SIZE": (100, (int,)),
    "USE_DB_CLOCK": (True, (bool,)),
    "SQLITE_LOCK_RETRY_SECONDS": (30.0, (int, float)),
    "LOOP_MAX_WAIT_SECONDS": (60.0, (int, float)),
    "DEFAULT_TIMEOUT_MS": (None, (int, type(None))),
    "MAX_RESULT_BYTES": (1024 * 1024, (int,)),
    # Monitoring: how long past its due time a job counts as late (None: never)
    "LATE_AFTER_MS": (300_000, (int, type(None))),
    # Targets
    "TARGETS": ({}, (dict,)),
    "CALLABLE_ALLOWLIST": ([], (list, tuple)),
    "SESSION_BACKEND": ("routines.sessions.echo.EchoBackend", (str,)),
    "OPENAI_BASE_URL": ("http://127.0.0.1:11434/v1", (str,)),
    "OPENAI_API_KEY_ENV": ("OPENAI_API_KEY", (str,)),
    "OPENAI_MODEL": ("gpt-4o-mini", (str,)),
    "OPENAI_TIMEOUT_SECONDS": (30.0, (int, float)),
    "POLICY": (None, (str, type(None))),
    # REST API
    "API_PERMISSION_CLASSES": (["rest_framework.permissions.IsAdminUser"], (list, tuple)),
    "MAX_PAYLOAD_BYTES": (256 * 1024, (int,)),
    "HEALTH_PERMISSION_CLASSES": (["rest_framework.permissions.AllowAny"], (list, tuple)),
    "METRICS_PERMISSION_CLASSES": (["rest_framework.permissions.IsAdminUser"], (list, tuple)),
    # Pruning
    "PRUNE_RUNS_OLDER_THAN": ("30d", (str,)),
    "PRUNE_EVENTS_OLDER_THAN": ("90d", (str,)),
    "PRUNE_KEEP_LAST": (10, (int,)),
    "PRUNE_BATCH_SIZE": (1000, (int,)),
}
IMPORT_STRINGS = ("SESSION_BACKEND", "POLICY")
IMPORT_STRING_LISTS = ("API_PERMISSION_CLASSES", "HEALTH_PERMISSION_CLASSES", "METRICS_PERMISSION_CLASSES")
POSITIVE = (
    "CLAIM_TTL_MS",
    "BATCH_SIZE",
    "MAX_PAYLOAD_BYTES",
    "MAX_RESULT_BYTES",
    "PRUNE_BATCH_SIZE",
    "OPENAI_TIMEOUT_SECONDS",
)
NON_NEGATIVE = ("SQLITE_LOCK_RETRY_SECONDS", "PRUNE_KEEP_LAST")
# A batch's statements carry a few placeholders per job: stay well inside SQLite's and MySQL's limits.
MAX_BATCH = 1000
MAX_LOOP_WAIT_SECONDS = 86_400  # the most run_due --loop sleeps between passes: --max-wait and its setting
DURATIONS = ("PRUNE_RUNS_OLDER_THAN", "PRUNE_EVENTS_OLDER_THAN")  # like "30d", read by pruning.parse_duration


def user_settings() -> object:
    return getattr(django_settings, "ROUTINES", {})


class Settings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"ROUTINES has no setting {name!r}")
        user = user_settings()
        if isinstance(user, dict) and name in user:
            return user[name]
        default = DEFAULTS[name][0]
        return default.copy() if isinstance(default, (dict, list)) else default

    def load(self, name: str) -> Any:
        """Import the object a dotted-path setting names (None stays None)."""
        path = getattr(self, name)
        return None if path is None else import_string(path)


routines_settings = Settings()
