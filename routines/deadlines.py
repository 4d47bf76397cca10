"""The deadline of the target being executed, for code that can give up in time (an HTTP call)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("routines_deadline", default=None)


@contextmanager
def until(deadline: float | None) -> Iterator[None]:
    """Within the block, ``remaining()`` counts down to ``deadline`` (a ``time.monotonic()`` value)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the current target's timeout, or None when it has none."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())
