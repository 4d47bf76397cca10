"""``manage.py routines`` in process: every subcommand's table, its ``--json`` and its one-line errors."""

from __future__ import annotations

import getpass
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError
from django.test import Client
from django.utils import timezone

from routines import api, schedules
from routines.models import Event, Job, Run
from routines.records import job_record, run_record
from tests.support.cli import routines
from tests.support.jobs import EARLY, FAIL, T0, every, in_state, make, once

pytestmark = pytest.mark.django_db

ACTOR = f"cli:{getpass.getuser()}"
JOB = {
    "job_id": "nightly",
    "schedule": {"type": "interval", "every_ms": 300_000, "start_at": "2026-01-01T12:00:00Z"},
    "target": {"type": "run"},
}


def error_of(*args: str, stdin: str | None = None) -> str:
    with pytest.raises(CommandError) as info:
        routines(*args, stdin=stdin)
    return str(info.value)


def actors(job_id: str, event_type: str) -> list[object]:
    return [e.payload.get("actor") for e in Event.objects.filter(job_id=job_id, event_type=event_type)]


# list ------------------------------------------------------------------------------------------


def test_list_prints_an_aligned_table_with_times_in_the_current_zone() -> None:
    make("a-long-job-id", every(300_000))
    make("b", once(T0))
    lines = routines("list").out.splitlines()
    assert lines[0].split() == ["JOB_ID", "STATE", "SCHEDULE", "TARGET", "RUNS", "NEXT", "RUN", "LAST", "RUN"]
    assert {line.split()[0] for line in lines[1:]} == {"a-long-job-id", "b"}
    starts = {line.index(line.split()[1]) for line in lines}  # the STATE column starts at one offset
    assert len(starts) == 1
    row = next(line for line in lines if line.startswith("b "))
    assert "once at 2026-01-01 12:00:00 UTC" in row and "2026-01-01 12:00:00 UTC" in row


def test_list_shows_the_runs_done_out_of_max_runs() -> None:
    make("a", every(60_000), max_runs=3)
    make("b", every(60_000))
    api.run_due({"now": T0})
    rows = {line.split()[0]: line.split() for line in routines("list").out.splitlines()[1:]}
    assert "1/3" in rows["a"] and "1/3" not in rows["b"]
    assert rows["b"][rows["b"].index("run") + 1] == "1"


def test_list_shows_times_in_the_active_time_zone() -> None:
    make("b", once(T0))
    with timezone.override("Europe/Paris"):
        assert "2026-01-01 13:00:00 CET" in routines("list").out


def test_list_json_is_the_rest_apis_records(staff_client: Client) -> None:
    make("a", once(T0), payload={"at": "x"}, metadata={"team": "ops"})
    api.run_due({"now": T0})
    [record] = routines("list", "--json").json
    assert record == staff_client.get("/api/routines/jobs/a/").json()


def test_list_filters_by_state_schedule_type_and_limit() -> None:
    make("a", once(T0))
    make("b", every(), state="paused")
    make("c", every())
    assert [r["job_id"] for r in routines("list", "--state", "paused", "--json").json] == ["b"]
    assert sorted(r["job_id"] for r in routines("list", "--schedule-type", "interval", "--json").json) == ["b", "c"]
    assert len(routines("list", "--limit", "2", "--json").json) == 2


def test_list_with_no_jobs_says_so_and_json_is_an_empty_list() -> None:
    assert routines("list").out.strip() == "no jobs"
    assert routines("list", "--json").json == []


@pytest.mark.parametrize(
    ("args", "flag"),
    [(["--limit", "0"], "--limit"), (["--limit", "x"], "--limit"), (["--state", "asleep"], "--state")],
)
def test_list_refuses_bad_flags_naming_them(args: list[str], flag: str) -> None:
    assert flag in error_of("list", *args)


# show ------------------------------------------------------------------------------------------


def test_show_prints_the_fields_and_the_latest_runs() -> None:
    make("a", every(60_000), payload={"n": 1})
    api.run_due({"now": T0})
    run = Run.objects.get()
    out = routines("show", "a").out
    assert out.splitlines()[1].split() == ["state", "active"]
    assert len({line.index(line.split()[1]) for line in out.split("\n\n")[0].splitlines()}) == 1  # aligned
    assert "every 1m" in out and '"every_ms": 60000' in out and '"start_at": "2026-01-01T12:00:00Z"' in out
    assert run.run_id in out and "completed" in out


def fields_of(out: str) -> dict[str, str]:
    """``show``'s name/value lines (before the runs table) as a dict."""
    head = out.split("\n\n")[0]
    return {name: value.strip() for name, value in (line.split(None, 1) for line in head.splitlines())}


