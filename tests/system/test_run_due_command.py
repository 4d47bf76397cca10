"""``manage.py run_due`` (SPEC §9): in-process through call_command, and as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from routines import api, targets
from routines.models import Event, Job, Run
from routines.targets import Context, Executor, Outcome
from tests.support.jobs import FAIL, T0, make, once

ROOT = Path(__file__).resolve().parents[2]


def run_due(*args: str) -> str:
    out = StringIO()
    call_command("run_due", *args, stdout=out)
    return out.getvalue().strip()


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child that works on this test's database."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "ROUTINES_USE_TEST_DB": "1", **extra}
    env["PYTHONPATH"] = str(ROOT)
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "django", "run_due", *args]


def run_child(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=ROOT, env=env or child_env(), capture_output=True, text=True, timeout=60)


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


# in process ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_prints_a_one_line_summary_and_succeeds_when_jobs_failed() -> None:
    make("ok", once(T0))
    make("bad", once(T0), FAIL)
    assert run_due("--now", "2026-01-01T12:00:00Z") == "run_due: 2 executed (1 completed, 1 failed)"
    assert run_due("--now", "2026-01-01T12:00:00Z") == "run_due: 0 executed"


@pytest.mark.django_db
def test_json_lists_each_execution() -> None:
    make("a", once(T0))
    [row] = json.loads(run_due("--json", "--now", "2026-01-01T12:00:00Z"))
    run = Run.objects.get()
    assert row == {
        "job_id": "a",
        "slot_at": "2026-01-01T12:00:00Z",
        "run_id": run.run_id,
        "status": "executed",
        "outcome": "completed",
    }
    assert json.loads(run_due("--json", "--now", "2026-01-01T12:00:00Z")) == []


def run_due_both(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("run_due", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", [[], ["--json"]])
def test_verbosity_0_is_silent_when_nothing_ran(fmt: list[str]) -> None:
    assert run_due_both("-v", "0", *fmt, "--now", "2026-01-01T12:00:00Z") == ("", "")


@pytest.mark.django_db
def test_verbosity_0_still_reports_what_ran() -> None:
    make("a", once(T0))
    assert run_due("-v", "0", "--now", "2026-01-01T12:00:00Z") == "run_due: 1 executed (1 completed)"


@pytest.mark.django_db
def test_verbosity_2_adds_a_line_per_run() -> None:
    make("a", once(T0))
    make("bad", once(T0), FAIL)
    lines = run_due("-v", "2", "--now", "2026-01-01T12:00:00Z").splitlines()
    assert lines[0] == "run_due: 2 executed (1 completed, 1 failed)"
    runs = {r.job_id: r.run_id for r in Run.objects.all()}
    assert sorted(lines[1:]) == sorted(
        [
            f"  a  slot 2026-01-01T12:00:00Z  run {runs['a']}  executed  completed",
            f"  bad  slot 2026-01-01T12:00:00Z  run {runs['bad']}  executed  failed",
        ]
    )


@pytest.mark.db_independent  # argparse's help: no query
def test_help_shows_the_defaults() -> None:
    out = subprocess.run(
        command("--help"), cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=60
    ).stdout
    text = " ".join(out.split())
    assert "(default: no limit)" in text
    assert "(default: host:pid)" in text
    assert "ROUTINES['CLAIM_TTL_MS'], now 60000" in text
    assert "ROUTINES['LOOP_MAX_WAIT_SECONDS'], now 60" in text


@pytest.mark.django_db
def test_loop_says_at_start_up_what_it_does() -> None:
    out, err = run_due_both("--loop", "--max-wait", "7", "--runner-id", "web-1", "--now", "1767268800000")
    assert out == ""
    assert err.strip() == (
        "run_due: looping as runner web-1, waking at the next due time or every 7 s at most; "
        "SIGTERM or Ctrl-C stops it after the job in hand"
    )
    assert run_due_both("-v", "0", "--loop", "--now", "1767268800000") == ("", "")


@pytest.mark.django_db
@pytest.mark.parametrize("now", ["1767268800000", "2026-01-01T12:00:00Z", "2026-01-01T13:00:00+01:00"])
def test_now_takes_iso_8601_or_epoch_ms(now: str) -> None:
    make("due", once(T0))
    make("later", once(T0 + timedelta(milliseconds=1)))
    assert [r["job_id"] for r in json.loads(run_due("--json", "--now", now))] == ["due"]


@pytest.mark.django_db
def test_limit_and_runner_id() -> None:
    for name in ("a", "b", "c"):
        make(name, once(T0))
    assert run_due("--limit", "2", "--runner-id", "cron-1", "--now", "1767268800000") == (
        "run_due: 2 executed (2 completed)"
    )
    assert set(Run.objects.values_list("runner_id", flat=True)) == {"cron-1"}


@pytest.mark.django_db
def test_claim_ttl_ms_sets_the_lease() -> None:
    seen: list[Any] = []

    class ProbeLease(Executor):
        def execute(self, context: Context) -> Outcome:
            seen.append(Job.objects.get(job_id=context.job_id).lease_expires_at)
            return Outcome()

    targets.register("probe_lease", ProbeLease())
    try:
        make("j", once(T0), {"type": "probe_lease"})
        run_due("--claim-ttl-ms", "5000", "--now", "1767268800000")
    finally:
        targets.unregister("probe_lease")
    [lease] = seen
    assert T0 + timedelta(seconds=5) <= lease < T0 + timedelta(seconds=65)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "--limit"),
        (["--limit", "-3"], "--limit"),
        (["--claim-ttl-ms", "-1"], "--claim-ttl-ms"),
        (["--claim-ttl-ms", "0"], "--claim-ttl-ms"),
        (["--now", "yesterday"], "--now"),
        (["--now", "-5"], "--now"),
        (["--now", "1.5"], "--now"),
        (["--now", "9999-12-31T23:59:59Z"], "now"),
        (["--loop", "--max-wait", "0"], "--max-wait"),
    ],
)
def test_bad_arguments_raise_command_error_and_run_nothing(args: list[str], message: str) -> None:
    make("j", once(T0))
    with pytest.raises(CommandError, match=message):
        run_due(*args)
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_loop_with_a_frozen_clock_makes_one_pass() -> None:
    make("j", once(T0))
    assert run_due("--loop", "--now", "1767268800000") == "run_due: 1 executed (1 completed)"


# real processes ----------------------------------------------------------------------------------

processes = pytest.mark.processes


@processes
@pytest.mark.django_db(transaction=True)
def test_a_real_process_runs_what_is_due() -> None:
    make("a", once(T0))
    out = run_child("--now", "2026-01-01T12:00:00Z")
    assert (out.returncode, out.stdout.strip(), out.stderr) == (0, "run_due: 1 executed (1 completed)", "")
    assert api.get("a").state == "completed"


@processes
@pytest.mark.django_db(transaction=True)
def test_json_from_a_real_process() -> None:
    make("a", once(T0))
    out = run_child("--json", "--now", "1767268800000")
    assert out.returncode == 0
    assert [row["job_id"] for row in json.loads(out.stdout)] == ["a"]


@processes
@pytest.mark.parametrize(
    "args",
    [
        ["--limit", "0"],
        ["--claim-ttl-ms", "-1"],
        ["--now", "not-a-time"],
        ["--limit", "many"],
        ["--max-wait", "-1", "--loop"],
        ["--runner-id", ""],
        ["--max-wait", "5"],
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line_and_no_traceback(args: list[str]) -> None:
    out = run_child(*args)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stdout == ""


@processes
@pytest.mark.parametrize("args", [[], ["--loop"]])
def test_an_unreachable_database_exits_non_zero_with_one_line(args: list[str]) -> None:
    pytest.importorskip("psycopg", reason="needs the PostgreSQL driver to point at a closed port")
    env = child_env(ROUTINES_TEST_DB="postgres", ROUTINES_TEST_PG_PORT="1", ROUTINES_TEST_PG_HOST="127.0.0.1")
    out = run_child(*args, env=env)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "database" in out.stderr


@pytest.fixture
def loop_process() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            command("--loop", *args),
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_loop_exits_0_on_a_signal_after_the_job_in_hand(
    loop_process: Callable[..., subprocess.Popen[str]], signum: int, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    target = {"type": "callable", "path": "tests.support.callables.logged", "kwargs": {"log": str(log), "seconds": 1.5}}
    make("slow", once(T0), target)
    make("next", once(T0 + timedelta(seconds=1)))
    proc = loop_process("--max-wait", "5")
    # The signal comes once the target has started: a claim whose target has not started yet is
    # given back on a signal instead (the Run is visible from the claim on, a little earlier).
    wait_for(lambda: log.exists() and log.read_text().startswith("start slow"))
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert Run.objects.get(job_id="slow").status == "completed"
    assert api.get("slow").state == "completed"
    assert api.get("next").state == "active"  # stopped before taking more work
    assert "Traceback" not in stderr
    assert stdout.strip() == "run_due: 1 executed (1 completed)"


@processes
@pytest.mark.django_db(transaction=True)
def test_loop_wakes_up_after_max_wait_to_find_new_work(loop_process: Callable[..., subprocess.Popen[str]]) -> None:
    proc = loop_process("--max-wait", "0.2")
    time.sleep(0.5)  # the loop found nothing and sleeps at most max-wait
    make("late", once(timezone.now()))
    wait_for(lambda: api.get("late").state == "completed")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr


@processes
@pytest.mark.django_db(transaction=True)
def test_loop_sleeps_until_the_next_due_time(loop_process: Callable[..., subprocess.Popen[str]]) -> None:
    make("soon", once(timezone.now() + timedelta(seconds=1)))
    proc = loop_process("--max-wait", "60")
    wait_for(lambda: api.get("soon").state == "completed")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr


@processes
@pytest.mark.django_db(transaction=True)
def test_the_job_of_a_killed_run_due_is_rescued_after_its_lease(
    loop_process: Callable[..., subprocess.Popen[str]],
) -> None:
    make("stuck", once(T0), {"type": "sleep", "seconds": 60}, retry_policy={"max_attempts": 1})
    proc = loop_process("--claim-ttl-ms", "1000", "--max-wait", "60")
    wait_for(lambda: Run.objects.filter(job_id="stuck", status="running").exists())
    proc.kill()  # SIGKILL: no chance to finish or give the claim back
    proc.wait(timeout=30)
    lease = api.get("stuck").lease_expires_at
    assert api.run_due({"now": lease + timedelta(seconds=1)}) == []
    job = api.get("stuck")
    run = Run.objects.get(job_id="stuck")
    assert (job.state, job.last_error) == ("exhausted", {"reason": "lease_expired"})
    assert (run.status, run.error) == ("failed", {"reason": "lease_expired"})
    assert Event.objects.filter(job_id="stuck", event_type="routine_lease_expired").count() == 1
