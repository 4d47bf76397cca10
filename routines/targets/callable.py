"""The ``callable`` target: a project function named by dotted path, allow-listed.

A target is data that may come from the REST API, so a path is only a *name* until it is run:
``validate`` checks its syntax and matches it against ``ROUTINES["CALLABLE_ALLOWLIST"]`` without
importing anything, and ``execute`` checks it again (the allow-list may have shrunk since the
job was created) before it imports the module. Untrusted input can therefore never make the
process import a module, or call a function, that the project did not allow.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from fnmatch import fnmatchcase
from typing import Any

from ..exceptions import InvalidInput
from ..i18n import gettext
from ..validation import check_json
from .base import COMPLETED, FAILED, Context, Executor, Outcome, check_keys, exception_error, invalid

logger = logging.getLogger("routines")

KEYS = {"type", "path", "kwargs"}
MAX_PATH_LENGTH = 200
# Two or more ASCII identifiers joined by single dots, none of them private (leading "_"):
# nothing else can name a module attribute, so nothing else needs to reach fnmatch.
PATH_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+", re.ASCII)


def check_allowed(path: object, code: str = "invalid_job", *, key: str = "path") -> str:
    """Return ``path`` if it may be imported and called, else raise InvalidInput (field "target").

    Pure: reads the allow-list setting and imports nothing. Shared by every target type that
    names code (``callable``, ``task``); ``key`` is the target key the message talks about.
    """
    if not isinstance(path, str) or len(path) > MAX_PATH_LENGTH or not PATH_RE.fullmatch(path):
        raise InvalidInput(
            gettext(
                "target: %(key)s must be a dotted path like 'myapp.jobs.send_digest' "
                "(ASCII identifiers not starting with '_', at most %(max)s characters)"
            )
            % {"key": key, "max": MAX_PATH_LENGTH},
            code=code,
            field="target",
        )
    if not any(isinstance(p, str) and fnmatchcase(path, p) for p in allowlist()):
        raise InvalidInput(
            gettext("target: %(key)s %(path)s is not allowed by ROUTINES['CALLABLE_ALLOWLIST']")
            % {"key": key, "path": repr(path)},
            code=code,
            field="target",
        )
    return path


def allowlist() -> list[str]:
    from ..conf import routines_settings

    patterns = routines_settings.CALLABLE_ALLOWLIST
    return list(patterns) if isinstance(patterns, (list, tuple)) else []


def import_allowed(path: str) -> Any:
    """Check ``path`` against the allow-list, then import it; the only door to project code."""
    check_allowed(path)
    func = import_attribute(path)
    if inspect.isclass(func) or inspect.ismodule(func) or not callable(func):
        raise TypeError(f"{path!r} is not a function")
    return func


def import_attribute(path: str) -> Any:
    """Import ``module.attr`` of a dotted path the caller has already checked against the allow-list."""
    module_path, name = path.rsplit(".", 1)
    module = importlib.import_module(module_path)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"module {module_path!r} has no attribute {name!r}") from None


def error_data(exc: BaseException) -> dict[str, str]:
    return exception_error(exc)


class CallableExecutor(Executor):
    example: dict[str, Any] = {"type": "callable", "path": "myproject.jobs.send_digest", "kwargs": {"limit": 10}}

    def validate(self, target: dict[str, Any]) -> dict[str, Any]:
        check_keys(target, KEYS)
        if "path" not in target:
            raise invalid(gettext("path is required"))
        path = check_allowed(target["path"])
        kwargs = target.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise invalid(gettext("kwargs must be an object"))
        return {"type": "callable", "path": path, "kwargs": kwargs}

    def execute(self, context: Context) -> Outcome:
        path = context.target["path"]
        try:
            func = import_allowed(path)
            result = func(context, **context.target.get("kwargs", {}))
        except Exception as exc:
            logger.warning("callable %s of job %s raised %s", path, context.job_id, exc, exc_info=True)
            return Outcome(FAILED, error=error_data(exc))
        try:
            check_json(result, "result", "invalid_result")
        except InvalidInput as exc:
            message = f"{path} returned a value that is not JSON-serialisable: {exc.detail}"
            return Outcome(FAILED, error={"type": "TypeError", "message": message})
        return Outcome(COMPLETED, result=result)
