"""The REST API's URLs: mount with ``path("api/routines/", include("routines.urls"))``."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from .docs import SchemaView, SwaggerView
from .monitoring import HealthView, MetricsView
from .switches import PauseAllView, ResumeAllView
from .views import ApiRootView, EventViewSet, JobViewSet, RunDueView, RunViewSet

app_name = "routines"

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("runs", RunViewSet, basename="run")
router.register("events", EventViewSet, basename="event")

api_urlpatterns = [
    *router.urls,
    path("run-due/", RunDueView.as_view(), name="run-due"),
    path("health/", HealthView.as_view(), name="health"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    path("pause-all/", PauseAllView.as_view(), name="pause-all"),
    path("resume-all/", ResumeAllView.as_view(), name="resume-all"),
]
urlpatterns = [
    *api_urlpatterns,
    path("schema/", SchemaView.as_view(api_patterns=api_urlpatterns), name="schema"),
    path("schema/swagger-ui/", SwaggerView.as_view(), name="swagger-ui"),
]
# The root lists this very list, so routes added above or below appear there too.
urlpatterns.append(path("", ApiRootView.as_view(listed=urlpatterns), name="root"))
