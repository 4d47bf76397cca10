"""The API describing itself: the OpenAPI document and a Swagger UI page that needs no network.

The page's scripts and styles come from drf-spectacular-sidecar through Django's static files,
so it works on an air-gapped host and under a Content-Security-Policy that allows only 'self'.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .access import RoutinesAccess

SCHEMA_SETTINGS = {
    "TITLE": "routines",
    "DESCRIPTION": "Durable delayed and recurring jobs. Errors: {error, detail, field}.",
    "VERSION": "1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "routines.rest.schema.close_request_bodies",
    ],
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "routines.states.STATES",
        "EditableStateEnum": ["active", "paused"],
        "RunStatusEnum": "routines.states.RUN_STATUSES",
    },
}


def mount_prefix(request: Request, suffix: str) -> str:
    """Where the routines URLs are mounted, from the path of a view at ``<mount><suffix>``."""
    prefix = request.path_info.lstrip("/")
    return prefix[: -len(suffix)] if prefix.endswith(suffix) else ""


class JSONErrors(APIView):
    """Errors of an HTML or YAML view leave as the API's JSON errors, whatever was asked for."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response


class SchemaView(RoutinesAccess, JSONErrors, SpectacularAPIView):
    """The OpenAPI 3 document of the routines URLs, at whatever prefix they are mounted.

    Behind the API's permissions (staff by default).
    """

    custom_settings = SCHEMA_SETTINGS
    schema = None  # the document is not an operation of itself, nor of a project-wide schema
    api_patterns: list[URLPattern | URLResolver] = []  # the documented URLs, given by the URL configuration

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.patterns = [path(mount_prefix(request, "schema/"), include(self.api_patterns))]
        response: Response = super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        return response


class SwaggerView(RoutinesAccess, JSONErrors):
    """An interactive page over the schema, for the same users as the API itself."""

    renderer_classes = [TemplateHTMLRenderer]
    schema = None  # not an API operation

    def get(self, request: Request) -> Response:
        schema_url = request.path.removesuffix("swagger-ui/") + "?format=json"  # this page is schema/swagger-ui/
        return Response({"schema_url": schema_url}, template_name="routines/swagger_ui.html")
