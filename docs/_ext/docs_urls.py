"""The URLs the docs build mounts, so the OpenAPI schema has the paths a project gets."""

from django.urls import include, path

urlpatterns = [path("api/routines/", include("routines.urls"))]
