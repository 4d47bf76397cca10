"""Prometheus gauges of the job table, for ``GET metrics/`` or a project's own registry.

    from prometheus_client import REGISTRY
    from routines.metrics import RoutinesCollector
    REGISTRY.register(RoutinesCollector())

Each gauge is one indexed query: the live states (what runners work on) are counted exactly;
finished jobs pile up for ever, so the terminal states are counted up to ``TERMINAL_CAP`` and a
scrape stays cheap however long the project has run. Needs prometheus-client (the ``metrics`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .clock import db_now
from .models import Job, Run
from .states import RUN_STATUSES, STATES, TERMINAL_STATES

TERMINAL_CAP = 100_000
RUNS_WINDOW = timedelta(hours=1)


def job_counts() -> dict[str, int]:
    live = dict(Job.objects.exclude(state__in=TERMINAL_STATES).values_list("state").annotate(n=Count("*")).order_by())
    finished = {state: Job.objects.filter(state=state)[:TERMINAL_CAP].count() for state in TERMINAL_STATES}
    return {state: live.get(state, finished.get(state, 0)) for state in STATES}


class RoutinesCollector(Collector):
    """Collects on each scrape, so the numbers are as fresh as the scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = db_now()
        jobs = GaugeMetricFamily(
            "routines_jobs",
            f"Jobs by state (completed, exhausted and cancelled are counted up to {TERMINAL_CAP}).",
            labels=["state"],
        )
        for state, n in job_counts().items():
            jobs.add_metric([state], n)
        yield jobs
        due = Job.objects.due(now)
        yield GaugeMetricFamily("routines_due_jobs", "Jobs due now and not yet claimed.", value=due.count())
        yield GaugeMetricFamily(
            "routines_late_jobs",
            "Jobs due (or whose runner's lease expired) longer ago than their late_after_ms.",
            value=Job.objects.late(now).count(),
        )
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
