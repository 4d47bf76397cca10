"""``health/`` for probes and uptime checks, ``metrics/`` for Prometheus.

health/ answers 503 while any job is late, so a load balancer, a Kubernetes probe or an uptime
service notices a routine that stopped running. Anonymous callers get counts only; staff also see
which jobs. Looking counts as seeing: late slots found here are journalled like a runner's. The
counts stop at ``routines.late.COUNT_CAP`` and the list at ``LATE_SHOWN``, so a probe reads a
bounded number of rows however long the outage.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from routines import late
from routines.clock import db_now
from routines.conf import routines_settings
from routines.models import Job

from . import serializers as s
from .exceptions import error_body
from .views import RoutinesView, doc

LATE_SHOWN = 100


def _permissions(setting: str) -> list[BasePermission]:
    classes: list[Any] = [import_string(c) if isinstance(c, str) else c for c in getattr(routines_settings, setting)]
    return [cls() for cls in classes]


class HealthView(RoutinesView):
    def get_permissions(self) -> list[BasePermission]:
        return _permissions("HEALTH_PERMISSION_CLASSES")

    @doc(
        summary="Whether every routine runs: 503 while any job is late",
        responses={200: s.HealthSerializer, 503: s.HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        now = db_now()
        jobs, count = late.look(now, LATE_SHOWN)
        # Counted up to late.COUNT_CAP, like the metrics: a probe during a long outage stays cheap.
        body: dict[str, Any] = {
            "status": "late" if jobs else "ok",
            "due": late.count_up_to(Job.objects.due(now).values("next_run_at")),
            "late": count,
        }
        if request.user and request.user.is_staff:
            body["late_jobs"] = [
                {"job_id": j.job_id, "next_run_at": j.next_run_at, "late_by_ms": late.lateness(j, now).late_by_ms}
                for j in jobs
            ]
        return Response(s.HealthSerializer(body).data, status=503 if jobs else 200)


class MetricsView(RoutinesView):
    def get_permissions(self) -> list[BasePermission]:
        return _permissions("METRICS_PERMISSION_CLASSES")

    @doc(summary="Gauges of jobs and runs in the Prometheus text format", responses={(200, "text/plain"): str})
    def get(self, request: Request) -> HttpResponse | Response:
        try:
            from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

            from routines.metrics import RoutinesCollector
        except ImportError:
            detail = "metrics need the prometheus-client package: pip install prometheus-client"
            return Response(error_body("metrics_unavailable", detail), status=501)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(RoutinesCollector())
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
