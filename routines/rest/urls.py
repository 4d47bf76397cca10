"""The REST API's URLs: mount with ``path("api/routines/", include("routines.urls"))``."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from .docs import SchemaView, SwaggerView
from .views import ApiRootView, EventViewSet, JobViewSet, RunDueView, RunViewSet

app_name = "routines"

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("runs", RunViewSet, basename="run")
router.register("events", EventViewSet, basename="event")

api_urlpatterns = [
    *router.urls,
    path("run-due/", RunDueView.as_view(), name="run-due"),
]
urlpatterns = [
    *api_urlpatterns,
    path("schema/", SchemaView.as_view(api_patterns=api_urlpatterns), name="schema"),
    path("schema/swagger-ui/", SwaggerView.as_view(), name="swagger-ui"),
]
# The root lists this very list, so routes added above or below appear there too.
urlpatterns.append(path("", ApiRootView.as_view(listed=urlpatterns), name="root"))
