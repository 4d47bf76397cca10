"""Project functions the demo schedules as ``callable`` targets (allow-listed as ``demo.jobs.*``)."""

from __future__ import annotations

from typing import Any

from routines.models import Run
from routines.targets import Context


def failure_report(context: Context, *, window: int = 20) -> dict[str, Any]:
    """Count failures among the latest runs: the kind of housekeeping a routine is for.

    Called as ``func(context, **kwargs)``; the JSON-serialisable return value is the run's result.
    """
    latest = list(Run.objects.exclude(run_id=context.run_id).order_by("-started_at")[:window])
    failed = sum(1 for run in latest if run.status == "failed")
    return {"window": len(latest), "failed": failed, "manual": context.manual}
