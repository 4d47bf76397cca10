"""api.create_many: create's rules for each input, all or nothing, bulk INSERTs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routines import api, signals
from routines.exceptions import AlreadyExists, InvalidInput
from routines.models import Event, Job

pytestmark = pytest.mark.django_db(transaction=True)


def job(i: int, t0: datetime, **extra: Any) -> dict[str, Any]:
    return {"job_id": f"bulk-{i}", "schedule": {"type": "once", "at": t0}, "target": {"type": "run"}, **extra}


def test_create_many_stores_each_job_as_create_would(t0: datetime) -> None:
    jobs = api.create_many([job(1, t0, payload={"n": 1}), job(2, t0, retry_policy={"max_attempts": 3})])
    single = api.create(job(3, t0, payload={"n": 1}))
    assert [j.job_id for j in jobs] == ["bulk-1", "bulk-2"]
    stored = api.get("bulk-1")
    for name in ("schedule", "target", "payload", "metadata", "retry_policy", "state", "next_run_at"):
        assert getattr(stored, name) == getattr(single, name), name
    assert stored.idempotency_key == "routine:bulk-1"
    assert api.get("bulk-2").retry_policy == {"max_attempts": 3, "backoff_ms": 0}


def test_create_many_records_one_routine_created_per_job_and_sends_it(t0: datetime) -> None:
    seen: list[str] = []

    def receiver(sender: Any, event: Event, **kwargs: Any) -> None:
        seen.append(event.job_id)

    signals.event_recorded.connect(receiver, weak=False, dispatch_uid="bulk-test")
    try:
        api.create_many([job(i, t0) for i in range(3)])
    finally:
        signals.event_recorded.disconnect(dispatch_uid="bulk-test")
    events = Event.objects.filter(event_type="routine_created").order_by("job_id")
    assert [e.job_id for e in events] == ["bulk-0", "bulk-1", "bulk-2"]
    assert events[0].payload["schedule_type"] == "once"
    assert seen == ["bulk-0", "bulk-1", "bulk-2"]


def test_a_bad_input_names_field_and_index_and_writes_nothing(t0: datetime) -> None:
    inputs = [job(0, t0), job(1, t0), job(2, t0, retry_policy={"max_attempts": 0})]
    with pytest.raises(InvalidInput) as info:
        api.create_many(inputs)
    assert info.value.code == "invalid_job"
    assert info.value.field == "retry_policy"
    assert "inputs[2]" in str(info.value)
    assert info.value.index == 2  # type: ignore[attr-defined]
    assert not Job.objects.exists() and not Event.objects.exists()


def test_an_unknown_key_keeps_its_code(t0: datetime) -> None:
    with pytest.raises(InvalidInput) as info:
        api.create_many([job(0, t0), {**job(1, t0), "colour": "red"}])
    assert (info.value.code, info.value.field) == ("unsupported_job_key", "colour")
    assert "inputs[1]" in str(info.value)
    assert not Job.objects.exists()


def test_a_taken_job_id_raises_already_exists_and_writes_nothing(t0: datetime) -> None:
    api.create(job(1, t0))
    with pytest.raises(AlreadyExists) as info:
        api.create_many([job(0, t0), job(1, t0)])
    assert info.value.field == "job_id" and "inputs[1]" in str(info.value)
    assert list(Job.objects.values_list("job_id", flat=True)) == ["bulk-1"]
    assert Event.objects.count() == 1


def test_a_job_id_given_twice_raises_already_exists(t0: datetime) -> None:
    with pytest.raises(AlreadyExists) as info:
        api.create_many([job(0, t0), job(0, t0, payload=2)])
    assert info.value.field == "job_id" and "inputs[1]" in str(info.value)
    assert not Job.objects.exists()


def test_an_existing_explicit_idempotency_key_returns_that_job_and_writes_nothing_for_it(t0: datetime) -> None:
    old = api.create(job(9, t0, idempotency_key="k"))
    jobs = api.create_many([job(0, t0), job(1, t0, idempotency_key="k"), job(2, t0, idempotency_key="k2")])
    assert [j.job_id for j in jobs] == ["bulk-0", "bulk-9", "bulk-2"]
    assert jobs[1].pk == old.pk
    assert not Job.objects.filter(job_id="bulk-1").exists()
    assert Event.objects.filter(event_type="routine_created").count() == 3


def test_an_explicit_key_repeated_in_one_call_yields_the_first_job(t0: datetime) -> None:
    jobs = api.create_many([job(0, t0, idempotency_key="k"), job(1, t0, idempotency_key="k")])
    assert [j.job_id for j in jobs] == ["bulk-0", "bulk-0"]
    assert Job.objects.count() == 1


def test_a_taken_default_idempotency_key_raises_already_exists(t0: datetime) -> None:
    api.create(job(5, t0, idempotency_key="routine:bulk-1"))
    with pytest.raises(AlreadyExists) as info:
        api.create_many([job(0, t0), job(1, t0)])
    assert info.value.field == "idempotency_key" and "inputs[1]" in str(info.value)
    assert Job.objects.count() == 1


def test_create_many_of_nothing_returns_nothing() -> None:
    assert api.create_many([]) == []


def test_create_many_inserts_in_batches(t0: datetime) -> None:
    with CaptureQueriesContext(connection) as ctx:
        api.create_many([job(i, t0) for i in range(1200)])
    inserts = [q for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert Job.objects.count() == 1200 and Event.objects.count() == 1200
    # Many rows per INSERT (SQLite's 999-parameter limit makes batches of ~35 jobs), not 2,400.
    assert len(inserts) < 100
    assert len(ctx.captured_queries) < 120
