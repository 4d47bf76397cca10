"""Who made a change: the ``actor`` of API writes reaches their journal events (REST users included)."""

from __future__ import annotations

import inspect

import pytest
from django.test import Client

from routines import api
from routines.models import Event
from tests.support.jobs import EARLY, RUN, in_state, make, once

pytestmark = pytest.mark.django_db

URL = "/api/routines/jobs/"


def payloads(job_id: str, event_type: str) -> list[dict[str, object]]:
    return [e.payload for e in Event.objects.filter(job_id=job_id, event_type=event_type).order_by("id")]


@pytest.mark.parametrize("name", ["create", "create_or_get", "update", "cancel", "delete", "run_now"])
def test_actor_is_a_keyword_only_argument_defaulting_to_none(name: str) -> None:
    parameter = inspect.signature(getattr(api, name)).parameters["actor"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is None


def test_writes_with_an_actor_record_it_on_their_events() -> None:
    api.create({"job_id": "a", "schedule": once(EARLY), "target": RUN}, actor="ann")
    api.update("a", {"state": "paused"}, actor="bob")
    api.run_now("a", actor="cid")
    api.cancel("a", actor="dee")
    assert payloads("a", "routine_created")[0]["actor"] == "ann"
    assert payloads("a", "routine_updated")[0]["actor"] == "bob"
    assert payloads("a", "routine_run_completed")[0]["actor"] == "cid"
    assert payloads("a", "routine_cancelled")[0]["actor"] == "dee"
    api.delete("a", actor="eve")
    assert payloads("a", "routine_deleted")[0]["actor"] == "eve"


def test_writes_without_an_actor_record_none_and_the_actor_does_not_leak() -> None:
    make("a", once(EARLY))
    api.update("a", {"state": "paused"}, actor="bob")
    api.update("a", {"state": "active"})
    api.run_due({"now": EARLY})
    assert "actor" not in payloads("a", "routine_created")[0]
    assert "actor" not in payloads("a", "routine_updated")[1]
    assert "actor" not in payloads("a", "routine_run_completed")[0]


def test_rest_writes_record_the_authenticated_username(staff_client: Client) -> None:
    response = staff_client.post(
        URL,
        {"job_id": "r", "schedule": {"type": "once", "at": "2000-01-01T00:00:00Z"}, "target": RUN},
        "application/json",
    )
    assert response.status_code == 201, response.content
    assert staff_client.post(URL + "r/pause/").status_code == 200
    assert staff_client.post(URL + "r/resume/").status_code == 200
    assert staff_client.post(URL + "r/run-now/").status_code == 201
    assert staff_client.patch(URL + "r/", {"payload": 1}, "application/json").status_code == 200
    assert staff_client.post(URL + "r/cancel/").status_code == 200
    actors = {e.event_type: e.payload.get("actor") for e in Event.objects.filter(job_id="r")}
    assert actors == {
        "routine_created": "staff",
        "routine_updated": "staff",
        "routine_run_completed": "staff",
        "routine_cancelled": "staff",
    }


def test_rest_delete_records_the_username(staff_client: Client) -> None:
    in_state("d", "paused")
    assert staff_client.delete(URL + "d/").status_code == 204
    assert payloads("d", "routine_deleted")[0]["actor"] == "staff"
