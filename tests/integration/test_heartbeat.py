"""routines.heartbeat: leases stay alive while one long target runs.

First the thread's timing on its own (a recording tick), then a real
``run_due`` whose target outlives its lease several times over while a second runner tries to
rescue it, and the same across real OS processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from routines import api, targets
from routines.clock import db_now
from routines.heartbeat import Heartbeat
from routines.models import Event, Job, Run
from routines.targets import Context, Executor, Outcome
from tests.support.jobs import make, once

SECOND = timedelta(seconds=1)


class Recorder:
    """The tick the heartbeat calls, recording when."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[float] = []
        self.fail = fail

    def __call__(self) -> None:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.fail:
            raise RuntimeError("database unavailable")


def heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "routines-heartbeat"]


def test_never_armed_starts_no_thread_and_ticks_never() -> None:
    tick = Recorder()
    with Heartbeat(tick, interval=0.02):
        time.sleep(0.2)
        assert heartbeat_threads() == []
    assert tick.calls == []


def test_armed_it_ticks_every_interval_until_disarmed() -> None:
    tick = Recorder()
    with Heartbeat(tick, interval=0.05) as beat:
        beat.arm()
        time.sleep(0.5)
        beat.disarm()
        count = len(tick.calls)
        time.sleep(0.3)
    assert 5 <= count <= 12
    assert len(tick.calls) == count  # disarmed: no more ticks
    assert heartbeat_threads() == []  # stopped with the block


def test_a_failed_tick_is_logged_and_the_next_one_still_comes(caplog: pytest.LogCaptureFixture) -> None:
    tick = Recorder(fail=1)
    with Heartbeat(tick, interval=0.05) as beat:
        beat.arm()
        time.sleep(0.3)
    assert len(tick.calls) >= 2
    assert "the runner's heartbeat failed: database unavailable" in caplog.text


def test_stop_returns_promptly_while_the_thread_waits() -> None:
    beat = Heartbeat(Recorder(), interval=600)
    beat.arm()
    began = time.monotonic()
    beat.stop()
    assert time.monotonic() - began < 1
    assert heartbeat_threads() == []


# A real run_due -----------------------------------------------------------------------------------


class OutlivesLease(Executor):
    """Sleeps past its lease, then (``rival``) lets a second runner try to take the job over."""

    seen: dict[str, Any] = {}

    def validate(self, target: dict[str, Any]) -> dict[str, Any]:
        return {"type": "outlives", "seconds": target.get("seconds", 1), "rival": target.get("rival", True)}

    def execute(self, context: Context) -> Outcome:
        OutlivesLease.seen["threads"] = heartbeat_threads()
        time.sleep(context.target["seconds"])
        OutlivesLease.seen["lease"] = Job.objects.get(job_id=context.job_id).lease_expires_at
        OutlivesLease.seen["now"] = db_now()
        if context.target["rival"]:
            OutlivesLease.seen["rival"] = api.run_due({"runner_id": "rival"})
        return Outcome(result={"slept": context.target["seconds"]})


@pytest.fixture
def outlives() -> Iterator[None]:
    targets.register("outlives", OutlivesLease())
    OutlivesLease.seen = {}
    yield
    targets.unregister("outlives")


@pytest.mark.django_db(transaction=True)
def test_a_target_longer_than_its_lease_is_not_rescued_while_it_runs(outlives: None) -> None:
    make("long", once(db_now() - SECOND), {"type": "outlives", "seconds": 2.0})
    [result] = api.run_due({"claim_ttl_ms": 800, "runner_id": "owner"})
    seen = OutlivesLease.seen
    assert len(seen["threads"]) == 1
    assert seen["lease"] > seen["now"], "the lease lapsed while the target ran"
    assert seen["rival"] == []  # nothing to rescue: the runner is alive
    assert result.run.status == "completed"
    assert list(Run.objects.filter(job_id="long").values_list("runner_id", "status")) == [("owner", "completed")]
    assert not Event.objects.filter(event_type="routine_lease_expired").exists()
    assert api.get("long").state == "completed"


@pytest.mark.django_db
def test_inside_a_callers_transaction_no_heartbeat_runs(outlives: None) -> None:
    """The test's transaction hides the claim from every other connection: nothing to renew."""
    make("long", once(db_now() - SECOND), {"type": "outlives", "seconds": 0.3, "rival": False})
    [result] = api.run_due({"claim_ttl_ms": 200})
    assert result.run.status == "completed"
    assert OutlivesLease.seen["threads"] == []
    assert OutlivesLease.seen["lease"] < OutlivesLease.seen["now"]  # nobody renewed it


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_long_target_in_another_process_keeps_its_job(tmp_path: Path) -> None:
    """A runner process executes a 3 s target on a 1 s lease while this process keeps calling
    run_due: the job is never rescued, and one Run, the owner's, completes it."""
    from tests.support.processes import start, wait_for

    make("long", once(db_now() - SECOND), {"type": "sleep", "seconds": 3})
    owner = start("--runner-id", "owner", "--claim-ttl-ms", "1000")
    try:
        wait_for(lambda: Run.objects.filter(job_id="long").exists(), what="the owner's claim")
        rescued = []
        while owner.poll() is None:
            rescued += api.run_due({"runner_id": "rival"})
            time.sleep(0.1)
        out, err = owner.communicate(timeout=30)
    finally:
        if owner.poll() is None:
            owner.kill()
    assert owner.returncode == 0, (out, err)
    assert rescued == []
    assert list(Run.objects.filter(job_id="long").values_list("runner_id", "status")) == [("owner", "completed")]
    assert api.get("long").state == "completed"
    assert not Event.objects.filter(event_type="routine_lease_expired").exists()
