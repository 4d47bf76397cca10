"""Thin DRF views over ``routines.api``: parse, call the API, serialize.

Everything a project would otherwise put in ``REST_FRAMEWORK`` (exception handler, parser,
renderers, schema class, permissions) is set on the views, so mounting the URLs is enough.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.views import APIView

from routines import api
from routines.exceptions import InvalidInput
from routines.models import Event, Job, Run

from . import serializers as s
from .access import RoutinesAccess
from .bases import Serializer
from .filters import EventFilterSet, FilterBackend, JobFilterSet, RunFilterSet, bool_param, int_param
from .pagination import DUE_DEFAULT_LIMIT, MAX_LIMIT, Pagination, bounded_int
from .parsers import JSONParser, check_content_length
from .renderers import BrowsableRenderer
from .schema import EVENT_FILTERS, JOB_FILTERS, LIMIT, RUN_FILTERS, RoutinesAutoSchema, bool_parameter, time_parameter

F = TypeVar("F", bound=Callable[..., Any])


def actor(request: Request) -> str | None:
    """The username the journal records for a write made by an authenticated user (None otherwise)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return str(user.get_username())


def optional_body(request: Request) -> dict[str, Any]:
    """The JSON object of a POST whose body may be left out; a body that is not JSON is ignored, as it was
    before these endpoints took one."""
    if not request.body or "json" not in (request.content_type or ""):
        return {}
    data = request.data
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", code="invalid_input", field=None)
    return data


class RoutinesView(RoutinesAccess, APIView):
    parser_classes = [JSONParser]
    # JSON unless a browser asks for text/html; then DRF's browsable pages, over the same views.
    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer, BrowsableRenderer]
    schema: ViewInspector | None = RoutinesAutoSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            check_content_length(request.META)


class RoutinesViewSet(RoutinesView, viewsets.GenericViewSet):  # type: ignore[type-arg]
    lookup_value_regex = "[^/]+"
    pagination_class = Pagination
    filter_backends = [FilterBackend]

    def paginated(self, queryset: QuerySet[Any], serializer: type[Serializer]) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer(page, many=True).data)


def doc(**kwargs: Any) -> Callable[[F], F]:
    """``extend_schema`` based on our AutoSchema; it would otherwise subclass DRF's default one."""

    def decorate(f: F) -> F:
        f.schema = RoutinesAutoSchema  # type: ignore[attr-defined]
        decorated: F = extend_schema(**kwargs)(f)
        return decorated

    return decorate


NO_BODY = doc(request=None)
DUE_LIMIT = OpenApiParameter(
    "limit",
    {**LIMIT, "maximum": MAX_LIMIT, "default": DUE_DEFAULT_LIMIT},
    description=f"at most this many (1 to {MAX_LIMIT}, default {DUE_DEFAULT_LIMIT})",
)


class JobViewSet(RoutinesViewSet):
    queryset = Job.objects.none()
    serializer_class = s.JobSerializer
    lookup_field = "job_id"
    # GET jobs/due/ and jobs/next-due/ are the lists, not jobs of those ids, so the schema leaves
    # those two ids out. In a URL the id is followed by "/", never by the end: the routes are unchanged.
    lookup_value_regex = r"(?!(?:due|next-due)$)[^/]+"
    filterset_class = JobFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @doc(summary="List jobs, newest update first", parameters=JOB_FILTERS)
    def list(self, request: Request) -> Response:
        return self.paginated(self.filter_queryset(Job.objects.none()), s.JobSerializer)

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
            time_parameter("at", "due at this time (ISO 8601 or epoch ms); default now"),
            DUE_LIMIT,
            bool_parameter("include_claimed", "also running jobs"),
        ],
        responses=s.JobSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="due", filter_backends=[], pagination_class=None)
    def due(self, request: Request) -> Response:
        params = request.query_params
        data: dict[str, Any] = {"limit": bounded_int(request, "limit", DUE_DEFAULT_LIMIT, 1, MAX_LIMIT)}
        if params.get("at"):
            data["at"] = int_param(params["at"])
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

    @doc(summary="Pause an active job (until a time, if given)", request=s.PauseRequestSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request: Request, job_id: str) -> Response:
        data = optional_body(request)
        return Response(s.job_data(api.pause(job_id, data.get("until"), actor=actor(request))))

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
        return self.paginated(runs, s.RunSerializer)


class RunViewSet(RoutinesViewSet):
    queryset = Run.objects.none()
    serializer_class = s.RunSerializer
    lookup_field = "run_id"
    filterset_class = RunFilterSet

    @doc(summary="Run history, newest first", parameters=RUN_FILTERS)
    def list(self, request: Request) -> Response:
        return self.paginated(self.filter_queryset(Run.objects.none()), s.RunSerializer)

    @doc(summary="One run")
    def retrieve(self, request: Request, run_id: str) -> Response:
        return Response(s.run_data(api.get_run(run_id)))


class EventViewSet(RoutinesViewSet):
    queryset = Event.objects.none()
    serializer_class = s.EventSerializer
    filterset_class = EventFilterSet

    @doc(summary="The journal of job and run events, newest first", parameters=EVENT_FILTERS)
    def list(self, request: Request) -> Response:
        return self.paginated(self.filter_queryset(Event.objects.none()), s.EventSerializer)


class RunDueView(RoutinesView):
    @doc(
        summary="Run what is due (for HTTP-triggered cron)",
        request=s.RunDueSerializer,
        responses={200: s.RunDueResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        if request.data is None:  # an explicit JSON null; an empty body means the defaults
            raise InvalidInput(_("the body must be a JSON object"), code="invalid_filter", field=None)
        results = api.run_due(request.data)
        body = [
            {"job_id": r.job_id, "slot_at": r.slot_at, "run_id": r.run.run_id, "status": r.status, "outcome": r.outcome}
            for r in results
        ]
        return Response({"results": s.DueResultSerializer(body, many=True).data})


def listed_route(pattern: URLPattern | URLResolver) -> str | None:
    """The route of a URL without parameters (``jobs/``, ``run-due/``), or None."""
    route = str(pattern.pattern).lstrip("^").removesuffix("$")
    if not isinstance(pattern, URLPattern) or "<" in route or "(" in route or "\\" in route or not route:
        return None
    return route


class ApiRootView(RoutinesView):
    """What is mounted here: each endpoint without parameters by its path, with its absolute URL."""

    schema = None  # not an operation of the API it lists
    listed: Sequence[URLPattern | URLResolver] = ()  # given by the URL configuration

    def get(self, request: Request) -> Response:
        routes = [route for route in map(listed_route, self.listed) if route is not None]
        return Response({route.rstrip("/"): request.build_absolute_uri(request.path + route) for route in routes})
