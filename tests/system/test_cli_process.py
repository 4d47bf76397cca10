"""``manage.py routines`` as a real process: exit statuses, one-line errors on stderr, stdout for data."""

from __future__ import annotations

import json
import os

import pytest

from routines import api
from tests.support.cli import routines_process
from tests.support.jobs import EARLY, every, make, once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]

# Errors in the command line itself are refused before any query: CI checks them on SQLite only.
PARSING = pytest.mark.db_independent

JOB = {"job_id": "nightly", "schedule": {"type": "once", "at": "2026-01-01T12:00:00Z"}, "target": {"type": "run"}}


def test_a_successful_subcommand_exits_0_with_its_json_on_stdout() -> None:
    make("a", every())
    done = routines_process("list", "--json")
    assert done.returncode == 0, done.stderr
    assert [r["job_id"] for r in json.loads(done.stdout)] == ["a"]
    assert done.stderr == ""


def test_create_reads_stdin_in_a_real_process() -> None:
    done = routines_process("create", "--json", stdin=json.dumps(JOB))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["job_id"] == "nightly"
    assert api.get("nightly").state == "active"


@pytest.mark.parametrize(
    ("args", "stdin", "line"),
    [
        (["show", "nope"], "", "routines: error: job_id: job 'nope' not found"),
        (["pause", "nope"], "", "routines: error: job_id: job 'nope' not found"),
        pytest.param(
            ["due", "--at", "soon"], "", "routines: error: --at: 'soon' is not an ISO 8601 datetime", marks=PARSING
        ),
        pytest.param(["create"], "{not json", "routines: error: --file: standard input is not JSON: ", marks=PARSING),
        (["create"], json.dumps({**JOB, "colour": 1}), "routines: error: colour: "),
        pytest.param(
            ["list", "--limit", "0"],
            "",
            "routines: error: argument --limit: '0' is not a positive integer",
            marks=PARSING,
        ),
        pytest.param(["list", "--bogus"], "", "routines: error: unrecognized arguments: --bogus", marks=PARSING),
        pytest.param([], "", "routines: error: the following arguments are required: SUBCOMMAND", marks=PARSING),
    ],
)
def test_errors_are_one_line_on_stderr_with_exit_1(args: list[str], stdin: str, line: str) -> None:
    done = routines_process(*args, stdin=stdin)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(line), done.stderr
    assert "Traceback" not in done.stderr


def test_a_partly_failed_batch_prints_what_succeeded_and_exits_1() -> None:
    make("a", every())
    done = routines_process("cancel", "a", "nope")
    assert done.returncode == 1
    assert done.stdout.strip() == "cancelled a (cancelled)"
    assert done.stderr.strip() == "routines: error: job_id: job 'nope' not found"


@PARSING
def test_help_describes_every_subcommand_and_exits_0() -> None:
    done = routines_process("--help")
    assert done.returncode == 0
    for name in ("list", "show", "due", "next-due", "pause", "resume", "cancel", "run-now", "create"):
        assert f"    {name} " in done.stdout
    sub = routines_process("due", "--help")
    assert sub.returncode == 0 and "(default: 100)" in sub.stdout and "epoch milliseconds" in sub.stdout


def test_an_unreachable_database_is_one_line_and_exit_1() -> None:
    if os.environ.get("ROUTINES_TEST_DB", "sqlite") != "postgres":
        pytest.skip("an unreachable server is a PostgreSQL matter")
    done = routines_process("list", env={"ROUTINES_TEST_PG_PORT": "1"})
    assert done.returncode == 1
    assert done.stderr.startswith("routines: error: database error: ") and done.stderr.count("\n") == 1


@PARSING
def test_check_with_a_bad_max_late_exits_1_not_2() -> None:
    done = routines_process("check", "--max-late", "ten minutes")
    assert done.returncode == 1
    assert done.stderr.startswith("routines: error: argument --max-late: ") and done.stderr.count("\n") == 1


def test_check_exit_status_is_0_when_nothing_is_late_and_2_when_a_job_is() -> None:
    fresh = routines_process("check")
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.startswith("ok: nothing is late")
    make("stale", once(EARLY))
    late = routines_process("check", "--max-late", "10m", "--json")
    assert late.returncode == 2, late.stderr
    assert json.loads(late.stdout)["late_jobs"][0]["job_id"] == "stale"
    assert routines_process("check", "--max-late", "36000d").returncode == 0
