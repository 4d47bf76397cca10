"""Many runners as real OS processes on one database (SPEC §6 points 2, 3 and 5; issue 3).

The children are ``tests.support.process_driver`` processes running ``manage.py run_due`` against this
test's database. Server-only tests skip on SQLite; run them with ROUTINES_TEST_DB=postgres or
ROUTINES_TEST_DB=mysql.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from routines import api
from routines.clock import db_now
from routines.models import Event, Job, Run
from routines.runner import Runner
from tests.support.jobs import make, once
from tests.support.processes import NOW, SLOTS, T0, allow_connections, create_workload, cut_connections, start, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

SECOND = timedelta(seconds=1)


@pytest.fixture
def server() -> str:
    """The vendor of a database server with its own clock; SQLite has none and skips."""
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip("needs PostgreSQL or MariaDB/MySQL (ROUTINES_TEST_DB=postgres|mysql)")
    return connection.vendor


def sleeping(seconds: float) -> dict[str, Any]:
    return {"type": "sleep", "seconds": seconds}


def communicate(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (stdout, stderr)
    assert "Traceback" not in (stderr or ""), stderr
    return stdout


def running_run(job_id: str, runner: subprocess.Popen[str]) -> Run:
    """The Run ``runner`` is executing for ``job_id``, once it is claimed (fails fast if it died)."""

    def claimed() -> Run | None:
        run = Run.objects.filter(job_id=job_id, status="running").first()
        if run is None and runner.poll() is not None:
            output = runner.stdout.read() if runner.stdout else ""
            errors = runner.stderr.read() if runner.stderr else ""
            raise AssertionError(f"the runner exited with {runner.returncode} before claiming: {output}{errors}")
        return run

    return wait_for(claimed, what=f"a running Run of {job_id}")


def wait_until_lease_expired(job_id: str) -> None:
    lease = Job.objects.get(job_id=job_id).lease_expires_at
    assert lease is not None
    wait_for(lambda: db_now() > lease, what="the lease to expire")


def event_types(job_id: str) -> list[str]:
    return list(Event.objects.filter(job_id=job_id).order_by("id").values_list("event_type", flat=True))


# Many runners on one workload -------------------------------------------------------------------


def test_many_processes_run_every_due_slot_exactly_once(tmp_path: Path) -> None:
    """5,000 due jobs (once, once failing with a retry, interval with catch-up) and 4 runners on a
    server; on SQLite, whose single writer makes this slow, 1,000 jobs and 2 runners (its 4-runner
    test on a small workload is in test_sqlite_processes.py)."""
    sqlite = connection.vendor == "sqlite"
    n, processes = (1000, 2) if sqlite else (5000, 4)
    workload = create_workload(n)
    go = tmp_path / "go"
    procs = [start("--now", NOW.isoformat(), "--runner-id", f"p{i}", go=go) for i in range(processes)]
    go.touch()
    outputs = [communicate(p, timeout=120) for p in procs]

    executed = [int(re.match(r"run_due: (\d+) executed", out).group(1)) for out in outputs]  # type: ignore[union-attr]
    keys = Counter(Run.objects.values_list("job_id", "slot_at", "attempt"))
    assert {k: n for k, n in keys.items() if n > 1} == {}, "a (job, slot, attempt) ran twice"
    assert set(keys) == workload.expected, "a due slot was not run, or one ran that was not due"
    assert sum(executed) == len(keys)
    assert not Run.objects.filter(status="running").exists()
    assert not Run.objects.filter(finished_at__isnull=True).exists()
    states = Counter(Job.objects.values_list("schedule_type", "state"))
    assert states == {("interval", "active"): n // 2, ("once", "completed"): n * 2 // 5, ("once", "exhausted"): n // 10}
    nxt = set(Job.objects.filter(schedule_type="interval").values_list("next_run_at", flat=True))
    assert nxt == {T0 + SLOTS * SECOND}
    assert not Job.objects.exclude(current_run_id=None).exists()
    assert sum(n > 0 for n in executed) > 1, f"only one runner got any work: {executed}"


# Crash, takeover, stale finisher ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "retry_policy", "state"),
    [
        ("once", {"max_attempts": 2, "backoff_ms": 3_600_000}, "retry_waiting"),
        ("interval", {"max_attempts": 1}, "active"),
    ],
)
def test_a_killed_runners_slot_is_taken_over_after_its_lease_expires(
    schedule: str, retry_policy: dict[str, int], state: str
) -> None:
    now = db_now()
    sched = (
        once(now - SECOND)
        if schedule == "once"
        else {"type": "interval", "every_ms": 3_600_000, "start_at": now - SECOND}
    )
    make("crash", sched, sleeping(60), retry_policy=retry_policy)
    victim = start("--runner-id", "victim", "--claim-ttl-ms", "3000")
    dead = running_run("crash", victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    assert api.run_due({"runner_id": "early"}) == [], "took over a live lease"
    job = api.get("crash")
    assert (job.state, job.claimed_by, job.current_run_id) == ("running", "victim", dead.run_id)

    wait_until_lease_expired("crash")
    rescuer = start("--runner-id", "rescuer", "--json")
    assert json.loads(communicate(rescuer)) == []  # nothing due apart from the rescued slot

    dead.refresh_from_db()
    assert (dead.status, dead.error, dead.attempt) == ("failed", {"reason": "lease_expired"}, 1)
    assert dead.finished_at is not None
    job = api.get("crash")
    assert job.state == state
    assert job.last_error == {"reason": "lease_expired"}
    assert job.claimed_by is None
    types = event_types("crash")
    tail = types[types.index("routine_lease_expired") :]
    lease_event = Event.objects.get(job_id="crash", event_type="routine_lease_expired")
    assert lease_event.run_id == dead.run_id
    if state == "retry_waiting":
        assert tail == ["routine_lease_expired", "routine_run_failed", "routine_retry_scheduled"]
        assert (job.attempt_count, job.current_slot_at) == (1, dead.slot_at)
        assert job.next_run_at > db_now() + timedelta(minutes=59)
    else:
        assert tail == ["routine_lease_expired", "routine_run_failed"]
        assert (job.attempt_count, job.current_run_id) == (0, None)
        assert job.next_run_at > db_now() + timedelta(minutes=59)


def test_a_stale_finisher_closes_its_run_but_the_job_stays_the_newer_runners() -> None:
    """The victim's whole process freezes (SIGSTOP: a VM pause, a swap storm), heartbeat and all,
    long enough for its lease to expire and another runner to take the slot over."""
    make("late", once(db_now() - SECOND), sleeping(2.5), retry_policy={"max_attempts": 2})
    victim = start("--runner-id", "victim", "--claim-ttl-ms", "800")
    first = running_run("late", victim)
    victim.send_signal(signal.SIGSTOP)
    try:
        wait_until_lease_expired("late")
        newer = Runner(runner_id="newer")
        assert newer.rescue() == 1
        claims = newer.claim(10)
    finally:
        victim.send_signal(signal.SIGCONT)
    assert [(c.job["job_id"], c.attempt, c.slot_at) for c in claims] == [("late", 2, first.slot_at)]
    second = claims[0].run

    communicate(victim)  # the victim wakes up and tries to finish attempt 1
    first.refresh_from_db()
    assert (first.status, first.error) == ("failed", {"reason": "lease_expired"})
    assert first.finished_at is not None
    job = api.get("late")
    assert (job.state, job.current_run_id, job.claimed_by, job.attempt_count) == ("running", second.run_id, "newer", 2)

    newer.execute_batch(claims)
    job = api.get("late")
    assert (job.state, job.last_run_id, job.last_result, job.attempt_count) == (
        "completed",
        second.run_id,
        {"slept": 2.5},
        0,
    )
    completed = Event.objects.filter(job_id="late", event_type="routine_run_completed")
    assert list(completed.values_list("run_id", flat=True)) == [second.run_id]


# One clock for all hosts ------------------------------------------------------------------------


def skewed_runner(*, trust_local_clock: bool) -> list[dict[str, Any]]:
    env = {"ROUTINES_TEST_CLOCK_SKEW_SECONDS": "600"}
    if trust_local_clock:
        env["ROUTINES_TEST_LOCAL_CLOCK"] = "1"
    return json.loads(communicate(start("--runner-id", "skewed", "--json", **env)))


def test_a_runner_whose_clock_is_ahead_neither_steals_a_lease_nor_runs_a_slot_early(server: str) -> None:
    now = db_now()
    make("leased", once(now - SECOND))
    make("later", once(now + timedelta(minutes=5)))
    [held] = Runner(runner_id="holder", claim_ttl_ms=120_000).claim(10)

    assert skewed_runner(trust_local_clock=False) == []
    job = api.get("leased")
    assert (job.state, job.claimed_by, job.current_run_id) == ("running", "holder", held.run.run_id)
    assert api.get("later").state == "active"
    assert not Run.objects.filter(job_id="later").exists()
    assert "routine_lease_expired" not in event_types("leased")

    # The same host trusting its own clock would do both: what the database clock prevents.
    stolen = skewed_runner(trust_local_clock=True)
    assert [r["job_id"] for r in stolen] == ["later"]
    assert "routine_lease_expired" in event_types("leased")
    assert api.get("later").state == "completed"


def test_runs_are_stamped_with_the_database_clock(server: str) -> None:
    make("stamp", once(db_now() - SECOND))
    skewed_runner(trust_local_clock=False)
    run = Run.objects.get(job_id="stamp")
    assert run.finished_at is not None
    assert abs(run.started_at - db_now()) < timedelta(minutes=1)
    assert run.started_at.microsecond or run.finished_at.microsecond, "sub-second precision was lost"


# Connection hygiene -----------------------------------------------------------------------------


def test_run_due_loop_survives_a_database_outage(server: str, tmp_path: Path) -> None:
    """The loop's connection is cut while a target runs (and, on PostgreSQL, new connections are
    refused for a while): it logs, backs off, reconnects and carries on; nothing is lost."""
    make("slow", once(db_now() - SECOND), sleeping(1.5), retry_policy={"max_attempts": 2})
    log = tmp_path / "loop.log"
    loop = start("--loop", "--max-wait", "0.5", "--runner-id", "looper", "--claim-ttl-ms", "2000", log=log)
    try:
        running_run("slow", loop)
        if server == "postgresql":
            allow_connections(False)
        try:
            assert cut_connections() >= 1
            # Refused connections are an outage the loop backs off from; a cut alone is reconnected at once.
            outage = "database unavailable" if server == "postgresql" else "database connection lost"
            wait_for(lambda: outage in log.read_text(), what="the loop to report the outage")
        finally:
            if server == "postgresql":
                allow_connections(True)
        make("after", once(db_now()))
        wait_for(lambda: api.get("after").state == "completed", what="the loop to carry on")
        wait_for(lambda: api.get("slow").state == "completed", what="the cut-off slot to be retried")
        assert loop.poll() is None, log.read_text()
    finally:
        loop.send_signal(signal.SIGTERM)
        loop.wait(20)
    text = log.read_text()
    assert loop.returncode == 0, text
    assert "Traceback" not in text, text
    if server == "postgresql":
        assert re.search(r"database unavailable.*retrying in \d+ s", text), text
    runs = list(Run.objects.filter(job_id="slow").order_by("attempt").values_list("attempt", "status"))
    assert runs[-1] == (len(runs), "completed")


def test_db_now_reads_the_server_clock(server: str) -> None:
    before = datetime.now().astimezone()
    assert abs(db_now() - before) < timedelta(seconds=30)
    assert db_now().utcoffset() == timedelta(0)
