"""Query counts of the hot paths: bounded, batched, and independent of how many jobs exist.

Timings are measured by bench/run_due.py; here only the number of statements is asserted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routines import api
from routines.runner import Runner
from tests.support.jobs import verb

pytestmark = pytest.mark.django_db(transaction=True)


def due(n: int, at: datetime, prefix: str = "due") -> list[dict[str, Any]]:
    return [
        {"job_id": f"{prefix}-{i:05d}", "schedule": {"type": "once", "at": at}, "target": {"type": "run"}}
        for i in range(n)
    ]


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def sql(ctx: CaptureQueriesContext) -> list[str]:
    """The statements sent, without transaction control (which Django logs on SQLite only)."""
    words = [verb(q["sql"]) for q in ctx.captured_queries]
    return [w for w in words if w not in TRANSACTION_CONTROL]


def statements(fn: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(sql(ctx))


@pytest.fixture
def idle_table(t0: datetime) -> Callable[[int], None]:
    """Grow the table by jobs that are not due: half in the far future, half completed."""
    made = [0]

    def grow(total: int) -> None:
        inputs = due(total - made[0], t0 + timedelta(days=3650), prefix=f"idle{made[0]}")
        api.create_many(inputs)
        made[0] = total

    return grow


def test_run_due_costs_at_most_two_statements_per_job(t0: datetime, settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "BATCH_SIZE": 20}
    api.create_many(due(100, t0))
    with CaptureQueriesContext(connection) as ctx:
        results = api.run_due({"now": t0 + timedelta(seconds=1)})
    assert len(results) == 100
    assert len(ctx.captured_queries) <= 2 * len(results)  # transaction control included


def test_a_claim_is_three_statements_whatever_the_batch_size(t0: datetime) -> None:
    api.create_many(due(60, t0))
    now = t0 + timedelta(seconds=1)
    counts = []
    for size in (5, 50):
        runner = Runner(now=now)
        with CaptureQueriesContext(connection) as ctx:
            claims = runner.claim(size)
        assert len(claims) == size
        counts.append(len(sql(ctx)))
    # SELECT the due rows, UPDATE them to running, INSERT their Runs (MySQL reads once per due state).
    limit = 4 if connection.vendor == "mysql" else 3
    assert counts[0] == counts[1] <= limit


def test_finishing_a_batch_is_one_fenced_update_per_job_plus_two(t0: datetime, settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "BATCH_SIZE": 40}
    api.create_many(due(40, t0))
    runner = Runner(now=t0 + timedelta(seconds=1))
    claims = runner.claim(40)
    with CaptureQueriesContext(connection) as ctx:
        results = runner.execute_batch(claims)
    assert len(results) == 40
    sent = sql(ctx)
    # One fenced UPDATE of each job, then the Runs' final fields and the events in bulk.
    assert sent.count("INSERT") + sent.count("COPY") == 1
    assert len(sent) <= 40 + 2


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: api.next_due_at(), id="next_due_at"),
        pytest.param(lambda: api.list_due({"limit": 100}), id="list_due"),
        pytest.param(lambda: api.run_due(), id="empty_run_due"),
    ],
)
def test_idle_calls_are_bounded_and_independent_of_table_size(
    call: Callable[[], Any], idle_table: Callable[[int], None]
) -> None:
    idle_table(20)
    small = statements(call)
    idle_table(1500)
    large = statements(call)
    # At most: the database clock, the switch that pauses every runner, the late jobs, the lease
    # rescue, the timed pauses that ended, the due read (MySQL reads once per due state), and
    # where rows are locked with SKIP LOCKED, a check that nothing due was skipped.
    assert small == large <= 8
    assert not api.list_due({"limit": 100})


def test_next_due_at_is_one_statement(idle_table: Callable[[int], None], t0: datetime) -> None:
    idle_table(50)
    api.create_many(due(3, t0))
    with CaptureQueriesContext(connection) as ctx:
        assert api.next_due_at() == t0
    assert sql(ctx) == ["SELECT"]


def test_list_due_reads_only_the_limit(idle_table: Callable[[int], None], t0: datetime) -> None:
    idle_table(50)
    api.create_many(due(150, t0))
    with CaptureQueriesContext(connection) as ctx:
        jobs = api.list_due({"limit": 100, "at": t0})
    assert len(jobs) == 100
    assert sql(ctx) == ["SELECT"]
    assert "LIMIT 100" in ctx.captured_queries[-1]["sql"].upper()
