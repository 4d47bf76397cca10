from django.contrib import admin
from django.urls import include, path

from .api_docs import swagger_ui

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/routines/", include("routines.urls")),
    path("api/routines/docs/", swagger_ui, name="routines-docs"),
]
