"""routines.api: each row of SPEC §3, against the real database."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from routines import api
from routines.exceptions import AlreadyExists, InvalidInput, JobBusy, JobTerminal, NotFound
from routines.models import Event, Job, Run
from routines.times import UTC
from tests.support.jobs import EARLY, FAIL, MINUTE, RUN, T0, claim, events, every, in_state, make, once, snapshot

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
ALL_STATES = ["active", "paused", "running", "retry_waiting", "completed", "exhausted", "cancelled"]


# create ----------------------------------------------------------------------------------------


def test_create_stores_the_normalised_job() -> None:
    job = make("nightly", once("2026-01-01T13:00:00+01:00"), payload={"n": 1}, metadata={"team": "ops"})
    stored = api.get("nightly")
    assert stored.schedule == {"type": "once", "at": T0}
    assert stored.schedule["at"].tzinfo is not None
    assert stored.target["outcome"] == "completed"
    assert (stored.payload, stored.metadata) == ({"n": 1}, {"team": "ops"})
    assert stored.next_run_at == job.next_run_at == T0
    assert (stored.state, stored.attempt_count) == ("active", 0)


def test_create_fills_in_the_defaults() -> None:
    job = make("nightly")
    assert job.idempotency_key == "routine:nightly"
    assert job.retry_policy == {"max_attempts": 1, "backoff_ms": 0}
    assert (job.metadata, job.routing_policy, job.payload) == ({}, {}, None)
    assert job.created_at == job.updated_at
    assert job.current_run_id is job.last_run_id is job.cancelled_at is job.completed_at is None


def test_create_generates_a_routine_job_id() -> None:
    job = api.create({"schedule": once(), "target": RUN})
    assert re.fullmatch(r"routine_[0-9a-f]{32}", job.job_id)
    assert api.get(job.job_id).idempotency_key == "routine:" + job.job_id


def test_create_interval_starts_at_creation_time_by_default() -> None:
    before = timezone.now()
    job = api.create({"job_id": "tick", "schedule": {"type": "interval", "every_ms": 1000}, "target": RUN})
    assert before <= job.next_run_at <= timezone.now()
    assert api.get("tick").schedule["start_at"] == job.next_run_at


def test_create_paused_with_an_explicit_next_run_at() -> None:
    job = make("later", state="paused", next_run_at=T0 + MINUTE)
    assert (job.state, job.next_run_at) == ("paused", T0 + MINUTE)


def test_create_records_routine_created() -> None:
    make("nightly")
    event = Event.objects.get(job_id="nightly")
    assert event.event_type == "routine_created"
    assert event.payload["next_run_at"] == "2026-01-01T12:00:00Z"


def test_create_with_a_taken_job_id_raises_already_exists_and_writes_nothing() -> None:
    make("nightly")
    before = snapshot()
    with pytest.raises(AlreadyExists) as info:
        make("nightly", every())
    assert (info.value.code, info.value.field) == ("already_exists", "job_id")
    assert snapshot() == before


def test_create_with_an_existing_idempotency_key_returns_that_job_and_writes_nothing() -> None:
    first = make("first", idempotency_key="order-42")
    before = snapshot()
    again = make("second", every(), idempotency_key="order-42")
    assert again.job_id == "first"
    assert again.schedule == first.schedule
    assert snapshot() == before


def test_idempotency_key_is_checked_before_the_job_id() -> None:
    make("nightly", idempotency_key="k")
    assert make("nightly", idempotency_key="k").job_id == "nightly"


def test_a_default_idempotency_key_that_is_taken_raises_already_exists() -> None:
    make("a", idempotency_key="routine:b")
    before = snapshot()
    with pytest.raises(AlreadyExists) as info:
        make("b")
    assert info.value.field == "idempotency_key"
    assert snapshot() == before


@pytest.mark.parametrize("text", ["nul\x00", "lone \ud800"])
def test_text_no_database_can_store_is_refused_before_the_database(text: str) -> None:
    make("j")
    with pytest.raises(InvalidInput) as info:
        make("k", payload={"note": text})
    assert info.value.field == "payload"
    with pytest.raises(InvalidInput):
        api.update("j", {"metadata": {text: 1}})
    with pytest.raises(InvalidInput):
        api.list({"job_id": text})
    with pytest.raises(NotFound):
        api.cancel(text)
    assert api.get("j").version == 0


def test_any_other_unicode_round_trips() -> None:
    make("j", payload={"emoji 😀": "日本語"}, idempotency_key="clé-😀")
    assert api.get("j").payload == {"emoji 😀": "日本語"}
    assert make("other", idempotency_key="clé-😀").job_id == "j"


def test_create_with_invalid_input_writes_nothing() -> None:
    before = snapshot()
    with pytest.raises(InvalidInput):
        make("bad", every(0))
    assert snapshot() == before


# update ----------------------------------------------------------------------------------------


def test_update_changes_the_given_keys_only() -> None:
    make("nightly", payload=1, metadata={"a": 1})
    job = api.update("nightly", {"metadata": {"b": 2}, "retry_policy": {"max_attempts": 3}})
    assert job.metadata == {"b": 2}
    assert job.retry_policy == {"max_attempts": 3, "backoff_ms": 0}
    assert job.payload == 1
    assert job.updated_at > job.created_at


def test_update_records_the_patch_with_the_payload_redacted() -> None:
    make("nightly")
    api.update("nightly", {"payload": {"secret": "s3cr3t"}, "metadata": {"a": 1}})
    event = Event.objects.filter(job_id="nightly").last()
    assert event.event_type == "routine_updated"
    assert event.payload == {"payload": "redacted", "metadata": {"a": 1}}


def test_update_with_a_new_schedule_recomputes_next_run_at() -> None:
    make("nightly")
    job = api.update("nightly", {"schedule": every(start_at=T0 + MINUTE)})
    assert job.next_run_at == T0 + MINUTE
    assert api.list({"schedule_type": "interval"}) == [job]


def test_update_keeps_a_next_run_at_given_in_the_same_patch() -> None:
    make("nightly")
    job = api.update("nightly", {"schedule": every(start_at=T0 + MINUTE), "next_run_at": T0 + 5 * MINUTE})
    assert job.next_run_at == T0 + 5 * MINUTE


def test_update_of_a_paused_job_keeps_its_next_run_at() -> None:
    make("nightly", state="paused")
    job = api.update("nightly", {"schedule": once(T0 + MINUTE)})
    assert (job.state, job.next_run_at) == ("paused", T0)


def test_update_of_a_paused_job_without_next_run_at_computes_one() -> None:
    make("nightly", state="paused", next_run_at=None)
    assert api.update("nightly", {"schedule": once(T0 + MINUTE)}).next_run_at == T0 + MINUTE


def test_update_target_changes_the_target_type_filter() -> None:
    make("nightly")
    api.update("nightly", {"target": {"type": "sleep", "seconds": 0}})
    assert [j.job_id for j in api.list({"target_type": "sleep"})] == ["nightly"]


def test_update_to_another_jobs_idempotency_key_raises_already_exists_and_writes_nothing() -> None:
    make("a", idempotency_key="taken")
    make("b")
    before = snapshot()
    with pytest.raises(AlreadyExists) as info:
        api.update("b", {"idempotency_key": "taken", "payload": 1})
    assert (info.value.code, info.value.field) == ("already_exists", "idempotency_key")
    assert snapshot() == before


def test_update_keeping_its_own_idempotency_key_is_fine() -> None:
    make("a", idempotency_key="mine")
    assert api.update("a", {"idempotency_key": "mine", "payload": 2}).payload == 2


def test_update_of_an_unknown_job_raises_not_found() -> None:
    with pytest.raises(NotFound) as info:
        api.update("ghost", {"payload": 1})
    assert (info.value.code, info.value.field) == ("not_found", None)


@pytest.mark.parametrize(("state", "error"), [("running", JobBusy), ("retry_waiting", JobBusy)])
def test_update_of_a_busy_job_raises_job_busy_and_writes_nothing(state: str, error: type) -> None:
    in_state("j", state)
    before = snapshot()
    with pytest.raises(error) as info:
        api.update("j", {"payload": 1})
    assert (info.value.code, info.value.field) == ("job_busy", None)
    assert snapshot() == before


@pytest.mark.parametrize("state", ["completed", "exhausted", "cancelled"])
def test_update_of_a_finished_job_raises_job_terminal_and_writes_nothing(state: str) -> None:
    in_state("j", state)
    before = snapshot()
    with pytest.raises(JobTerminal) as info:
        api.update("j", {"state": "active"})
    assert info.value.code == "job_terminal"
    assert snapshot() == before


# pause / resume --------------------------------------------------------------------------------


def test_pause_takes_a_job_out_of_the_due_list() -> None:
    make("nightly")
    job = api.update("nightly", {"state": "paused"})
    assert job.state == "paused"
    assert api.list_due({"at": T0}) == []
    assert api.next_due_at() is None


def test_pausing_a_paused_job_writes_nothing() -> None:
    make("nightly", state="paused")
    before = snapshot()
    assert api.update("nightly", {"state": "paused"}).state == "paused"
    assert snapshot() == before


def test_resume_makes_the_job_due_again() -> None:
    make("nightly", state="paused")
    api.update("nightly", {"state": "active"})
    assert [j.job_id for j in api.list_due({"at": T0})] == ["nightly"]
    assert events("nightly") == ["routine_created", "routine_updated"]


# cancel ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ALL_STATES)
def test_cancel_from_any_state_clears_the_schedule(state: str) -> None:
    in_state("j", state)
    api.cancel("j")
    job = api.get("j")
    assert job.state == "cancelled"
    assert job.cancelled_at is not None
    assert job.next_run_at is job.current_run_id is job.current_slot_at is None
    assert job.attempt_count == 0
    assert events("j")[-1] == "routine_cancelled"


def test_cancel_is_idempotent() -> None:
    make("nightly")
    api.cancel("nightly")
    before = snapshot()
    api.cancel("nightly")
    assert snapshot() == before


def test_cancel_marks_the_running_run_cancelled() -> None:
    make("nightly", once(EARLY))
    run = claim("nightly")
    api.cancel("nightly")
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert run.finished_at is not None


def test_cancel_of_an_unknown_job_raises_not_found() -> None:
    with pytest.raises(NotFound):
        api.cancel("ghost")


def test_a_cancelled_job_is_never_due() -> None:
    make("nightly")
    api.cancel("nightly")
    assert api.list_due({"at": T0 + timedelta(days=365)}) == []
    assert api.run_due({"now": T0 + timedelta(days=365)}) == []


# delete ----------------------------------------------------------------------------------------


def test_delete_removes_the_job_and_keeps_its_history() -> None:
    in_state("j", "completed")
    api.delete("j")
    assert not Job.objects.filter(job_id="j").exists()
    assert Run.objects.filter(job_id="j").count() == 1
    assert events("j") == ["routine_created", "routine_run_completed", "routine_deleted"]


def test_delete_of_a_running_job_raises_job_busy() -> None:
    in_state("j", "running")
    before = snapshot()
    with pytest.raises(JobBusy):
        api.delete("j")
    assert snapshot() == before


def test_delete_of_an_unknown_job_raises_not_found() -> None:
    with pytest.raises(NotFound):
        api.delete("ghost")


def test_a_deleted_job_id_can_be_created_again_and_runs_its_slot_again() -> None:
    in_state("j", "completed")
    api.delete("j")
    make("j", once(EARLY))
    [result] = api.run_due({"now": EARLY})
    assert result.outcome == "completed"
    assert Run.objects.filter(job_id="j", slot_at=EARLY, attempt=1).count() == 2


# get and list ----------------------------------------------------------------------------------


def test_get_returns_the_job() -> None:
    make("nightly")
    assert api.get("nightly").job_id == "nightly"


@pytest.mark.parametrize("job_id", ["ghost", "", None, 5, "nul\x00", "\ud800", "x" * 201])
def test_get_of_an_unknown_job_raises_not_found(job_id: object) -> None:
    with pytest.raises(NotFound) as info:
        api.get(job_id)  # type: ignore[arg-type]
    assert isinstance(info.value, LookupError)


@pytest.fixture
def three_jobs() -> None:
    make("a", once(T0))
    make("b", every(start_at=T0 + MINUTE), state="paused")
    make("c", once(T0 + 2 * MINUTE), {"type": "sleep", "seconds": 0})


def test_list_orders_newest_update_first(three_jobs: None) -> None:
    api.update("a", {"payload": 1})
    assert [j.job_id for j in api.list()] == ["a", "c", "b"]


def test_list_orders_equal_updates_by_job_id(three_jobs: None) -> None:
    Job.objects.update(updated_at=T0)
    assert [j.job_id for j in api.list()] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"job_id": "b"}, {"b"}),
        ({"state": "paused"}, {"b"}),
        ({"state": "completed"}, set()),
        ({"schedule_type": "once"}, {"a", "c"}),
        ({"target_type": "sleep"}, {"c"}),
        ({"due_before": T0 + MINUTE}, {"a", "b"}),
        ({"due_before": "2026-01-01T12:00:59Z"}, {"a"}),
        ({"state": "active", "schedule_type": "once", "target_type": "run"}, {"a"}),
        ({"limit": 2}, {"c", "b"}),
        ({}, {"a", "b", "c"}),
        (None, {"a", "b", "c"}),
    ],
)
def test_list_filters(three_jobs: None, filter: dict | None, expected: set[str]) -> None:
    assert {j.job_id for j in api.list(filter)} == expected


def test_list_with_an_unknown_filter_raises_unsupported_filter() -> None:
    with pytest.raises(InvalidInput) as info:
        api.list({"colour": "blue"})
    assert (info.value.code, info.value.field) == ("unsupported_filter", "colour")


# list_due and next_due_at -----------------------------------------------------------------------


def test_list_due_holds_active_and_retry_waiting_jobs_whose_time_has_come(three_jobs: None) -> None:
    in_state("r", "retry_waiting")
    for state in ("completed", "exhausted", "cancelled"):
        in_state(state, state)
    at = T0 + timedelta(days=1)
    assert [j.job_id for j in api.list_due({"at": at})] == ["r", "a", "c"]  # r retries at EARLY + backoff


def test_list_due_is_inclusive_and_ordered_by_next_run_at_then_job_id() -> None:
    make("z", once(T0))
    make("y", once(T0))
    make("x", once(T0 + MINUTE))
    assert [j.job_id for j in api.list_due({"at": T0})] == ["y", "z"]
    assert [j.job_id for j in api.list_due({"at": T0 + MINUTE, "limit": 2})] == ["y", "z"]


def test_list_due_defaults_to_now() -> None:
    make("past", once(T0))
    make("future", once(timezone.now() + timedelta(days=1)))
    assert [j.job_id for j in api.list_due()] == ["past"]
    assert [j.job_id for j in api.due()] == ["past"]


def test_list_due_leaves_out_running_jobs_with_a_live_lease() -> None:
    make("j", once(EARLY))
    claim("j", ttl_ms=3_600_000)
    lease = api.get("j").lease_expires_at
    assert api.list_due({"at": lease - MINUTE}) == []
    assert [j.job_id for j in api.list_due({"at": lease - MINUTE, "include_claimed": True})] == ["j"]


def test_list_due_includes_running_jobs_whose_lease_expired() -> None:
    make("j", once(EARLY))
    claim("j", ttl_ms=1000)
    lease = api.get("j").lease_expires_at
    assert api.list_due({"at": lease}) == []
    assert [j.job_id for j in api.list_due({"at": lease + timedelta(milliseconds=1)})] == ["j"]


def test_next_due_at_is_the_earliest_among_jobs_that_can_be_due() -> None:
    assert api.next_due_at() is None
    make("late", once(T0 + MINUTE))
    make("early", once(T0))
    make("paused", once(EARLY), state="paused")
    due = api.next_due_at()
    assert due == T0
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)


def test_next_due_at_counts_retry_waiting_jobs() -> None:
    make("later", once(T0 + timedelta(days=3650)))
    job = in_state("r", "retry_waiting")
    assert api.next_due_at() == job.next_run_at


# run_now ---------------------------------------------------------------------------------------


def test_run_now_executes_at_once_as_a_manual_run() -> None:
    make("nightly", once(T0 + timedelta(days=3650)), payload={"n": 1})
    run = api.run_now("nightly")
    assert (run.status, run.manual, run.slot_at, run.attempt) == ("completed", True, None, 1)
    assert run.result == {"n": 1}
    assert run.metadata["manual"] is True
    assert Run.objects.get(run_id=run.run_id).status == "completed"


def test_run_now_does_not_move_the_schedule() -> None:
    before = make("nightly", every(start_at=T0 + timedelta(days=1)))
    api.run_now("nightly")
    job = api.get("nightly")
    assert (job.state, job.next_run_at, job.attempt_count) == ("active", before.next_run_at, 0)


def test_run_now_records_the_last_run() -> None:
    make("nightly", payload=[1, 2])
    run = api.run_now("nightly")
    job = api.get("nightly")
    assert (job.last_run_id, job.last_run_at) == (run.run_id, run.started_at)
    assert job.last_result == {"result": [1, 2]}
    assert job.last_error is None
    assert events("nightly")[-1] == "routine_run_completed"


def test_run_now_returns_the_run_when_the_target_failed() -> None:
    make("nightly", target=FAIL)
    run = api.run_now("nightly")
    assert (run.status, run.error) == ("failed", {"reason": "nope"})
    job = api.get("nightly")
    assert (job.state, job.last_error, job.attempt_count) == ("active", {"reason": "nope"}, 0)
    assert events("nightly")[-1] == "routine_run_failed"


def test_run_now_with_a_cancelled_outcome() -> None:
    make("nightly", target={"type": "run", "outcome": "cancelled", "cancel_reason": "holiday"})
    run = api.run_now("nightly")
    assert (run.status, run.error) == ("cancelled", "holiday")


@pytest.mark.parametrize("state", ["active", "paused", "completed", "exhausted"])
def test_run_now_is_allowed_in(state: str) -> None:
    before = in_state("j", state)
    assert api.run_now("j").status == ("failed" if state == "exhausted" else "completed")
    after = api.get("j")
    assert (after.state, after.next_run_at) == (before.state, before.next_run_at)


@pytest.mark.parametrize(
    ("state", "error"), [("cancelled", JobTerminal), ("running", JobBusy), ("retry_waiting", JobBusy)]
)
def test_run_now_is_refused_in(state: str, error: type) -> None:
    in_state("j", state)
    before = snapshot()
    with pytest.raises(error):
        api.run_now("j")
    assert snapshot() == before


def test_run_now_of_an_unknown_job_raises_not_found() -> None:
    with pytest.raises(NotFound):
        api.run_now("ghost")


# clear and ensure_tables -------------------------------------------------------------------------


def test_clear_deletes_all_jobs_runs_and_events() -> None:
    in_state("a", "completed")
    make("b")
    api.clear()
    assert snapshot() == ([], [], 0)


def test_ensure_tables_is_idempotent() -> None:
    api.ensure_tables()
    api.ensure_tables()
    assert Job._meta.db_table in connection.introspection.table_names()


@pytest.mark.processes
@pytest.mark.skipif(connection.vendor != "sqlite", reason="creates a fresh SQLite file in a child process")
def test_ensure_tables_creates_the_tables_in_an_empty_database(tmp_path: Path) -> None:
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "from routines import api\n"
        "api.ensure_tables(); api.ensure_tables()\n"
        "print(sorted(connection.introspection.table_names()))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "ROUTINES_TEST_SUFFIX": f"ensure-{os.getpid()}"}
    env.pop("ROUTINES_USE_TEST_DB", None)
    env["TMPDIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert {"routines_job", "routines_run", "routines_event"} <= set(ast.literal_eval(out.stdout))


def test_times_returned_are_aware_utc() -> None:
    job = make("nightly", once("2026-01-01T13:00:00+01:00"))
    stored = api.get("nightly")
    for value in (job.next_run_at, stored.next_run_at, stored.created_at, stored.schedule["at"]):
        assert value.utcoffset() == timedelta(0)
    assert stored.next_run_at.astimezone(UTC) == T0


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner uses indexes even on tiny tables")
@pytest.mark.parametrize("query", ["next_due_at", "list_due"])
def test_the_due_queries_are_index_backed(query: str) -> None:
    from routines.states import DUE_STATES

    if query == "next_due_at":
        qs = Job.objects.filter(state__in=DUE_STATES, next_run_at__isnull=False).order_by("next_run_at")[:1]
    else:
        qs = api.due_jobs({"at": T0})
    plan = qs.explain()
    assert "SCAN routines_job" not in plan
    assert "USING" in plan and "INDEX" in plan


def test_naive_times_are_read_in_the_current_time_zone() -> None:
    with timezone.override("Europe/Paris"):
        job = make("paris", once("2026-07-01T14:00:00"), next_run_at=datetime(2026, 7, 1, 15, 0))
    assert job.schedule["at"] == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert job.next_run_at == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


def test_times_inside_the_journal_are_iso_strings() -> None:
    make("j")
    api.update("j", {"schedule": once(T0 + MINUTE)})
    event = Event.objects.get(job_id="j", event_type="routine_updated")
    assert event.payload["schedule"] == {"type": "once", "at": "2026-01-01T12:01:00Z"}
