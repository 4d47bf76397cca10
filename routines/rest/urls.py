"""The REST API's URLs: mount with ``path("api/routines/", include("routines.urls"))``."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from .monitoring import HealthView, MetricsView
from .views import JobViewSet, RunDueView, RunViewSet, SchemaView

app_name = "routines"

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("runs", RunViewSet, basename="run")

api_urlpatterns = [
    *router.urls,
    path("run-due/", RunDueView.as_view(), name="run-due"),
    path("health/", HealthView.as_view(), name="health"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
]
urlpatterns = [*api_urlpatterns, path("schema/", SchemaView.as_view(api_patterns=api_urlpatterns), name="schema")]
