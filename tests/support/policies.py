"""POLICY hooks for tests/test_policy.py; each records what it was asked in ``CALLS``."""

from __future__ import annotations

from typing import Any

CALLS: list[tuple[str, dict[str, Any]]] = []


def no_callables(action: str, context: dict[str, Any]) -> str | None:
    CALLS.append((action, context))
    if context["target"]["type"] == "callable":
        return "callable targets are not allowed here"
    if context["payload"] == "forbidden":
        return "forbidden payload"
    return None


def broken(action: str, context: dict[str, Any]) -> str | None:
    CALLS.append((action, context))
    raise KeyError("oops")


def returns_bool(action: str, context: dict[str, Any]) -> Any:
    CALLS.append((action, context))
    return False
