"""Thin DRF views over ``routines.api`` (SPEC §7): parse, call the API, serialize.

Everything a project would otherwise put in ``REST_FRAMEWORK`` (exception handler, parser,
renderer, schema class, permissions) is set on the views, so mounting the URLs is enough.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.urls import include, path
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from routines import api
from routines.exceptions import InvalidInput
from routines.models import Job, Run

from . import serializers as s
from .exceptions import exception_handler
from .filters import FilterBackend, JobFilterSet, RunFilterSet, bool_param, int_param
from .parsers import JSONParser, check_content_length
from .permissions import configured_permissions
from .schema import RoutinesAutoSchema

# Offsets beyond this would overflow the databases' 64-bit OFFSET; nothing lies there anyway.
MAX_OFFSET = 10**15


def actor(request: Request) -> str | None:
    """The username the journal records for a write made by an authenticated user (None otherwise)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return str(user.get_username())


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 1000

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)


class RoutinesAccess:
    """Who may call, and how a refusal or error reads: the same for every view, the schema's too."""

    def get_permissions(self) -> list[BasePermission]:
        return configured_permissions()

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get_authenticate_header(self, request: Request) -> str | None:
        return None  # SPEC §7: a missing login is 403 not_authenticated, not a 401 challenge


class RoutinesView(RoutinesAccess, APIView):
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    schema = RoutinesAutoSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            check_content_length(request.META)


def _paginated(view: Any, request: Request, queryset: Any, serializer: type) -> Response:
    page = view.paginator.paginate_queryset(queryset, request, view=view)
    return view.paginator.get_paginated_response(serializer(page, many=True).data)


_F = TypeVar("_F", bound=Callable[..., Any])


def doc(**kwargs: Any) -> Callable[[_F], _F]:
    """``extend_schema`` based on our AutoSchema; it would otherwise subclass DRF's default one."""

    def decorate(f: Any) -> Any:
        f.schema = RoutinesAutoSchema
        return extend_schema(**kwargs)(f)

    return decorate


NO_BODY = doc(request=None)


