"""The ``task`` target: hand execution to Django's Tasks framework.

The run only *enqueues* a ``@task`` (``django.tasks`` on Django 6, the ``django-tasks`` backport
on Django 5.2), so the work itself scales out on whatever task backend the project runs. The
task's ``name`` is a dotted path obeying ``ROUTINES["CALLABLE_ALLOWLIST"]``, checked before
anything is imported, at validation and again at execution.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from ..exceptions import InvalidInput, NotFound
from ..i18n import gettext
from ..validation import check_json
from .base import COMPLETED, FAILED, Context, Executor, Outcome, RunFields, check_keys, invalid
from .callable import check_allowed, error_data, import_attribute

logger = logging.getLogger("routines")

KEYS = {"type", "name", "args", "kwargs", "queue_name", "priority", "backend"}
MIN_PRIORITY, MAX_PRIORITY = -100, 100
MAX_NAME_LENGTH = 200
INSTALL_HINT = 'task targets need Django 6 or the django-tasks backport: pip install "django-durable-routines[tasks]"'


def task_classes() -> tuple[type, ...]:
    """The Task classes that can be enqueued here: Django's own and/or the backport's."""
    classes = []
    for module in ("django.tasks.base", "django_tasks.base"):
        try:
            classes.append(importlib.import_module(module).Task)
        except (ImportError, AttributeError):
            continue
    return tuple(classes)


def _tasks_module() -> Any:
    """``django.tasks`` where Django has it, else the backport (``None`` when neither is installed)."""
    for module in ("django.tasks", "django_tasks"):
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    return None


def _label(value: object, key: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_LENGTH:
        raise invalid(
            gettext("%(key)s must be a string of 1-%(max)s characters") % {"key": key, "max": MAX_NAME_LENGTH}
        )
    return value


class TaskExecutor(Executor):
    example: dict[str, Any] = {"type": "task", "name": "myproject.tasks.send_digest", "args": [], "kwargs": {}}

    def validate(self, target: dict[str, Any]) -> dict[str, Any]:
        check_keys(target, KEYS)
        if "name" not in target:
            raise invalid(gettext("name is required"))
        name = check_allowed(target["name"], key="name")
        args = target.get("args", [])
        if not isinstance(args, list):
            raise invalid(gettext("args must be an array"))
        kwargs = target.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise invalid(gettext("kwargs must be an object"))
        out: dict[str, Any] = {"type": "task", "name": name, "args": args, "kwargs": kwargs}
        for key in ("queue_name", "backend"):
            if key in target and target[key] is not None:
                out[key] = _label(target[key], key)
        if "priority" in target and target["priority"] is not None:
            priority = target["priority"]
            if (
                isinstance(priority, bool)
                or not isinstance(priority, int)
                or not MIN_PRIORITY <= priority <= MAX_PRIORITY
            ):
                raise invalid(
                    gettext("priority must be an integer from %(low)s to %(high)s")
                    % {"low": MIN_PRIORITY, "high": MAX_PRIORITY}
                )
            out["priority"] = priority
        if not task_classes():
            raise invalid(INSTALL_HINT)
        return out

    def run_fields(self, target: dict[str, Any], payload: Any) -> RunFields:
        return RunFields(
            scope={"task": target.get("name")},
            input={"args": target.get("args", []), "kwargs": target.get("kwargs", {})},
        )

    def execute(self, context: Context) -> Outcome:
        target = context.target
        name = target["name"]
        try:
            task = load_task(name)
            options = {key: target[key] for key in ("queue_name", "priority", "backend") if key in target}
            if options:
                task = task.using(**options)
            result = task.enqueue(*target.get("args", []), **target.get("kwargs", {}))
            data = {"task_result_id": str(result.id), "backend": str(result.backend)}
            check_json(data, "result", "invalid_result")
        except Exception as exc:
            logger.warning("task %s of job %s could not be enqueued: %s", name, context.job_id, exc)
            return Outcome(FAILED, error=error_data(exc))
        return Outcome(COMPLETED, result=data)


def load_task(name: str) -> Any:
    """Check ``name`` against the allow-list, then import it and make sure it is a ``@task``."""
    try:
        check_allowed(name, key="name")
    except InvalidInput as exc:
        raise PermissionError(exc.detail) from None
    classes = task_classes()
    if not classes:
        raise ImportError(INSTALL_HINT)
    task = import_attribute(name)
    if not isinstance(task, classes):
        raise TypeError(f"{name!r} is not a Django task (define it with @task)")
    return task


def read_result(result: Any) -> Any:
    """The Django Tasks ``TaskResult`` a task run enqueued, read back from its backend now.

    The Run records only where the work went (``task_result_id`` and ``backend``): the task's own
    return value, status and errors live in the task backend, which may finish long after the Run,
    on another machine. Raises ``NotFound`` when the run enqueued nothing or the backend no longer
    knows the result (it expired, or the backend keeps none).
    """
    if not isinstance(result, dict) or not isinstance(result.get("task_result_id"), str):
        raise NotFound(gettext("this run did not enqueue a task"))
    tasks = _tasks_module()
    if tasks is None:
        raise NotFound(INSTALL_HINT)
    alias = result.get("backend")
    try:
        backend = tasks.task_backends[alias]
    except Exception:
        raise NotFound(gettext("task backend %(alias)s is not configured here") % {"alias": repr(alias)}) from None
    try:
        return backend.get_result(result["task_result_id"])
    except NotImplementedError:
        raise NotFound(
            gettext("task backend %(alias)s keeps no results to read back") % {"alias": repr(alias)}
        ) from None
    except tasks.exceptions.TaskResultDoesNotExist:
        raise NotFound(
            gettext("task result %(task_result_id)s not found in backend %(alias)s")
            % {"task_result_id": repr(result["task_result_id"]), "alias": repr(alias)}
        ) from None
