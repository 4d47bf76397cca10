"""A target's exception is recorded with its traceback: the last frames, bounded."""

from __future__ import annotations

import re

from routines.targets import exception_error
from routines.targets.base import TRACEBACK_FRAMES


def deep(n: int) -> None:
    if n == 0:
        raise LookupError("bottom")
    deep(n - 1)


def test_the_error_has_type_message_and_traceback() -> None:
    try:
        deep(3)
    except LookupError as exc:
        error = exception_error(exc)
    assert (error["type"], error["message"]) == ("LookupError", "bottom")
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert error["traceback"].rstrip().endswith("LookupError: bottom")
    assert "in deep" in error["traceback"]


def test_a_deep_traceback_keeps_only_the_last_fifty_frames() -> None:
    try:
        deep(300)
    except LookupError as exc:
        error = exception_error(exc)
    trace = error["traceback"]
    repeated = sum(int(n) for n in re.findall(r"Previous line repeated (\d+) more times", trace))
    assert trace.count('  File "') + repeated == TRACEBACK_FRAMES == 50
    assert "raise LookupError" in error["traceback"]  # the innermost frame is kept


def test_the_traceback_is_bounded_in_size_and_storable() -> None:
    try:
        raise ValueError("x\x00" * 100_000)
    except ValueError as exc:
        error = exception_error(exc)
    assert len(error["traceback"]) <= 20_001 and "\x00" not in error["traceback"]
    assert len(error["message"]) <= 2000 * 4