def test_show_prints_the_scheduling_fields_and_the_description() -> None:
    schedule = {**every(300_000), "misfire": "skip", "misfire_grace_ms": 30_000, "jitter_ms": 20_000}
    end = T0 + timedelta(days=2)
    make("a", schedule, end_at=end, max_runs=10, concurrency_key="reports", concurrency_limit=2)
    until = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    api.pause("a", until)
    got = fields_of(routines("show", "a").out)
    assert got["description"] == schedules.describe(api.get("a").schedule, end_at=end, max_runs=10)
    assert got["description"].startswith("every 5 minutes ± 20 seconds, skipping missed runs")
    assert got["misfire"] == "skip, grace 30s"
    assert got["jitter"] == "20s"
    assert got["end_at"] == "2026-01-03 12:00:00 UTC"
    assert (got["max_runs"], got["run_count"]) == ("10", "0")
    assert got["paused_until"] == f"{until:%Y-%m-%d %H:%M:%S} UTC"
    assert (got["concurrency_key"], got["concurrency_limit"]) == ("reports", "2")


def test_show_prints_dashes_for_unset_scheduling_fields() -> None:
    make("a", once(T0))
    got = fields_of(routines("show", "a").out)
    assert got["description"] == "once at 01 Jan 2026 12:00 UTC"
    for name in ("misfire", "jitter", "end_at", "max_runs", "paused_until", "concurrency_key"):
        assert got[name] == "-", name
    assert (got["run_count"], got["concurrency_limit"]) == ("0", "1")


def test_show_json_is_the_rest_apis_record_scheduling_fields_included(staff_client: Client) -> None:
    make("a", every(), end_at=T0 + timedelta(days=1), max_runs=3, concurrency_key="k", concurrency_limit=4)
    record = routines("show", "a", "--json").json
    assert record == staff_client.get("/api/routines/jobs/a/").json()
    assert (record["max_runs"], record["run_count"], record["concurrency_key"], record["concurrency_limit"]) == (
        3,
        0,
        "k",
        4,
    )
    assert record["end_at"] == "2026-01-02T12:00:00Z" and record["paused_until"] is None


def test_show_json_is_api_get_as_a_record() -> None:
    make("a", once(T0))
    assert routines("show", "a", "--json").json == job_record(api.get("a"))


def test_show_of_an_unknown_job_names_job_id() -> None:
    assert error_of("show", "nope") == "job_id: job 'nope' not found"
    assert error_of("show", "bad id!").startswith("job_id: ")


# due and next-due ------------------------------------------------------------------------------


def test_due_lists_what_is_due_at_the_given_time_earliest_first() -> None:
    make("late", once(T0 + timedelta(hours=1)))
    make("early", once(T0))
    make("later", once(T0 + timedelta(days=1)))
    at = "2026-01-01T13:00:00Z"
    assert [r["job_id"] for r in routines("due", "--at", at, "--json").json] == ["early", "late"]
    assert [r["job_id"] for r in routines("due", "--at", at, "--limit", "1", "--json").json] == ["early"]
    lines = routines("due", "--at", at).out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["early", "late"]


def test_due_at_takes_epoch_milliseconds_and_naive_times_in_the_current_zone() -> None:
    make("a", once(T0))
    assert routines("due", "--at", "1767268800000", "--json").json[0]["job_id"] == "a"
    with timezone.override("Europe/Paris"):
        assert routines("due", "--at", "2026-01-01T12:59:59", "--json").json == []
        assert len(routines("due", "--at", "2026-01-01T13:00:00", "--json").json) == 1


def test_due_refuses_an_unreadable_at() -> None:
    assert error_of("due", "--at", "tomorrow") == "--at: 'tomorrow' is not an ISO 8601 datetime"
    assert error_of("due", "--at", "99999999999999999").startswith("--at: ")


def test_due_with_nothing_due_says_so() -> None:
    make("a", once(T0))
    assert routines("due", "--at", "2025-01-01T00:00:00Z").out.strip() == "nothing is due"


def test_next_due_prints_the_earliest_next_run() -> None:
    assert routines("next-due", "--json").json == {"next_due_at": None}
    assert routines("next-due").out.strip() == "nothing is scheduled"
    make("b", once(T0 + timedelta(hours=1)))
    make("a", once(T0))
    assert routines("next-due", "--json").json == {"next_due_at": "2026-01-01T12:00:00Z"}
    assert routines("next-due").out.strip() == "2026-01-01 12:00:00 UTC"


# pause, resume, cancel -------------------------------------------------------------------------