class JobViewSet(RoutinesView, viewsets.GenericViewSet):
    queryset = Job.objects.none()
    serializer_class = s.JobSerializer
    lookup_field = "job_id"
    lookup_value_regex = "[^/]+"
    pagination_class = Pagination
    filter_backends = [FilterBackend]
    filterset_class = JobFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @doc(summary="List jobs, newest update first")
    def list(self, request: Request) -> Response:
        return _paginated(self, request, self.filter_queryset(Job.objects.none()), s.JobSerializer)

    @doc(
        summary="Create a job (200 with the existing job when its idempotency_key exists)",
        request=s.JobCreateSerializer,
        responses={201: s.JobSerializer, 200: s.JobSerializer},
    )
    def create(self, request: Request) -> Response:
        job, created = api.create_or_get(request.data, actor=actor(request))
        return Response(s.job_data(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @doc(summary="One job")
    def retrieve(self, request: Request, job_id: str) -> Response:
        return Response(s.job_data(api.get(job_id)))

    @doc(summary="Change an active or paused job", request=s.JobPatchSerializer)
    def partial_update(self, request: Request, job_id: str) -> Response:
        return Response(s.job_data(api.update(job_id, request.data, actor=actor(request))))

    @doc(summary="Delete a job; its runs and events stay")
    def destroy(self, request: Request, job_id: str) -> Response:
        api.delete(job_id, actor=actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @doc(
        summary="Due jobs, earliest first (a plain list)",
        parameters=[
            OpenApiParameter("at", OpenApiTypes.STR, description="ISO 8601 or epoch ms; default now"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="at most this many"),
            OpenApiParameter("include_claimed", OpenApiTypes.BOOL, description="also running jobs"),
        ],
        responses=s.JobSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="due", filter_backends=[], pagination_class=None)
    def due(self, request: Request) -> Response:
        params = request.query_params
        data: dict[str, Any] = {}
        if params.get("at"):
            data["at"] = int_param(params["at"])
        if params.get("limit"):
            data["limit"] = int_param(params["limit"])
        if params.get("include_claimed"):
            data["include_claimed"] = bool_param(params["include_claimed"])
        return Response(s.JobSerializer(api.due_jobs(data), many=True).data)

    @doc(summary="When the next job is due", responses=s.NextDueSerializer)
    @action(detail=False, methods=["get"], url_path="next-due", filter_backends=[], pagination_class=None)
    def next_due(self, request: Request) -> Response:
        return Response(s.NextDueSerializer({"next_due_at": api.next_due_at()}).data)

    @NO_BODY
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, job_id: str) -> Response:
        api.cancel(job_id, actor=actor(request))
        return Response(s.job_data(api.get(job_id)))

    @NO_BODY
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request: Request, job_id: str) -> Response:
        return Response(s.job_data(api.update(job_id, {"state": "paused"}, actor=actor(request))))

    @NO_BODY
    @action(detail=True, methods=["post"], filter_backends=[])
    def resume(self, request: Request, job_id: str) -> Response:
        return Response(s.job_data(api.update(job_id, {"state": "active"}, actor=actor(request))))

    @doc(summary="Execute the target now as a manual run", request=None, responses={201: s.RunSerializer})
    @action(detail=True, methods=["post"], url_path="run-now", filter_backends=[])
    def run_now(self, request: Request, job_id: str) -> Response:
        return Response(s.run_data(api.run_now(job_id, actor=actor(request))), status=status.HTTP_201_CREATED)

    @doc(summary="The job's runs, newest first", responses=s.RunSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def runs(self, request: Request, job_id: str) -> Response:
        try:
            runs = api.filter_runs({"job_id": job_id})
        except InvalidInput:  # no job can have such an id: a 404 below, like any unknown id
            runs = Run.objects.none()
        if not runs.exists():
            api.get(job_id)  # 404 for an id with neither a job nor history; a deleted job's runs remain
        return _paginated(self, request, runs, s.RunSerializer)


class RunViewSet(RoutinesView, viewsets.GenericViewSet):
    queryset = Run.objects.none()
    serializer_class = s.RunSerializer
    lookup_field = "run_id"
    lookup_value_regex = "[^/]+"
    pagination_class = Pagination
    filter_backends = [FilterBackend]
    filterset_class = RunFilterSet

    @doc(summary="Run history, newest first")
    def list(self, request: Request) -> Response:
        return _paginated(self, request, self.filter_queryset(Run.objects.none()), s.RunSerializer)

    @doc(summary="One run")
    def retrieve(self, request: Request, run_id: str) -> Response:
        return Response(s.run_data(api.get_run(run_id)))


class RunDueView(RoutinesView):
    @doc(
        summary="Run what is due (for HTTP-triggered cron)",
        request=s.RunDueRequestSerializer,
        responses={200: s.RunDueResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        results = api.run_due(request.data)
        body = [
            {"job_id": r.job_id, "slot_at": r.slot_at, "run_id": r.run.run_id, "status": r.status, "outcome": r.outcome}
            for r in results
        ]
        return Response({"results": s.DueResultSerializer(body, many=True).data})


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


class SchemaView(RoutinesAccess, SpectacularAPIView):
    """The OpenAPI 3 document of the routines URLs, at whatever prefix they are mounted.

    Behind the API's permissions (staff by default, SPEC §7), and its errors are the API's JSON
    errors rather than YAML, whichever format was asked for.
    """

    custom_settings = SCHEMA_SETTINGS
    schema = RoutinesAutoSchema()
    api_patterns: list[Any] = []  # the documented URLs, given by the URL configuration

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        prefix = request.path_info.lstrip("/")
        prefix = prefix[: -len("schema/")] if prefix.endswith("schema/") else ""
        self.patterns = [path(prefix, include(self.api_patterns))]
        return super().get(request, *args, **kwargs)
