"""The target registry: each target type is an executor registered under its ``type`` name.

Built-in types register themselves here; projects add theirs with ``register()`` or the
``ROUTINES["TARGETS"]`` setting (``{"type_name": "dotted.path.to.Executor"}``).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import InvalidInput
from ..i18n import gettext
from .base import Context, Executor, Outcome, RunFields, exception_error, invalid

__all__ = [
    "Context",
    "Executor",
    "Outcome",
    "RunFields",
    "exception_error",
    "get",
    "register",
    "types",
    "unregister",
    "validate",
]

_registry: dict[str, Executor] = {}


def register(type_name: str, executor: Executor) -> None:
    if not isinstance(type_name, str) or not type_name:
        raise ValueError(gettext("a target type needs a non-empty name"))
    _registry[type_name] = executor


def unregister(type_name: str) -> None:
    _registry.pop(type_name, None)


def get(type_name: str) -> Executor:
    try:
        return _registry[type_name]
    except KeyError:
        raise InvalidInput(
            gettext("target: unknown type %(type_name)s") % {"type_name": repr(type_name)},
            code="invalid_job",
            field="target",
        ) from None


def types() -> tuple[str, ...]:
    return tuple(sorted(_registry))


def validate(target: object) -> dict[str, Any]:
    """Dispatch to the executor named by ``target["type"]``; returns the normalised target."""
    if not isinstance(target, dict):
        raise invalid(gettext("must be an object with a 'type'"))
    kind = target.get("type")
    if not isinstance(kind, str) or kind not in _registry:
        raise invalid(gettext("type must be one of %(choices)s") % {"choices": ", ".join(types())})
    return _registry[kind].validate(target)


def load_configured() -> None:
    """Register the executors named in ``ROUTINES["TARGETS"]`` (called from AppConfig.ready)."""
    from django.utils.module_loading import import_string

    from ..conf import routines_settings

    configured = routines_settings.TARGETS
    if not isinstance(configured, dict):
        return  # reported by the system check routines.E003
    for name, path in configured.items():
        if not isinstance(name, str) or not name or not isinstance(path, str):
            continue  # reported by the system check routines.E003
        try:
            factory = import_string(path)
            executor = factory() if isinstance(factory, type) else factory
        except Exception:  # routines.E004 reports it; a broken module must not stop startup
            continue
        register(name, executor)


def _register_builtins() -> None:
    from .callable import CallableExecutor
    from .query import QueryExecutor
    from .run import RunExecutor
    from .task import TaskExecutor

    register("run", RunExecutor())
    register("query", QueryExecutor())
    register("callable", CallableExecutor())
    register("task", TaskExecutor())


_register_builtins()
