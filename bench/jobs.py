"""The function bench/targets.py schedules as a ``callable`` target."""

from typing import Any


def noop(context: Any, n: int) -> dict[str, int]:
    return {"n": n}
