"""Mount with ``path("api/routines/", include("routines.urls"))`` (SPEC §7)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from .rest.views import JobViewSet, RunDueView, RunViewSet, SchemaView

app_name = "routines"

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("runs", RunViewSet, basename="run")

api_urlpatterns = [
    *router.urls,
    path("run-due/", RunDueView.as_view(), name="run-due"),
]
urlpatterns = [*api_urlpatterns, path("schema/", SchemaView.as_view(), name="schema")]
