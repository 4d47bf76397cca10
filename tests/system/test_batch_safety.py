"""Every job of a batch is safe when its runner is killed, paused, or hit by a bad target.

Real ``run_due`` processes and real signals, on whichever database the suite runs on. Each
execution appends a line to a file from inside the target (``tests.support.callables.logged``), so the
counts below do not trust our own Run rows.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routines import api
from routines.clock import db_now
from routines.models import Event, Run
from tests.support.jobs import once
from tests.support.processes import start, wait_for

SLOW = 0.4

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
TTL_MS = "1500"


def logged(log: Path, seconds: float = 0.0, until: Path | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"log": str(log), "seconds": seconds}
    if until is not None:
        kwargs["until"] = str(until)
    return {"type": "callable", "path": "tests.support.callables.logged", "kwargs": kwargs}


def lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def starts(log: Path) -> Counter[str]:
    return Counter(words[1] for words in lines(log) if words[0] == "start")


def due_jobs(log: Path, names: list[str], seconds: dict[str, float], **extra: Any) -> None:
    at = db_now() - timedelta(seconds=10)
    for i, name in enumerate(names):
        target = logged(log, seconds.get(name, 0.0))
        api.create({"job_id": name, "schedule": once(at + timedelta(milliseconds=i)), "target": target, **extra})


def finish(proc: Any, timeout: float = 60) -> str:
    out, err = proc.communicate(timeout=timeout)
    return f"{out}\n{err}"


def test_a_runner_killed_mid_target_costs_only_the_job_in_hand(tmp_path: Path) -> None:
    """Fast jobs grow the batch; the slow one is killed: the batch's unstarted jobs still run once."""
    log = tmp_path / "log"
    names = [f"a{i:02d}" for i in range(12)] + ["slow"] + [f"z{i:02d}" for i in range(8)]
    due_jobs(log, names, {"slow": 30})
    victim = start("--runner-id", "victim", "--claim-ttl-ms", TTL_MS)
    try:
        wait_for(lambda: starts(log)["slow"], what="the slow target to start")
        time.sleep(0.5)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
    time.sleep(float(TTL_MS) / 1000 + 0.2)
    rescuer = start("--runner-id", "rescuer")
    out = finish(rescuer)
    assert rescuer.returncode == 0, out
    assert starts(log) == Counter(dict.fromkeys(names, 1)), "every job executed exactly once"
    assert api.get("slow").state == "exhausted"
    assert Run.objects.get(job_id="slow").error == {"reason": "lease_expired"}
    others = [n for n in names if n != "slow"]
    assert {api.get(n).state for n in others} == {"completed"}
    # No failed Run and no extra attempt for the jobs whose target never started before the kill.
    assert set(Run.objects.filter(job_id__in=others).values_list("status", "attempt")) == {("completed", 1)}
    assert list(Event.objects.filter(event_type="routine_lease_expired").values_list("job_id", flat=True)) == ["slow"]


def test_a_paused_runner_never_starts_claims_it_lost(tmp_path: Path) -> None:
    """SIGSTOP past the lease, a second runner takes over, SIGCONT: the first executes nothing new."""
    log = tmp_path / "log"
    names = [f"j{i:03d}" for i in range(300)]
    due_jobs(log, names, dict.fromkeys(names, 0.005), retry_policy={"max_attempts": 3})
    paused = start("--runner-id", "paused", "--claim-ttl-ms", "1000")
    try:
        wait_for(lambda: sum(starts(log).values()) >= 30, what="the first runner to get going")
        paused.send_signal(signal.SIGSTOP)
        stopped = len(lines(log))
        time.sleep(1.5)
        taker = start("--runner-id", "taker", "--claim-ttl-ms", "5000")
        out = finish(taker)
        assert taker.returncode == 0, out
        resumed = len(lines(log))
        paused.send_signal(signal.SIGCONT)
        out = finish(paused)
        assert paused.returncode == 0, out
    finally:
        if paused.poll() is None:
            paused.send_signal(signal.SIGCONT)
            paused.kill()
    after = [words for words in lines(log)[resumed:] if words[3] == str(paused.pid)]
    assert [w[0] for w in after] in ([], ["end"]), f"the paused runner executed lost claims: {after}"
    assert stopped <= resumed
    states = Counter(api.get(n).state for n in names)
    assert states == {"completed": len(names)}
    counts = starts(log)
    assert set(counts) == set(names)
    # At most the job in hand and the outcomes not yet written at the pause ran twice.
    assert sum(n - 1 for n in counts.values()) <= 50


@pytest.mark.parametrize("path", ["tests.support.callables.exits", "tests.support.callables.interrupts"])
def test_a_target_that_exits_or_interrupts_fails_its_run_only(tmp_path: Path, path: str) -> None:
    log = tmp_path / "log"
    at = db_now() - timedelta(seconds=10)
    api.create({"job_id": "poison", "schedule": once(at), "target": {"type": "callable", "path": path}})
    api.create({"job_id": "after", "schedule": once(at + timedelta(seconds=1)), "target": logged(log)})
    proc = start("--runner-id", "r1")
    out = finish(proc)
    assert proc.returncode == 0, out
    assert "run_due: 2 executed (1 completed, 1 failed)" in out
    run = Run.objects.get(job_id="poison")
    assert run.status == "failed"
    assert run.error["type"] == ("SystemExit" if path.endswith("exits") else "KeyboardInterrupt")
    assert api.get("poison").state == "exhausted"
    assert starts(log) == {"after": 1}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_plain_run_due_stops_on_a_signal_after_the_job_in_hand(tmp_path: Path, signum: int) -> None:
    log = tmp_path / "log"
    names = ["first", "second", "third"]
    release = tmp_path / "release"
    due_jobs(log, names, {})
    api.update("first", {"target": logged(log, 60, until=release)})
    proc = start("--runner-id", "r1")
    wait_for(lambda: starts(log)["first"], what="the first target")
    proc.send_signal(signum)
    time.sleep(0.2)  # let the handler run while the target is still in hand
    release.touch()
    out = finish(proc)
    assert proc.returncode == 0, out
    assert [w[0] + " " + w[1] for w in lines(log)] == ["start first", "end first"]
    assert api.get("first").state == "completed"
    for name in ("second", "third"):
        job = api.get(name)
        assert (job.state, job.attempt_count, job.current_run_id) == ("active", 0, None)
    assert not Run.objects.filter(job_id__in=["second", "third"]).exists()


