"""One exception handler: every error leaves the API as ``{"error", "detail", "field"}``.

Views set it themselves (``get_exception_handler``) so a project needs no ``REST_FRAMEWORK``
setting, and a project's own handler for other APIs is left alone.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy
from rest_framework import exceptions as drf
from rest_framework import serializers, status
from rest_framework.response import Response

from routines.exceptions import AlreadyExists, InvalidInput, JobBusy, JobTerminal, NotFound, PolicyDenied, RoutineError

from .bases import Serializer

STATUS = {
    InvalidInput: status.HTTP_400_BAD_REQUEST,
    NotFound: status.HTTP_404_NOT_FOUND,
    AlreadyExists: status.HTTP_409_CONFLICT,
    JobBusy: status.HTTP_409_CONFLICT,
    JobTerminal: status.HTTP_409_CONFLICT,
    PolicyDenied: status.HTTP_403_FORBIDDEN,
}
DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ParseError: "parse_error",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.NotFound: "not_found",
    drf.Throttled: "throttled",
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
}


class PayloadTooLarge(drf.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body is too large"
    default_code = "payload_too_large"


def error_body(code: str, detail: str, field: str | None = None) -> dict[str, Any]:
    return {"error": code, "detail": detail, "field": field}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Translate routines and DRF errors; anything else propagates (a bug, not bad input)."""
    if isinstance(exc, RoutineError):
        http_status: int = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), status.HTTP_409_CONFLICT)
        return Response(error_body(exc.code, exc.detail, exc.field), status=http_status)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "not found"), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("permission_denied", "permission denied"), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, drf.ValidationError):
        field, detail = _first_error(exc.detail)
        input_code = "invalid_filter" if context.get("filter") else "invalid_input"
        return Response(error_body(input_code, detail, field), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, drf.APIException):
        code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), None)
        if code is None:
            code = exc.default_code if isinstance(exc.default_code, str) else "error"
        headers = {}
        wait = getattr(exc, "wait", None) if isinstance(exc, drf.Throttled) else None
        if wait is not None:
            headers["Retry-After"] = str(int(wait))
        _, detail = _first_error(exc.detail)
        return Response(error_body(code, detail), status=exc.status_code, headers=headers)
    return None


def _first_error(detail: Any, field: str | None = None) -> tuple[str | None, str]:
    """The first message of DRF's nested error structure and the top-level key it belongs to."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = None if key == "non_field_errors" else str(key)
            return _first_error(value, field or name)
        return field, "invalid input"
    if isinstance(detail, list):
        return _first_error(detail[0], field) if detail else (field, "invalid input")
    return field, str(detail)


class ErrorSerializer(Serializer):
    error = serializers.CharField(
        help_text=gettext_lazy("a machine-readable code, e.g. invalid_job, not_found, job_busy")
    )
    detail = serializers.CharField()
    field = serializers.CharField(allow_null=True, help_text=gettext_lazy("the input key the error is about, or null"))
