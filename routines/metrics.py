"""Prometheus gauges of the job table, for ``GET metrics/`` or a project's own registry.

    from prometheus_client import REGISTRY
    from routines.metrics import RoutinesCollector
    REGISTRY.register(RoutinesCollector())

A scrape costs the same whatever the table holds: each job count is one indexed query that stops
at ``routines.late.COUNT_CAP`` (a gauge at the cap means "at least that many"), the oldest due job
is one index-ordered row, and runs are counted over the last hour only. A million finished jobs or
fifty thousand late ones cost a scrape no more than ten thousand do. Needs prometheus-client (the
``metrics`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import late
from .clock import db_now
from .models import Job, Run
from .states import RUN_STATUSES, STATES

RUNS_WINDOW = timedelta(hours=1)


def job_counts() -> dict[str, int]:
    """Jobs per state, each counted up to ``late.COUNT_CAP`` through the (state, next_run_at) index."""
    return {state: late.count_up_to(Job.objects.filter(state=state).values("state")) for state in STATES}


class RoutinesCollector(Collector):
    """Collects on each scrape, so the numbers are as fresh as the scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = db_now()
        cap = late.COUNT_CAP
        upto = f"(counted up to {cap}: a value of {cap} means at least that many)"
        jobs = GaugeMetricFamily("routines_jobs", f"Jobs by state {upto}.", labels=["state"])
        for state, n in job_counts().items():
            jobs.add_metric([state], n)
        yield jobs
        due = Job.objects.due(now)
        yield GaugeMetricFamily(
            "routines_due_jobs",
            f"Jobs due now and not yet claimed {upto}.",
            value=late.count_up_to(due.values("next_run_at")),
        )
        yield GaugeMetricFamily(
            "routines_late_jobs",
            f"Jobs due (or whose runner's lease expired) longer ago than their late_after_ms {upto}.",
            value=late.count_up_to(Job.objects.late(now).values("next_run_at")),
        )
        # One row from the partial due index, in its order: no count, no sort.
        oldest = due.order_by("next_run_at").values_list("next_run_at", flat=True).first()
        yield GaugeMetricFamily(
            "routines_oldest_due_seconds",
            "How long the longest-waiting due job has waited (0 when nothing is due).",
            value=0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
        )
        runs = GaugeMetricFamily("routines_runs", "Runs started in the last hour, by status.", labels=["status"])
        since = now - RUNS_WINDOW
        for status in RUN_STATUSES:
            runs.add_metric([status], Run.objects.filter(status=status, started_at__gte=since).count())
        yield runs
