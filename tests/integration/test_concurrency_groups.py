"""Concurrency groups in one process: who the claim holds back, what that costs, the API around it.

Many runners at once, as real processes on every database, are in tests/system/test_concurrency_groups.py.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from routines import api
from routines.clock import db_now
from routines.exceptions import InvalidInput
from routines.management.commands.run_due import Command as RunDue
from routines.models import ConcurrencyGroup, Job, Run
from routines.runner import Runner
from tests.support.jobs import T0, once

pytestmark = pytest.mark.django_db

RUN = {"type": "run"}


def grouped(job_id: str, key: str | None = "g", limit: int = 1, **extra: Any) -> Job:
    return api.create(
        {
            "job_id": job_id,
            "schedule": once(T0),
            "target": RUN,
            "concurrency_key": key,
            "concurrency_limit": limit,
            **extra,
        }
    )


def ran(job_id: str) -> int:
    return Run.objects.filter(job_id=job_id).count()


def test_a_job_whose_group_is_full_stays_due_uncharged_and_runs_once_room_frees() -> None:
    for name in ("g1", "g2", "g3"):
        grouped(name)
    grouped("z-free", key=None)
    holder = Runner(now=T0, runner_id="holder")
    claims = holder.claim(1)  # another runner is executing g1
    assert [c.job["job_id"] for c in claims] == ["g1"]

    results = api.run_due({"now": T0})

    assert [r.job_id for r in results] == ["z-free"]
    for name in ("g2", "g3"):
        job = api.get(name)
        assert (job.state, job.attempt_count, job.next_run_at, ran(name)) == ("active", 0, T0, 0)

    holder.execute_batch(claims)
    results = api.run_due({"now": T0})

    assert [r.job_id for r in results] == ["g2", "g3"]
    assert set(Job.objects.values_list("state", flat=True)) == {"completed"}


def test_one_runner_works_through_a_whole_group_in_one_pass() -> None:
    for i in range(6):
        grouped(f"g{i}", limit=2)
    for i in range(3):
        grouped(f"u{i}", key=None)
    results = api.run_due({"now": T0})
    assert sorted(r.job_id for r in results) == sorted([*(f"g{i}" for i in range(6)), "u0", "u1", "u2"])
    assert Run.objects.filter(status="completed").count() == 9


@pytest.mark.parametrize(
    ("first", "second", "admitted"),
    # With one of the group running, a job allowing 3 at once still runs; one allowing 1 waits.
    [(("a", 1), ("b", 3), ["b"]), (("a", 3), ("b", 1), [])],
)
def test_each_job_is_held_to_its_own_limit(
    first: tuple[str, int], second: tuple[str, int], admitted: list[str]
) -> None:
    for name, limit in (first, second):
        grouped(name, limit=limit)
    assert [c.job["job_id"] for c in Runner(now=T0, runner_id="holder").claim(1)] == ["a"]
    claims = Runner(now=T0, runner_id="other").claim(10)
    assert [c.job["job_id"] for c in claims] == admitted


def test_groups_are_separate() -> None:
    grouped("a1", key="a")
    grouped("a2", key="a")
    grouped("b1", key="b")
    claims = Runner(now=T0, runner_id="r").claim(10)
    assert sorted(c.job["job_id"] for c in claims) == ["a1", "b1"]
    assert set(ConcurrencyGroup.objects.values_list("key", flat=True)) == {"a", "b"}


def statements_of_a_claim(size: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        claims = Runner(now=T0, runner_id="counted").claim(size)
    assert len(claims) == size
    return len(queries)


def test_a_batch_with_keyed_jobs_costs_two_statements_more_and_an_unkeyed_one_nothing() -> None:
    for i in range(4):
        grouped(f"u{i}", key=None)
    unkeyed = statements_of_a_claim(4)
    for i in range(4):
        grouped(f"k{i}", key=f"group-{i % 2}", limit=2, next_run_at=T0)
    ConcurrencyGroup.objects.bulk_create([ConcurrencyGroup(key=k, claimed_at=T0) for k in ("group-0", "group-1")])
    keyed = statements_of_a_claim(4)
    assert keyed == unkeyed + 2


def test_the_first_claim_of_a_new_group_creates_its_row() -> None:
    grouped("n1", key="new")
    with CaptureQueriesContext(connection) as queries:
        assert len(Runner(now=T0, runner_id="r").claim(1)) == 1
    assert ConcurrencyGroup.objects.filter(key="new").exists()
    assert any("INSERT" in q["sql"] and "concurrencygroup" in q["sql"] for q in queries.captured_queries)


# The fields in the API and REST -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("concurrency_key", ""),
        ("concurrency_key", "   "),
        ("concurrency_key", "x" * 201),
        ("concurrency_key", 7),
        ("concurrency_limit", 0),
        ("concurrency_limit", -1),
        ("concurrency_limit", True),
        ("concurrency_limit", None),
        ("concurrency_limit", "2"),
        ("concurrency_limit", 2**31),
    ],
)
def test_bad_concurrency_fields_are_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        api.create({"job_id": "bad", "schedule": once(T0), "target": RUN, field: value})
    assert exc.value.field == field
    assert not Job.objects.exists()


def test_defaults_and_update() -> None:
    job = api.create({"job_id": "d", "schedule": once(T0), "target": RUN})
    assert (job.concurrency_key, job.concurrency_limit) == (None, 1)
    job = api.update("d", {"concurrency_key": "reports", "concurrency_limit": 3})
    assert (job.concurrency_key, job.concurrency_limit) == ("reports", 3)
    with pytest.raises(InvalidInput) as exc:
        api.update("d", {"concurrency_limit": 0})
    assert exc.value.field == "concurrency_limit"
    assert api.get("d").concurrency_limit == 3


def test_rest_round_trip(staff_client: Client) -> None:
    body = {"job_id": "r", "schedule": {"type": "once", "at": "2026-01-01T12:00:00Z"}, "target": RUN}
    created = staff_client.post(
        "/api/routines/jobs/",
        {**body, "concurrency_key": "mail", "concurrency_limit": 2},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert (created.json()["concurrency_key"], created.json()["concurrency_limit"]) == ("mail", 2)
    patched = staff_client.patch("/api/routines/jobs/r/", {"concurrency_limit": 0}, content_type="application/json")
    assert patched.status_code == 400
    assert (patched.json()["error"], patched.json()["field"]) == ("invalid_patch", "concurrency_limit")
    patched = staff_client.patch("/api/routines/jobs/r/", {"concurrency_key": None}, content_type="application/json")
    assert patched.status_code == 200
    assert patched.json()["concurrency_key"] is None


@pytest.mark.django_db(transaction=True)
def test_a_looping_run_due_waits_for_a_full_group_instead_of_spinning(monkeypatch: pytest.MonkeyPatch) -> None:
    at = db_now() - timedelta(seconds=10)
    for name in ("g1", "g2"):
        api.create({"job_id": name, "schedule": once(at), "target": RUN, "concurrency_key": "g"})
    assert len(Runner(runner_id="holder", claim_ttl_ms=600_000).claim(1)) == 1  # holds g for ten minutes
    passes: list[int] = []
    run_due = api.run_due

    def counted(*args: Any, **kwargs: Any) -> Any:
        passes.append(1)
        return run_due(*args, **kwargs)

    monkeypatch.setattr(api, "run_due", counted)
    stop = threading.Event()
    threading.Timer(1.2, stop.set).start()
    command = RunDue(stdout=StringIO(), stderr=StringIO())
    command.verbosity = 1
    command.loop({"runner_id": "looper"}, 30.0, False, stop)

    # One pass, then one every half second: a spinning loop would have made hundreds.
    assert 2 <= len(passes) <= 4, len(passes)
    assert api.get("g2").state == "active"
