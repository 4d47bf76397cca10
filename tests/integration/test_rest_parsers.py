"""Bodies that are not JSON objects of a sane size: 400, 413 or 415, never a 500."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.exceptions import ParseError

from routines.models import Job
from routines.rest.exceptions import PayloadTooLarge
from routines.rest.parsers import JSONParser

URL = "/api/routines/jobs/"
JOB = {"schedule": {"type": "once", "at": 0}, "target": {"type": "run"}}

pytestmark = pytest.mark.django_db


def error_code(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error", "detail", "field"}
    return response.status_code, body["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"{'a': 1}",
        b"NaN",
        b'{"payload": Infinity}',
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"payload": ' + b"9" * 5000 + b"}",
        b"\x00",
    ],
)
def test_unparsable_bodies_are_400_parse_error(staff_client: Client, raw: bytes) -> None:
    r = staff_client.post(URL, raw, content_type="application/json")
    assert error_code(r) == (400, "parse_error")
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "image/png"]
)
def test_other_content_types_are_415(staff_client: Client, content_type: str) -> None:
    r = staff_client.post(URL, b"schedule=1", content_type=content_type)
    assert error_code(r) == (415, "unsupported_media_type")
    r = staff_client.patch(URL + "x/", b"schedule=1", content_type=content_type)
    assert r.status_code in (404, 415)


def test_json_with_charset_is_accepted(staff_client: Client) -> None:
    r = staff_client.post(URL, json.dumps(JOB), content_type="application/json; charset=utf-8")
    assert r.status_code == 201


def test_body_over_the_limit_is_413(staff_client: Client, settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "MAX_PAYLOAD_BYTES": 1000}
    big = json.dumps({**JOB, "payload": "x" * 2000})
    assert error_code(staff_client.post(URL, big, content_type="application/json")) == (413, "payload_too_large")
    assert error_code(staff_client.post(URL + "j/cancel/", big, content_type="application/json")) == (
        413,
        "payload_too_large",
    )
    assert staff_client.post(URL, json.dumps(JOB), content_type="application/json").status_code == 201


def test_default_limit_is_256_kib(staff_client: Client) -> None:
    big = json.dumps({**JOB, "payload": "x" * (256 * 1024)})
    assert error_code(staff_client.post(URL, big, content_type="application/json")) == (413, "payload_too_large")
    assert not Job.objects.exists()


def test_parser_counts_the_actual_body_not_only_content_length(settings: Any) -> None:
    settings.ROUTINES = {"MAX_PAYLOAD_BYTES": 10}
    with pytest.raises(PayloadTooLarge):
        JSONParser().parse(io.BytesIO(b'"' + b"x" * 20 + b'"'), "application/json", {})
    assert JSONParser().parse(io.BytesIO(b'{"a": 1}'), "application/json", {}) == {"a": 1}
    with pytest.raises(ParseError):
        JSONParser().parse(io.BytesIO(b"{"), "application/json", {})


def test_a_bad_content_length_is_400(staff_client: Client) -> None:
    r = staff_client.post(URL, json.dumps(JOB), content_type="application/json", CONTENT_LENGTH="lots")
    assert r.status_code == 400


def test_an_empty_body_reads_as_an_empty_object(staff_client: Client) -> None:
    r = staff_client.post(URL, b"", content_type="application/json")
    assert r.status_code == 400
    assert r.json()["field"] == "schedule"


def test_unknown_format_and_accept_are_refused_cleanly(staff_client: Client) -> None:
    assert staff_client.get(URL + "?format=xml").status_code == 404
    assert error_code(staff_client.get(URL, HTTP_ACCEPT="text/csv")) == (406, "not_acceptable")
