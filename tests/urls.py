import importlib.util

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/routines/", include("routines.urls")),
]
if importlib.util.find_spec("health_check"):
    from health_check.views import HealthCheckView

    # The default checks include DNS and mail, which an offline test machine fails.
    checks = ["health_check.checks.Database", "routines.contrib.health_check.checks.LateRoutines"]
    urlpatterns.append(path("ht/", HealthCheckView.as_view(checks=checks)))