def test_pause_and_resume_change_every_job_given_and_journal_the_cli_as_actor() -> None:
    make("a", every())
    make("b", every())
    assert routines("pause", "a", "b").out.splitlines() == ["paused a (paused)", "paused b (paused)"]
    assert set(Job.objects.values_list("state", flat=True)) == {"paused"}
    assert actors("a", "routine_updated") == [ACTOR]
    records = routines("resume", "a", "b", "--json").json
    assert [(r["job_id"], r["state"]) for r in records] == [("a", "active"), ("b", "active")]
    assert actors("b", "routine_updated") == [ACTOR, ACTOR]


def test_pause_goes_on_past_a_failing_id_and_then_fails_naming_it() -> None:
    make("a", every())
    in_state("busy", "running")
    message = error_of("pause", "nope", "a", "busy")
    assert "job_id: job 'nope' not found" in message and "job_id: job 'busy' is running" in message
    assert api.get("a").state == "paused"


def test_cancel_cancels_and_records_the_actor() -> None:
    make("a", every())
    [record] = routines("cancel", "a", "--json").json
    assert record["state"] == "cancelled" and record == job_record(api.get("a"))
    assert actors("a", "routine_cancelled") == [ACTOR]


def test_resume_of_a_finished_job_names_it() -> None:
    in_state("done", "completed")
    assert error_of("resume", "done") == "job_id: job 'done' is completed"


# run-now ---------------------------------------------------------------------------------------


def test_run_now_runs_the_target_once_and_prints_the_run(staff_client: Client) -> None:
    make("a", every(), payload={"hello": "world"})
    result = routines("run-now", "a")
    run = Run.objects.get()
    assert result.out.strip() == f'{run.run_id} a completed: {{"hello": "world"}}'
    assert routines("run-now", "a", "--json").json == run_record(Run.objects.exclude(run_id=run.run_id).get())
    assert run_record(run) == staff_client.get(f"/api/routines/runs/{run.run_id}/").json()
    assert actors("a", "routine_run_completed") == [ACTOR, ACTOR]
    assert api.get("a").next_run_at == T0  # the schedule is untouched


def test_run_now_of_a_failing_target_prints_the_error_and_succeeds() -> None:
    make("a", every(), FAIL)
    assert routines("run-now", "a").out.strip().endswith('failed: {"reason": "nope"}')


def test_run_now_refusals_name_the_job() -> None:
    in_state("gone", "cancelled")
    assert error_of("run-now", "gone") == "job_id: job 'gone' is cancelled"
    assert error_of("run-now", "nope") == "job_id: job 'nope' not found"


# create ----------------------------------------------------------------------------------------


def test_create_reads_the_job_input_from_stdin() -> None:
    out = routines("create", stdin=json.dumps(JOB)).out.strip()
    assert out == "created nightly (active, next run 2026-01-01 12:00:00 UTC)"
    assert api.get("nightly").schedule["every_ms"] == 300_000
    assert actors("nightly", "routine_created") == [ACTOR]


def test_create_reads_a_file_and_json_prints_the_record(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(JOB))
    record = routines("create", "--file", str(path), "--json").json
    assert record == job_record(api.get("nightly"))


def test_create_with_an_existing_idempotency_key_returns_that_job() -> None:
    make("first", once(EARLY), idempotency_key="k")
    job = {**JOB, "idempotency_key": "k"}
    assert routines("create", stdin=json.dumps(job)).out.startswith("exists first")
    assert not Job.objects.filter(job_id="nightly").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "--file: standard input is not JSON: "),
        ("[1]", "input: the job input must be a JSON object"),
        (json.dumps({**JOB, "colour": "red"}), "colour: "),
        (json.dumps({**JOB, "schedule": {"type": "interval", "every_ms": 0}}), "schedule: "),
        (json.dumps({"job_id": "x", "target": {"type": "run"}}), "schedule: "),
    ],
)
def test_create_refuses_bad_input_naming_the_field(text: str, message: str) -> None:
    assert error_of("create", stdin=text).startswith(message)
    assert not Job.objects.exists()


def test_create_of_a_taken_job_id_names_it() -> None:
    make("nightly", once(T0))
    assert error_of("create", stdin=json.dumps(JOB)).startswith("job_id: ")


def test_create_from_a_missing_file_names_the_flag(tmp_path: Path) -> None:
    assert error_of("create", "--file", str(tmp_path / "none.json")).startswith("--file: cannot read ")


# the command itself ----------------------------------------------------------------------------


def test_a_subcommand_is_required() -> None:
    assert "SUBCOMMAND" in error_of()
    assert "invalid choice" in error_of("frobnicate")
