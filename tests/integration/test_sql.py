"""routines.sql: the hand-built hot-path statements, called directly on each database.

The runner tests show these statements through their effects; here each one is held to its
fence and to its values (NULLs, JSON, several field sets in one call, more rows than a chunk).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from routines import sql
from routines.models import Event, Job, Run
from routines.sql import CHUNK, claim_update, fenced_update, fenced_update_many, finish_runs
from tests.support.jobs import EARLY, claim, make, once

pytestmark = pytest.mark.django_db

SUPPORTS_MANY = connection.vendor in ("postgresql", "mysql") or (
    connection.vendor == "sqlite" and __import__("sqlite3").sqlite_version_info >= (3, 35)
)
NO_MANY = "SQLite before 3.35 has no UPDATE … RETURNING"


def running(n: int, prefix: str = "job") -> list[tuple[str, str]]:
    """``n`` jobs claimed by a runner: (job_id, run_id) pairs."""
    pairs = []
    for i in range(n):
        job_id = f"{prefix}-{i:04d}"
        make(job_id, once(EARLY))
        pairs.append((job_id, claim(job_id).run_id))
    return pairs


def finished(job_id: str, at: datetime, result: Any = None) -> dict[str, Any]:
    return {
        "state": "completed",
        "next_run_at": None,
        "completed_at": at,
        "current_run_id": None,
        "claimed_by": None,
        "lease_expires_at": None,
        "attempt_count": 0,
        "last_result": result,
        "last_error": None,
    }


EVENT_FIELDS = ("event_type", "job_id", "run_id", "payload", "created_at")
AWKWARD = "tab\there\nline \\ \\N 'q' \"dq\" é 🦀"


@pytest.fixture(params=["fastest", "plain"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each insert path: COPY on PostgreSQL (psycopg 3), and the INSERTs psycopg2 would get there."""
    if request.param == "plain":
        monkeypatch.setattr(sql, "copies", lambda: False)
    return str(request.param)


def event_rows(n: int, at: datetime) -> list[tuple[Any, ...]]:
    payloads: list[Any] = [{"i": 0, "text": AWKWARD, "at": at}, [AWKWARD, None, 1.5], {}, AWKWARD]
    return [("routine_created", f"job-{i:05d}", None if i % 2 else "run-1", payloads[i % 4], at) for i in range(n)]


def test_insert_writes_every_value_as_given(t0: datetime, way: str) -> None:
    rows = event_rows(450, t0)  # more rows than one statement of SQLite's 999 parameters holds
    assert sql.insert(Event, EVENT_FIELDS, rows) == []
    stored = list(Event.objects.order_by("job_id").values_list(*EVENT_FIELDS))
    expected = [
        (t, j, r, {**p, "at": "2026-01-01T12:00:00Z"} if isinstance(p, dict) and p else p, at)
        for t, j, r, p, at in rows
    ]
    assert stored == expected


def test_insert_returns_the_new_keys_in_row_order(t0: datetime, way: str) -> None:
    rows = event_rows(sql.INSERT_BATCH + 200, t0)  # more than one chunk on every path
    pks = sql.insert(Event, EVENT_FIELDS, rows, return_pks=True)
    if not connection.features.can_return_rows_from_bulk_insert:
        assert pks == []
        return
    assert len(set(pks)) == len(rows)
    stored = dict(Event.objects.values_list("pk", "job_id"))
    assert [stored[pk] for pk in pks] == [row[1] for row in rows]
    # Later rows get later keys from the database's own counter.
    Event.objects.create(event_type="x", job_id="after", created_at=t0)
    assert Event.objects.get(job_id="after").pk > max(pks)


def test_insert_of_a_taken_key_raises_integrity_error_and_writes_nothing(t0: datetime, way: str) -> None:
    make("job-0001", once(EARLY))
    rows = [tuple(make_row(f"job-{i:04d}", t0)) for i in range(3)]
    names = [f.attname for f in Job._meta.concrete_fields]
    with pytest.raises(IntegrityError), transaction.atomic():
        sql.insert(Job, names, rows)
    assert list(Job.objects.values_list("job_id", flat=True)) == ["job-0001"]


