"""Target types registered only in the test settings (ROUTINES["TARGETS"])."""

from __future__ import annotations

import time
from typing import Any

from routines.targets import Context, Executor, Outcome
from routines.targets.base import check_keys, invalid


class SleepExecutor(Executor):
    """Sleeps ``seconds`` then completes: a target that blocks, for crash and lease tests."""

    def validate(self, target: dict[str, Any]) -> dict[str, Any]:
        check_keys(target, {"type", "seconds"})
        seconds = target.get("seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise invalid("seconds must be a non-negative number")
        return {"type": "sleep", "seconds": seconds}

    def execute(self, context: Context) -> Outcome:
        time.sleep(context.target["seconds"])
        return Outcome(result={"slept": context.target["seconds"]})


class BoomExecutor(Executor):
    """Raises: shows that a target's exception becomes the Run's error."""

    def validate(self, target: dict[str, Any]) -> dict[str, Any]:
        check_keys(target, {"type", "message"})
        return {"type": "boom", "message": str(target.get("message", "boom"))}

    def execute(self, context: Context) -> Outcome:
        raise RuntimeError(context.target["message"])
