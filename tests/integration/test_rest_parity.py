"""The journal endpoint, the API root, strict pagination and the browsable pages."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from routines import api
from routines.models import Event

BASE = "/api/routines/"
ONCE = {"type": "once", "at": "2026-01-01T12:00:00Z"}

pytestmark = pytest.mark.django_db


def error(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["error"], body["field"]) == (code, field)
    assert body["detail"]


def at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=timezone.utc)


@pytest.fixture
def journal() -> list[Event]:
    """Three events of two jobs on days 1, 2 and 3, written in that order."""
    return [
        Event.objects.create(event_type="routine_created", job_id="a", created_at=at(1), payload={"n": 1}),
        Event.objects.create(event_type="routine_run_started", job_id="a", run_id="r1", created_at=at(2)),
        Event.objects.create(event_type="routine_created", job_id="b", created_at=at(3)),
    ]


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [e["id"] for e in response.json()["results"]]


# events/ -------------------------------------------------------------------------------------


def test_events_are_the_journal_newest_first(staff_client: Client, journal: list[Event]) -> None:
    body = staff_client.get(BASE + "events/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [e["id"] for e in body["results"]] == [e.id for e in reversed(journal)]
    oldest = body["results"][-1]
    assert oldest == {
        "id": journal[0].id,
        "event_type": "routine_created",
        "job_id": "a",
        "run_id": None,
        "payload": {"n": 1},
        "created_at": "2026-01-01T00:00:00Z",
    }


def test_events_are_written_by_api_calls(staff_client: Client) -> None:
    api.create({"job_id": "j", "schedule": ONCE, "target": {"type": "run"}})
    types = [e["event_type"] for e in staff_client.get(BASE + "events/?job_id=j").json()["results"]]
    assert types and all(isinstance(t, str) for t in types)
    assert Event.objects.filter(job_id="j").count() == len(types)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("job_id=a", [1, 0]),
        ("run_id=r1", [1]),
        ("event_type=routine_created", [2, 0]),
        ("created_after=2026-01-01T00:00:00Z", [2, 1]),
        ("created_before=2026-01-02T00:00:00Z", [1, 0]),
        (f"created_after={int(at(1).timestamp() * 1000)}&created_before=2026-01-02T00:00:00Z", [1]),
        ("job_id=a&event_type=routine_created", [0]),
        ("job_id=nobody", []),
    ],
)
def test_events_filters(staff_client: Client, journal: list[Event], query: str, expected: list[int]) -> None:
    assert ids(staff_client.get(BASE + "events/?" + query)) == [journal[i].id for i in expected]


@pytest.mark.parametrize(
    ("query", "field"),
    [("created_after=soon", "created_after"), ("created_before=99999999999999999", "created_before"),
     ("job_id=" + "x" * 500, "job_id"), ("event_type=" + "t" * 500, "event_type")],
)  # fmt: skip
def test_events_refuse_bad_filters(staff_client: Client, query: str, field: str) -> None:
    error(staff_client.get(BASE + "events/?" + query), 400, "invalid_filter", field)


def test_events_are_paginated_in_two_queries(staff_client: Client, journal: list[Event]) -> None:
    staff_client.get(BASE + "events/")  # the session and user are loaded once per request anyway
    with CaptureQueriesContext(connection) as queries:
        body = staff_client.get(BASE + "events/?limit=2").json()
    event_queries = [q for q in queries.captured_queries if "routines_event" in q["sql"]]
    assert len(event_queries) == 2  # count and page
    assert body["count"] == 3 and len(body["results"]) == 2 and "offset=2" in body["next"]


def test_events_are_behind_the_api_permissions(client: Client, django_user_model: Any) -> None:
    error(client.get(BASE + "events/"), 403, "not_authenticated")
    client.force_login(django_user_model.objects.create_user("plain", password="pw"))
    error(client.get(BASE + "events/"), 403, "permission_denied")


def test_events_are_read_only(staff_client: Client, journal: list[Event]) -> None:
    error(staff_client.post(BASE + "events/", "{}", content_type="application/json"), 405, "method_not_allowed")
    assert staff_client.get(BASE + f"events/{journal[0].id}/").status_code == 404


# The root ------------------------------------------------------------------------------------


def test_root_lists_the_endpoints_as_absolute_urls(staff_client: Client) -> None:
    body = staff_client.get(BASE).json()
    assert {"jobs", "jobs/due", "jobs/next-due", "runs", "events", "run-due", "schema"} <= set(body)
    assert body["jobs"] == "http://testserver/api/routines/jobs/"
    assert body["schema/swagger-ui"] == "http://testserver/api/routines/schema/swagger-ui/"
    assert not any("{" in key or "<" in key or "(" in key for key in body)
    for url in body.values():
        assert url.startswith("http://testserver/api/routines/")


def test_root_is_behind_the_api_permissions(client: Client) -> None:
    error(client.get(BASE), 403, "not_authenticated")


# limit and offset ------------------------------------------------------------------------------

LISTS = ["jobs/", "runs/", "events/", "jobs/due/", "jobs/j/runs/"]
BAD_PAGES = [
    ("limit=0", "limit"),
    ("limit=-1", "limit"),
    ("limit=x", "limit"),
    ("limit=1.5", "limit"),
    ("limit=1001", "limit"),
    ("limit=" + "9" * 23, "limit"),
    ("offset=-1", "offset"),
    ("offset=x", "offset"),
    ("offset=" + "9" * 23, "offset"),
    ("offset=1000000000000001", "offset"),
]


@pytest.mark.parametrize("endpoint", LISTS)
@pytest.mark.parametrize(("query", "field"), BAD_PAGES)
def test_every_list_refuses_bad_pages(staff_client: Client, endpoint: str, query: str, field: str) -> None:
    api.create({"job_id": "j", "schedule": ONCE, "target": {"type": "run"}})
    if endpoint == "jobs/due/" and field == "offset":
        return  # the due listing is a plain list: it takes no offset
    error(staff_client.get(BASE + endpoint + "?" + query), 400, "invalid_filter", field)


@pytest.fixture
def many_due() -> None:
    api.create_many({"job_id": f"d{i:04}", "schedule": ONCE, "target": {"type": "run"}} for i in range(1001))


def test_due_defaults_to_100_and_allows_up_to_1000(staff_client: Client, many_due: None) -> None:
    assert len(staff_client.get(BASE + "jobs/due/").json()) == 100
    assert len(staff_client.get(BASE + "jobs/due/?limit=1000").json()) == 1000
    assert len(staff_client.get(BASE + "jobs/due/?limit=7").json()) == 7


def test_lists_accept_the_bounds(staff_client: Client, journal: list[Event]) -> None:
    assert ids(staff_client.get(BASE + "events/?limit=1000&offset=0")) == [e.id for e in reversed(journal)]
    assert ids(staff_client.get(BASE + "events/?limit=1&offset=2")) == [journal[0].id]
    error(staff_client.get(BASE + "events/?limit="), 400, "invalid_filter", "limit")
    assert ids(staff_client.get(BASE + "events/?job_id=&event_type=&created_after=")) == [
        e.id for e in reversed(journal)
    ]