def test_insert_goes_through_the_execute_wrappers(t0: datetime, way: str) -> None:
    seen: list[str] = []

    def record(execute: Any, sql_: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql_.split()[0])
        return execute(sql_, params, many, context)

    with connection.execute_wrapper(record):
        sql.insert(Event, EVENT_FIELDS, event_rows(3, t0))
    assert seen == (["COPY"] if connection.vendor == "postgresql" and way == "fastest" else ["INSERT"])


def test_insert_objects_saves_them_as_bulk_create_would(t0: datetime, way: str) -> None:
    events = [Event(event_type="e", job_id=f"j{i}", payload={"i": i}, created_at=t0) for i in range(3)]
    runs = [Run(run_id=f"run-{i}", job_id="j", started_at=t0, slot_at=t0 + timedelta(minutes=i)) for i in range(2)]
    sql.insert_objects(events, return_pks=True)
    sql.insert_objects(runs, return_pks=False)
    assert all(not obj._state.adding and obj._state.db == "default" for obj in [*events, *runs])
    if connection.features.can_return_rows_from_bulk_insert:
        assert [Event.objects.get(pk=e.pk).payload for e in events] == [{"i": 0}, {"i": 1}, {"i": 2}]
    stored = {r.run_id: r for r in Run.objects.all()}
    for run in runs:
        assert {f.attname: getattr(stored[run.run_id], f.attname) for f in Run._meta.concrete_fields} == {
            f.attname: getattr(run, f.attname) for f in Run._meta.concrete_fields
        }
    sql.insert_objects([], return_pks=True)  # nothing to do, nothing sent


def make_row(job_id: str, at: datetime) -> list[Any]:
    values = {f.attname: f.get_default() for f in Job._meta.concrete_fields}
    values.update(
        job_id=job_id,
        schedule={"type": "once", "at": at},
        target={"type": "run"},
        idempotency_key=f"k-{job_id}",
        schedule_type="once",
        target_type="run",
        next_run_at=at,
        created_at=at,
        updated_at=at,
    )
    return list(values.values())


def test_fenced_update_writes_only_while_the_run_holds_the_job(t0: datetime) -> None:
    [(job_id, run_id)] = running(1)
    assert not fenced_update(job_id, "someone-else", finished(job_id, t0))
    assert Job.objects.get(job_id=job_id).state == "running"
    version = Job.objects.get(job_id=job_id).version
    assert fenced_update(job_id, run_id, finished(job_id, t0, {"ok": 1}))
    job = Job.objects.get(job_id=job_id)
    assert (job.state, job.completed_at, job.last_result, job.version) == ("completed", t0, {"ok": 1}, version + 1)
    assert not fenced_update(job_id, run_id, {"state": "active"})  # no longer running: the fence holds


@pytest.mark.skipif(not SUPPORTS_MANY, reason=NO_MANY)
def test_fenced_update_many_writes_each_held_job_and_names_them(t0: datetime) -> None:
    pairs = running(5)
    (a, ra), (b, rb), (c, rc), (d, rd), (e, _) = pairs
    Job.objects.filter(job_id=c).update(current_run_id="taken-over")
    writes = [
        (a, ra, finished(a, t0, {"n": 1})),
        (b, rb, {"state": "active", "next_run_at": t0, "current_run_id": None, "last_error": {"reason": "x"}}),
        (c, rc, finished(c, t0)),
        (d, rd, finished(d, t0, None)),
        (e, "stale-run", finished(e, t0)),
    ]
    with transaction.atomic():
        won = fenced_update_many(writes)
    assert won == {a, b, d}
    jobs = {j.job_id: j for j in Job.objects.all()}
    assert (jobs[a].state, jobs[a].last_result, jobs[a].completed_at) == ("completed", {"n": 1}, t0)
    assert (jobs[b].state, jobs[b].next_run_at, jobs[b].last_error) == ("active", t0, {"reason": "x"})
    assert jobs[b].completed_at is None  # a field one job writes is left alone on the others
    assert (jobs[d].state, jobs[d].last_result, jobs[d].last_error) == ("completed", None, None)
    assert (jobs[c].state, jobs[c].current_run_id) == ("running", "taken-over")
    assert (jobs[e].state, jobs[e].current_run_id) == ("running", pairs[4][1])


