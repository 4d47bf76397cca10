"""JSON out: SPEC field names and ISO 8601 UTC with a Z, whatever the project's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from routines import api
from routines.rest.serializers import JobSerializer, RunSerializer, jsonable


def test_jsonable_turns_nested_datetimes_into_iso_utc() -> None:
    paris = timezone(timedelta(hours=1))
    value = {"a": [datetime(2026, 1, 1, 13, 0, tzinfo=paris)], "b": (1, "x"), "c": None}
    assert jsonable(value) == {"a": ["2026-01-01T12:00:00Z"], "b": [1, "x"], "c": None}


@pytest.mark.django_db
def test_job_and_run_times_are_utc_with_z_under_another_time_zone(settings: Any) -> None:
    settings.TIME_ZONE = "America/New_York"
    job = api.create(
        {"job_id": "j", "schedule": {"type": "interval", "every_ms": 1000, "start_at": 0}, "target": {"type": "run"}}
    )
    data = JobSerializer(job).data
    assert data["next_run_at"] == "1970-01-01T00:00:00Z"
    assert data["schedule"]["start_at"] == "1970-01-01T00:00:00Z"
    assert data["created_at"].endswith("Z") and "+" not in data["created_at"]
    run = RunSerializer(api.run_now("j")).data
    assert run["started_at"].endswith("Z") and run["slot_at"] is None
    assert run["manual"] is True


@pytest.mark.django_db
def test_job_payload_of_any_json_type_round_trips() -> None:
    for i, payload in enumerate([None, 0, "text", [1, {"a": None}], {"deep": {"er": [True]}}]):
        job = api.create(
            {"job_id": f"p{i}", "schedule": {"type": "once", "at": 0}, "target": {"type": "run"}, "payload": payload}
        )
        assert JobSerializer(job).data["payload"] == payload
