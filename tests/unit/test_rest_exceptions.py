"""The one exception handler: routines and DRF errors in the ``{"error", "detail", "field"}`` shape."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf

from routines.exceptions import AlreadyExists, InvalidInput, JobBusy, JobTerminal, NotFound, PolicyDenied
from routines.rest.exceptions import PayloadTooLarge, exception_handler


@pytest.mark.parametrize(
    ("exc", "status", "code", "field"),
    [
        (InvalidInput("bad", field="schedule"), 400, "invalid_job", "schedule"),
        (InvalidInput("bad", code="unsupported_filter", field="x"), 400, "unsupported_filter", "x"),
        (NotFound("gone"), 404, "not_found", None),
        (AlreadyExists("dup", field="job_id"), 409, "already_exists", "job_id"),
        (JobBusy("busy"), 409, "job_busy", None),
        (JobTerminal("done"), 409, "job_terminal", None),
        (PolicyDenied("no weekends"), 403, "policy_denied", None),
        (drf.ParseError("nope"), 400, "parse_error", None),
        (drf.UnsupportedMediaType("text/plain"), 415, "unsupported_media_type", None),
        (drf.MethodNotAllowed("PUT"), 405, "method_not_allowed", None),
        (drf.NotAcceptable(), 406, "not_acceptable", None),
        (drf.NotFound(), 404, "not_found", None),
        (drf.Throttled(wait=3), 429, "throttled", None),
        (drf.NotAuthenticated(), 401, "not_authenticated", None),
        (drf.AuthenticationFailed(), 401, "authentication_failed", None),
        (drf.PermissionDenied(), 403, "permission_denied", None),
        (PayloadTooLarge(), 413, "payload_too_large", None),
        (Http404(), 404, "not_found", None),
        (PermissionDenied(), 403, "permission_denied", None),
        (drf.ValidationError({"limit": ["must be positive"]}), 400, "invalid_input", "limit"),
        (drf.ValidationError({"non_field_errors": ["no"]}), 400, "invalid_input", None),
        (drf.ValidationError(["plain"]), 400, "invalid_input", None),
        (drf.ValidationError({"a": {"b": ["deep"]}}), 400, "invalid_input", "a"),
    ],
)
def test_mapping(exc: Exception, status: int, code: str, field: str | None) -> None:
    response = exception_handler(exc, {})
    assert response is not None
    assert response.status_code == status
    assert set(response.data) == {"error", "detail", "field"}
    assert (response.data["error"], response.data["field"]) == (code, field)
    assert isinstance(response.data["detail"], str) and response.data["detail"]


def test_policy_detail_carries_the_reason() -> None:
    response = exception_handler(PolicyDenied("no weekends"), {})
    assert response is not None and "no weekends" in response.data["detail"]


def test_throttled_says_when_to_retry() -> None:
    response = exception_handler(drf.Throttled(wait=7), {})
    assert response is not None and response["Retry-After"] == "7"


def test_other_exceptions_are_not_swallowed() -> None:
    assert exception_handler(RuntimeError("bug"), {}) is None
