"""``include("routines.urls")`` mounts the REST API; its URL configuration lives in ``routines.rest``."""

from __future__ import annotations

from .rest.urls import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
