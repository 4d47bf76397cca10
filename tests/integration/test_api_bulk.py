"""api.create_many: create's rules for each input, all or nothing, bulk INSERTs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routines import api, journal, signals
from routines.exceptions import AlreadyExists, InvalidInput
from routines.models import Event, Job
from tests.support.jobs import verb

# Text that trips up hand-written SQL and COPY's text format: tabs, newlines, backslashes, \N, quotes.
AWKWARD = "tab\there\nnew line \\ back\\slash \\N 'single' \"double\" é ✓ 🦀"

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


def fields(job: Job) -> dict[str, Any]:
    return {f.attname: getattr(job, f.attname) for f in Job._meta.concrete_fields}


def test_the_jobs_returned_are_the_jobs_stored(t0: datetime) -> None:
    inputs = [
        job(0, t0),
        job(1, t0, payload={"text": AWKWARD, "list": [1, 2.5, None, True]}, metadata={AWKWARD: [AWKWARD]}),
        job(2, t0, state="paused", next_run_at=None, routing_policy={"region": "eu"}),
        {
            "schedule": {"type": "interval", "every_ms": 60_000, "start_at": t0 + timedelta(hours=1)},
            "target": {"type": "run", "result": AWKWARD},
            "idempotency_key": AWKWARD,
        },
        job(4, t0, schedule={"type": "cron", "expr": "0 9 * * *", "timezone": "Europe/Paris"}, payload=AWKWARD),
    ]
    returned = api.create_many(inputs)
    assert len(returned) == len(inputs)
    for made in returned:
        assert made._state.adding is False
        stored = Job.objects.get(pk=made.pk)
        assert fields(made) == fields(stored)
    assert api.get("bulk-1").payload["text"] == AWKWARD
    assert api.get("bulk-2").next_run_at is None
    assert api.get("bulk-4").payload == AWKWARD


def test_create_many_stores_what_create_stores(t0: datetime) -> None:
    given = job(0, t0, payload={"text": AWKWARD}, metadata={"k": AWKWARD}, retry_policy={"max_attempts": 2})
    many = api.create_many([given])[0]
    one = api.create({**given, "job_id": "single"})
    skip = {"job_id", "idempotency_key", "created_at", "updated_at"}
    assert {k: v for k, v in fields(Job.objects.get(pk=many.pk)).items() if k not in skip} == {
        k: v for k, v in fields(Job.objects.get(pk=one.pk)).items() if k not in skip
    }
    first, second = Event.objects.filter(event_type="routine_created").order_by("id")
    assert first.payload == second.payload


def test_receivers_get_the_stored_events_with_their_ids(t0: datetime) -> None:
    seen: list[Event] = []
    signals.event_recorded.connect(lambda sender, event, **kw: seen.append(event), weak=False, dispatch_uid="ids")
    try:
        api.create_many([job(i, t0) for i in range(450)])  # more than one RETURNING statement on SQLite
    finally:
        signals.event_recorded.disconnect(dispatch_uid="ids")
    assert [e.job_id for e in seen] == [f"bulk-{i}" for i in range(450)]
    if not connection.features.can_return_rows_from_bulk_insert:
        assert all(e.pk is None for e in seen)  # MySQL cannot say them, as with bulk_create
        return
    for sent in seen:
        stored = Event.objects.get(pk=sent.pk)
        assert (stored.job_id, stored.event_type, stored.payload) == (sent.job_id, sent.event_type, sent.payload)


def test_events_are_logged_without_any_receiver(t0: datetime, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="routines"):
        api.create_many([job(0, t0), job(1, t0)])
    lines = [r.getMessage() for r in caplog.records if r.name == "routines"]
    assert [line.split()[:2] for line in lines] == [
        ["routine_created", "job=bulk-0"],
        ["routine_created", "job=bulk-1"],
    ]


def test_events_are_built_only_when_someone_would_see_them(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="routines"):
        assert journal.observed() is False
        with caplog.at_level(logging.INFO, logger="routines"):
            assert journal.observed() is True
        signals.event_recorded.connect(lambda **kw: None, weak=False, dispatch_uid="observer")
        try:
            assert journal.observed() is True
        finally:
            signals.event_recorded.disconnect(dispatch_uid="observer")


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


def test_create_many_writes_in_a_few_statements(t0: datetime) -> None:
    with CaptureQueriesContext(connection) as ctx:
        api.create_many([job(i, t0) for i in range(2500)])
    writes = [verb(q["sql"]) for q in ctx.captured_queries if verb(q["sql"]) in ("INSERT", "COPY")]
    assert Job.objects.count() == 2500 and Event.objects.count() == 2500
    # One COPY per table on PostgreSQL; elsewhere an executemany per 1,000 rows of each table.
    assert len(writes) == (2 if connection.vendor == "postgresql" else 6), writes
    assert len(ctx.captured_queries) <= len(writes) + 4  # the savepoint or transaction around them