@pytest.mark.skipif(not SUPPORTS_MANY, reason=NO_MANY)
def test_fenced_update_many_costs_a_statement_or_two_per_chunk(t0: datetime) -> None:
    """One UPDATE per field set (PostgreSQL), per chunk (SQLite); MySQL first locks the chunk."""
    pairs = running(CHUNK + 10)
    writes = [(job_id, run_id, finished(job_id, t0, {"i": i})) for i, (job_id, run_id) in enumerate(pairs)]
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        won = fenced_update_many(writes)
    assert won == {job_id for job_id, _ in pairs}
    sent = [q["sql"].split()[0] for q in ctx.captured_queries if q["sql"].split()[0] in ("SELECT", "UPDATE")]
    expected = {"postgresql": ["UPDATE"], "sqlite": ["UPDATE"] * 2, "mysql": ["SELECT", "UPDATE"] * 2}
    assert sent == expected[connection.vendor]
    assert sorted(Job.objects.values_list("last_result", flat=True), key=lambda r: r["i"]) == [
        {"i": i} for i in range(CHUNK + 10)
    ]


def test_fenced_update_many_leaves_what_it_cannot_batch_to_the_caller(t0: datetime) -> None:
    [(job_id, run_id)] = running(1)
    assert fenced_update_many([(job_id, run_id, finished(job_id, t0))]) is None
    assert Job.objects.get(job_id=job_id).state == "running"


def test_finish_runs_writes_every_final_field(t0: datetime) -> None:
    # More runs than one SQLite/MySQL chunk (999 parameters) holds.
    pairs = running(80)
    runs = list(Run.objects.filter(run_id__in=[r for _, r in pairs]).order_by("job_id"))
    for i, run in enumerate(runs):
        run.status = "failed" if i % 2 else "completed"
        run.result = None if i % 2 else {"i": i, "at": t0}
        run.error = {"reason": f"r{i}"} if i % 2 else None
        run.finished_at = t0 + timedelta(seconds=i)
        run.steps = [{"step": i}]
        run.scope = {"s": i}
        run.metadata = {}
    with transaction.atomic():
        finish_runs(runs)
    stored = list(Run.objects.filter(run_id__in=[r.run_id for r in runs]).order_by("job_id"))
    for i, run in enumerate(stored):
        assert run.status == ("failed" if i % 2 else "completed")
        assert run.result == (None if i % 2 else {"i": i, "at": t0.isoformat().replace("+00:00", "Z")})
        assert run.error == ({"reason": f"r{i}"} if i % 2 else None)
        assert run.finished_at == t0 + timedelta(seconds=i)
        assert (run.steps, run.scope, run.metadata) == ([{"step": i}], {"s": i}, {})


def test_finish_runs_of_nothing_sends_nothing() -> None:
    with CaptureQueriesContext(connection) as ctx:
        finish_runs([])
    assert ctx.captured_queries == []


def test_claim_update_takes_only_due_rows_in_a_due_state(t0: datetime) -> None:
    make("due", once(EARLY))
    make("later", once(t0 + timedelta(days=1)))
    make("paused", once(EARLY), state="paused")
    rows = list(Job.objects.values("job_id", "version"))
    run_ids = {row["job_id"]: f"run-{row['job_id']}" for row in rows}
    with transaction.atomic():
        won = claim_update(rows, run_ids, t0, t0, t0 + timedelta(minutes=1), "r1", locked=False)
    assert won == 1
    job = Job.objects.get(job_id="due")
    assert (job.state, job.current_run_id, job.claimed_by, job.attempt_count) == ("running", "run-due", "r1", 1)
    assert job.current_slot_at == EARLY
    assert Job.objects.get(job_id="later").state == "active"
    assert Job.objects.get(job_id="paused").state == "paused"


def test_claim_update_without_locks_skips_a_row_changed_since_it_was_read(t0: datetime) -> None:
    make("a", once(EARLY))
    make("b", once(EARLY))
    rows = list(Job.objects.order_by("job_id").values("job_id", "version"))
    Job.objects.filter(job_id="b").update(version=rows[1]["version"] + 1)  # another runner's write
    with transaction.atomic():
        won = claim_update(rows, {"a": "run-a", "b": "run-b"}, t0, t0, t0, "r1", locked=False)
    assert won == 1
    assert dict(Job.objects.values_list("job_id", "state")) == {"a": "running", "b": "active"}
