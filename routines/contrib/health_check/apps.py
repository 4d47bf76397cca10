from __future__ import annotations

from django.apps import AppConfig

CHECK = "routines.contrib.health_check.checks.LateRoutines"


class RoutinesHealthCheckConfig(AppConfig):
    name = "routines.contrib.health_check"
    label = "routines_health_check"
    verbose_name = "routines health check"

    def ready(self) -> None:
        from health_check.views import HealthCheckView

        # django-health-check 4 has no registry: its view's default list of checks is the place.
        if CHECK not in HealthCheckView.checks:
            HealthCheckView.checks = (*HealthCheckView.checks, CHECK)
