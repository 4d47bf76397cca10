"""Functions ``callable`` targets may name in the tests (allow-listed as ``tests.support.callables.*``)."""

from __future__ import annotations

from typing import Any

from routines.targets import Context

# Module paths whose import was observed (tests/tripwire.py appends itself here).
IMPORTED: list[str] = []
# Every call of ``record``: (context, kwargs).
CALLS: list[tuple[Context, dict[str, Any]]] = []


def record(context: Context, **kwargs: Any) -> dict[str, Any]:
    CALLS.append((context, kwargs))
    return {"job_id": context.job_id, "run_id": context.run_id, "kwargs": kwargs}


def describe(context: Context) -> dict[str, Any]:
    return {
        "job_id": context.job_id,
        "run_id": context.run_id,
        "slot_at": context.slot_at.isoformat() if context.slot_at else None,
        "attempt": context.attempt,
        "manual": context.manual,
        "payload": context.payload,
    }


def add(context: Context, a: int, b: int) -> int:
    return a + b


def fail(context: Context, message: str = "it broke") -> None:
    raise ValueError(message)


def returns_set(context: Context) -> set[int]:
    return {1, 2}


def returns_object(context: Context) -> object:
    return object()


NOT_CALLABLE = 42


class Klass:
    def __init__(self, context: Context) -> None:
        self.context = context


# Targets for the crash tests: each execution appends a line to a file, apart from our own Runs.


def logged(context: Context, log: str, seconds: float = 0.0, until: str | None = None) -> dict[str, Any]:
    """Append ``start`` (and, after ``seconds``, ``end``) lines for this execution to ``log``.

    With ``until``, the target ends as soon as that file exists (``seconds`` is then the longest it
    waits): a test decides when it ends, however slowly a loaded machine gets there.
    """
    import os
    import time

    line = f"{context.job_id} {context.attempt} {os.getpid()}"
    with open(log, "a") as f:
        f.write(f"start {line}\n")
    if until is None:
        time.sleep(seconds)
    else:
        give_up = time.monotonic() + seconds
        while not os.path.exists(until) and time.monotonic() < give_up:
            time.sleep(0.02)
    with open(log, "a") as f:
        f.write(f"end {line}\n")
    return {"slept": seconds}


def exits(context: Context, code: int = 3) -> None:
    import sys

    sys.exit(code)


def interrupts(context: Context) -> None:
    raise KeyboardInterrupt


def big(context: Context, size: int) -> str:
    return "x" * size


def generator_exit(context: Context) -> None:
    raise GeneratorExit


# Targets for the in-process timeout tests.
RELEASE: dict[str, Any] = {}  # job_id -> threading.Event the target waits on


def blocks(context: Context) -> str:
    """Wait until the test sets ``RELEASE[job_id]`` (at most 30 s): a target that ignores its timeout."""
    RELEASE[context.job_id].wait(30)
    return "released"


def deadline(context: Context) -> float | None:
    """The seconds left before this target's timeout, as code that honours it would read them."""
    from routines import deadlines

    return deadlines.remaining()


def record_execution(context: Context) -> dict[str, Any]:
    """One row per execution in the scale-out test's own table (PostgreSQL), apart from the Runs."""
    import os

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scale_executions (job_id, slot_at, runner_pid) VALUES (%s, %s, %s)",
            [context.job_id, context.slot_at, os.getpid()],
        )
    return {"slot_at": context.slot_at.isoformat() if context.slot_at else None}