def test_a_hung_target_holds_only_its_own_job(tmp_path: Path) -> None:
    """While one runner is stuck in a target, a second runner executes everything else, at once."""
    log = tmp_path / "log"
    names = [f"a{i:02d}" for i in range(10)] + ["hung"] + [f"z{i:02d}" for i in range(10)]
    release = tmp_path / "release"
    due_jobs(log, names, {})
    api.update("hung", {"target": logged(log, 60, until=release)})  # it ends when the test says
    stuck = start("--runner-id", "stuck", "--claim-ttl-ms", "60000")
    try:
        wait_for(lambda: starts(log)["hung"], what="the hung target")
        # Finished means recorded: what ran before the hung target is in the database already.
        began = time.monotonic()
        wait_for(
            lambda: Run.objects.filter(job_id__startswith="a", status="completed").count() == 10,
            timeout=2,
            what="the finished runs to be written",
        )
        assert time.monotonic() - began < 2
        second = start("--runner-id", "second")
        out = finish(second, timeout=30)
        assert second.returncode == 0, out
        assert stuck.poll() is None, "the hung target is still running"
        assert {api.get(n).state for n in names if n != "hung"} == {"completed"}
        assert api.get("hung").state == "running"
        release.touch()
        out = finish(stuck)
        assert stuck.returncode == 0, out
    finally:
        if stuck.poll() is None:
            stuck.kill()
    assert starts(log) == Counter(dict.fromkeys(names, 1))
    assert api.get("hung").state == "completed"


def test_a_stuck_target_with_a_timeout_fails_and_run_due_exits(tmp_path: Path) -> None:
    log = tmp_path / "log"
    at = db_now() - timedelta(seconds=10)
    api.create({"job_id": "stuck", "schedule": once(at), "target": logged(log, 600), "timeout_ms": 1000})
    api.create({"job_id": "next", "schedule": once(at + timedelta(seconds=1)), "target": logged(log)})
    began = time.monotonic()
    proc = start("--runner-id", "r1")
    out = finish(proc, timeout=30)
    assert proc.returncode == 0, out
    assert time.monotonic() - began < 20
    run = Run.objects.get(job_id="stuck")
    assert (run.status, run.error) == ("failed", {"reason": "timeout", "timeout_ms": 1000})
    assert api.get("stuck").state == "exhausted"
    assert api.get("next").state == "completed"
    assert starts(log) == {"stuck": 1, "next": 1}
    assert os.path.exists(log)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.lists(st.booleans(), min_size=1, max_size=5),  # True: a slow target
    victim=st.integers(min_value=0, max_value=4),
    phase=st.sampled_from(["before", "while", "after"]),
)
def test_a_crash_anywhere_in_a_batch_loses_nothing_and_charges_only_started_work(
    tmp_path_factory: pytest.TempPathFactory, plan: list[bool], victim: int, phase: str
) -> None:
    """Kill the runner before any target, while target ``victim`` runs, or after the last one;
    then let another runner take over. Every slot runs, and no job is charged an attempt it did
    not execute; jobs that had not started execute exactly once."""
    api.clear()
    log = tmp_path_factory.mktemp("crash") / "log"
    victim = min(victim, len(plan) - 1) if phase == "while" else len(plan) - 1
    plan[victim] = plan[victim] or phase == "while"
    names = [f"j{i}" for i in range(len(plan))]
    seconds = {name: SLOW if slow else 0.0 for name, slow in zip(names, plan, strict=True)}
    due_jobs(log, names, seconds, retry_policy={"max_attempts": 3, "backoff_ms": 0})
    proc = start("--runner-id", "victim", "--claim-ttl-ms", "1000")
    try:
        if phase == "before":
            time.sleep(0.05)  # the process is still importing Django
        else:
            mark = "start" if phase == "while" else "end"
            wait_for(lambda: [mark, names[victim]] in [w[:2] for w in lines(log)], what=f"{mark} of {names[victim]}")
            if phase == "while":
                time.sleep(SLOW / 3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    started = starts(log)
    time.sleep(1.2)  # the victim's leases lapse
    rescuer = start("--runner-id", "rescuer")
    out = finish(rescuer)
    assert rescuer.returncode == 0, out
    total = starts(log)
    assert {api.get(n).state for n in names} == {"completed"}, "every slot ran"
    charged = Counter(Run.objects.filter(error={"reason": "lease_expired"}).values_list("job_id", flat=True))
    for name in names:
        assert charged[name] <= started[name], f"{name} was charged an attempt it did not execute"
        assert total[name] <= started[name] + 1
        if not started[name]:
            assert total[name] == 1, f"{name} had not started: it runs exactly once"
