"""routines.runner through api.run_due: SPEC §6, with explicit clocks."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import fields
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from routines import api, signals, targets
from routines.batches import DueResult
from routines.exceptions import InvalidInput, JobBusy, JobTerminal
from routines.models import Event, Job, Run
from routines.retry import with_retry
from routines.runner import Runner
from routines.states import TERMINAL_STATES
from routines.targets import Context, Executor, Outcome
from tests.support.jobs import FAIL, MINUTE, RUN, T0, claim, events, every, make, once, snapshot

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


def run_due(now: Any, **opts: Any) -> list[DueResult]:
    return api.run_due({"now": now, **opts})


def scheduled_runs(job_id: str) -> list[tuple[Any, int, str]]:
    runs = Run.objects.filter(job_id=job_id, manual=False).order_by("slot_at", "attempt")
    return list(runs.values_list("slot_at", "attempt", "status"))


# once ------------------------------------------------------------------------------------------


def test_a_once_job_runs_and_completes() -> None:
    make("j", once(T0), payload={"n": 1})
    [result] = run_due(T0)
    job = api.get("j")
    assert (job.state, job.next_run_at, job.attempt_count) == ("completed", None, 0)
    assert job.completed_at is not None
    assert job.current_run_id is job.current_slot_at is job.last_error is None
    assert (job.last_run_id, job.last_result) == (result.run.run_id, {"n": 1})
    assert events("j") == ["routine_created", "routine_run_completed"]


def test_a_job_is_not_run_before_its_time() -> None:
    make("j", once(T0))
    assert run_due(T0 - timedelta(milliseconds=1)) == []
    assert api.get("j").state == "active"


def test_the_run_records_the_execution() -> None:
    make("j", once(T0), payload=[1], target={"type": "run", "scope": "digest"})
    [result] = run_due(T0, runner_id="worker-1")
    run = Run.objects.get(run_id=result.run.run_id)
    assert run.run_id.startswith("run_")
    assert (run.job_id, run.kind, run.status, run.scope) == ("j", "routine", "completed", "digest")
    assert (run.input, run.result, run.error) == ([1], [1], None)
    assert (run.slot_at, run.attempt, run.manual, run.runner_id) == (T0, 1, False, "worker-1")
    assert run.started_at <= run.finished_at
    assert run.metadata["job_id"] == "j"
    assert run.metadata["slot_at"] == "2026-01-01T12:00:00Z"
    assert run.metadata["manual"] is False
    assert run.metadata["target_type"] == "run"


def test_run_opts_shape_the_run() -> None:
    target = {"type": "run", "run_opts": {"kind": "report", "input": {"q": 1}, "metadata": {"team": "ops"}}}
    make("j", once(T0), payload="p", target=target)
    [result] = run_due(T0)
    run = Run.objects.get(run_id=result.run.run_id)
    assert (run.kind, run.input, run.result) == ("report", {"q": 1}, "p")
    assert run.metadata["team"] == "ops"


def test_due_result_fields() -> None:
    make("j", once(T0))
    [result] = run_due(T0)
    assert [f.name for f in fields(DueResult)] == ["job_id", "slot_at", "run", "status", "outcome"]
    assert (result.job_id, result.slot_at, result.status, result.outcome) == ("j", T0, "executed", "completed")
    assert isinstance(result.run, Run)


# interval --------------------------------------------------------------------------------------


def test_an_interval_job_advances_to_now_plus_every_without_catch_up() -> None:
    make("j", every(60_000))
    late = T0 + 10 * MINUTE + 5 * SECOND
    [result] = run_due(late)
    job = api.get("j")
    assert result.slot_at == T0
    assert (job.state, job.next_run_at, job.attempt_count) == ("active", late + MINUTE, 0)


def test_catch_up_replays_missed_slots_in_one_call_oldest_first() -> None:
    make("j", every(60_000, catch_up=True))
    results = run_due(T0 + 3 * MINUTE + 30 * SECOND)
    assert [r.slot_at for r in results] == [T0 + i * MINUTE for i in range(4)]
    assert api.get("j").next_run_at == T0 + 4 * MINUTE


def test_one_call_does_not_chase_a_schedule_past_its_clock() -> None:
    make("j", every(1))
    assert len(run_due(T0 + MINUTE)) == 1
    assert api.get("j").next_run_at == T0 + MINUTE + timedelta(milliseconds=1)


def test_run_due_twice_does_not_run_a_slot_twice() -> None:
    make("once", once(T0))
    make("tick", every(60_000, catch_up=True))
    assert len(run_due(T0)) == 2
    assert run_due(T0) == []
    assert len(Run.objects.all()) == 2


def test_limit_bounds_the_runs_of_one_call() -> None:
    for name in ("a", "b", "c"):
        make(name, once(T0))
    assert [r.job_id for r in run_due(T0, limit=2)] == ["a", "b"]
    assert [r.job_id for r in run_due(T0, limit=2)] == ["c"]


def test_due_jobs_run_in_next_run_at_order() -> None:
    make("late", once(T0 + SECOND))
    make("early", once(T0))
    assert [r.job_id for r in run_due(T0 + MINUTE)] == ["early", "late"]


# failures, retries, exhaustion ---------------------------------------------------------------------


@pytest.fixture
def flaky() -> None:
    make("j", once(T0), FAIL, retry_policy={"max_attempts": 3, "backoff_ms": 30_000})


def test_a_failed_attempt_waits_for_the_backoff(flaky: None) -> None:
    [result] = run_due(T0)
    job = api.get("j")
    assert result.outcome == "failed"
    assert (job.state, job.next_run_at, job.attempt_count) == ("retry_waiting", T0 + 30 * SECOND, 1)
    assert (job.current_slot_at, job.last_error) == (T0, {"reason": "nope"})
    assert run_due(T0 + 29 * SECOND) == []
    assert events("j")[-2:] == ["routine_run_failed", "routine_retry_scheduled"]


def test_a_retry_keeps_the_slot_and_counts_the_attempt(flaky: None) -> None:
    run_due(T0)
    [retry] = run_due(T0 + 30 * SECOND)
    assert (retry.slot_at, retry.run.attempt) == (T0, 2)
    assert api.get("j").attempt_count == 2


def test_the_last_failed_attempt_exhausts_a_once_job(flaky: None) -> None:
    run_due(T0)
    run_due(T0 + 30 * SECOND)
    run_due(T0 + 60 * SECOND)
    job = api.get("j")
    assert (job.state, job.next_run_at, job.attempt_count) == ("exhausted", None, 0)
    assert job.completed_at is not None
    assert job.last_error == {"reason": "nope"}
    assert scheduled_runs("j") == [(T0, 1, "failed"), (T0, 2, "failed"), (T0, 3, "failed")]
    assert run_due(T0 + timedelta(days=1)) == []


def test_without_backoff_all_attempts_run_in_one_call() -> None:
    make("j", once(T0), FAIL, retry_policy={"max_attempts": 3})
    assert [r.run.attempt for r in run_due(T0)] == [1, 2, 3]
    assert api.get("j").state == "exhausted"


def test_an_exhausted_interval_slot_advances_to_the_next_slot() -> None:
    make("j", every(60_000, catch_up=True), FAIL, retry_policy={"max_attempts": 2})
    assert [(r.slot_at, r.run.attempt) for r in run_due(T0)] == [(T0, 1), (T0, 2)]
    job = api.get("j")
    assert (job.state, job.next_run_at, job.attempt_count) == ("active", T0 + MINUTE, 0)
    assert job.last_error == {"reason": "nope"}


def test_a_success_after_a_failure_clears_last_error() -> None:
    make("j", once(T0), FAIL, retry_policy={"max_attempts": 2, "backoff_ms": 1000})
    run_due(T0)
    Job.objects.filter(job_id="j").update(target=RUN)  # the outage is over
    run_due(T0 + SECOND)
    job = api.get("j")
    assert (job.state, job.last_error, job.last_result) == ("completed", None, {"result": None})


# run target outcomes ---------------------------------------------------------------------------


def test_a_cancelled_outcome_counts_as_success_with_the_cancel_reason() -> None:
    make("j", once(T0), {"type": "run", "outcome": "cancelled", "cancel_reason": "holiday"})
    [result] = run_due(T0)
    run = Run.objects.get(run_id=result.run.run_id)
    assert (result.outcome, run.status, run.error, run.result) == ("cancelled", "cancelled", "holiday", None)
    assert api.get("j").state == "completed"
    assert events("j")[-1] == "routine_run_cancelled"


def test_the_default_cancel_reason() -> None:
    make("j", once(T0), {"type": "run", "outcome": "cancelled"})
    [result] = run_due(T0)
    assert result.run.error == "routine cancelled"


def test_a_failed_outcome_records_the_targets_error() -> None:
    make("j", once(T0), {"type": "run", "outcome": "failed"})
    [result] = run_due(T0)
    run = Run.objects.get(run_id=result.run.run_id)
    assert (run.status, run.error, run.result) == ("failed", {"reason": "routine failed"}, None)


@pytest.mark.parametrize(
    ("result", "last_result"),
    [({"sent": 1}, {"sent": 1}), ([1, 2], {"result": [1, 2]}), ("ok", {"result": "ok"}), (None, {"result": None})],
)
def test_last_result_is_a_dict_result_or_wraps_it(result: Any, last_result: Any) -> None:
    make("j", once(T0), {"type": "run", "result": result})
    run_due(T0)
    assert api.get("j").last_result == last_result


def test_result_defaults_to_the_payload() -> None:
    make("j", once(T0), payload={"p": 1})
    [result] = run_due(T0)
    assert result.run.result == {"p": 1}


# exceptions in targets ---------------------------------------------------------------------------


def test_an_exception_in_a_target_is_recorded_and_other_jobs_still_run() -> None:
    make("a", once(T0), {"type": "boom", "message": "kaput"})
    make("b", once(T0))
    results = {r.job_id: r for r in run_due(T0)}
    assert results["a"].outcome == "failed"
    error = Run.objects.get(job_id="a").error
    assert (error["type"], error["message"]) == ("RuntimeError", "kaput") and "RuntimeError: kaput" in error[
        "traceback"
    ]
    assert results["b"].outcome == "completed"
    assert api.get("a").state == "exhausted"


class _Probe(Executor):
    """Looks at the database from inside an execution."""

    seen: dict[str, Any] = {}

    def execute(self, context: Context) -> Outcome:
        run = Run.objects.get(run_id=context.run_id)
        job = Job.objects.get(job_id=context.job_id)
        _Probe.seen = {
            "run": (run.status, run.slot_at, run.attempt),
            "job_state": job.state,
            "claim": (job.attempt_count, job.current_run_id == run.run_id, job.current_slot_at, job.claimed_by),
            "lease_ms": (job.lease_expires_at - run.started_at) // timedelta(milliseconds=1),
            "in_transaction": connection.in_atomic_block and not _in_test_transaction(),
            "context": (context.job_id, context.slot_at, context.attempt, context.manual, context.payload),
        }
        return Outcome(result=None)


class _BadResult(Executor):
    def execute(self, context: Context) -> Outcome:
        return Outcome(result={"when": object()})


class _NulResult(Executor):
    def execute(self, context: Context) -> Outcome:
        return Outcome(result={"text": "nul\x00"})


class _RaisesNul(Executor):
    def execute(self, context: Context) -> Outcome:
        raise ValueError("bad byte \x00 and \ud800 in the input")


class _NotAnOutcome(Executor):
    def execute(self, context: Context) -> Outcome:
        return "done"  # type: ignore[return-value]


def _in_test_transaction() -> bool:
    # pytest-django wraps each test in one atomic block; anything deeper is the runner's.
    return len(connection.savepoint_ids) == 0


@pytest.fixture
def registered() -> Iterator[None]:
    targets.register("probe", _Probe())
    targets.register("bad_result", _BadResult())
    targets.register("not_an_outcome", _NotAnOutcome())
    targets.register("nul_result", _NulResult())
    targets.register("raises_nul", _RaisesNul())
    yield
    for name in ("probe", "bad_result", "not_an_outcome", "nul_result", "raises_nul"):
        targets.unregister(name)


def test_an_exception_message_no_database_can_store_is_escaped(registered: None) -> None:
    make("a", once(T0), {"type": "raises_nul"})
    make("b", once(T0))
    results = {r.job_id: r.outcome for r in run_due(T0)}
    assert results == {"a": "failed", "b": "completed"}
    error = Run.objects.get(job_id="a").error
    assert (error["type"], error["message"]) == ("ValueError", "bad byte \\x00 and \\ud800 in the input")
    assert "\x00" not in error["traceback"]


def test_the_running_run_is_committed_before_the_target_executes_outside_a_transaction(registered: None) -> None:
    make("j", once(T0), {"type": "probe"}, payload=7)
    run_due(T0, runner_id="r1", claim_ttl_ms=5000)
    assert _Probe.seen == {
        "run": ("running", T0, 1),
        "job_state": "running",
        "claim": (1, True, T0, "r1"),
        "lease_ms": 5000,
        "in_transaction": False,
        "context": ("j", T0, 1, False, 7),
    }


@pytest.mark.parametrize(
    ("target", "error_type"),
    [("bad_result", "InvalidInput"), ("nul_result", "InvalidInput"), ("not_an_outcome", "TypeError")],
)
def test_a_target_returning_garbage_fails_its_run(registered: None, target: str, error_type: str) -> None:
    make("j", once(T0), {"type": target})
    [result] = run_due(T0)
    assert result.outcome == "failed"
    assert Run.objects.get(job_id="j").error["type"] == error_type


# leases, rescue and fencing ------------------------------------------------------------------------


def crash(job_id: str, ttl_ms: int = 1000) -> tuple[Run, Any]:
    """A runner claims ``job_id`` and dies before finishing; returns its Run and lease expiry."""
    run = claim(job_id, ttl_ms=ttl_ms)
    return run, api.get(job_id).lease_expires_at


def test_an_expired_lease_is_rescued_and_the_crashed_attempt_counts() -> None:
    make("j", once(T0), retry_policy={"max_attempts": 2})
    crashed, lease = crash("j")
    assert run_due(lease) == []  # not expired yet: the lease is live up to its end
    [retry] = run_due(lease + SECOND)
    crashed.refresh_from_db()
    assert (crashed.status, crashed.error) == ("failed", {"reason": "lease_expired"})
    assert crashed.finished_at is not None
    assert (retry.slot_at, retry.run.attempt, retry.outcome) == (T0, 2, "completed")
    assert events("j")[1:] == [
        "routine_lease_expired",
        "routine_run_failed",
        "routine_retry_scheduled",
        "routine_run_completed",
    ]


def test_a_rescued_job_without_attempts_left_is_exhausted() -> None:
    make("j", once(T0))
    _, lease = crash("j")
    assert run_due(lease + SECOND) == []
    job = api.get("j")
    assert (job.state, job.last_error) == ("exhausted", {"reason": "lease_expired"})
    assert scheduled_runs("j") == [(T0, 1, "failed")]


def test_a_rescued_interval_slot_advances_when_attempts_are_used_up() -> None:
    make("j", every(60_000, catch_up=True))
    _, lease = crash("j", ttl_ms=60_000)
    results = run_due(lease + SECOND)
    assert [(r.slot_at, r.run.attempt) for r in results] == [(T0 + MINUTE, 1)]
    assert scheduled_runs("j") == [(T0, 1, "failed"), (T0 + MINUTE, 1, "completed")]


def test_a_stale_finisher_is_fenced_out() -> None:
    make("j", once(T0), retry_policy={"max_attempts": 2})
    slow = Runner(now=T0, claim_ttl_ms=1000, runner_id="slow")
    claims = slow.claim(1)
    lease = api.get("j").lease_expires_at
    [rescuer] = run_due(lease + SECOND, runner_id="fast")
    job_after_rescue = api.get("j")
    [late] = slow.execute_batch(claims)  # the slow runner wakes up and tries to finish
    job = api.get("j")
    assert (job.state, job.last_run_id, job.version) == ("completed", rescuer.run.run_id, job_after_rescue.version)
    assert late.outcome == "failed"
    assert Run.objects.get(run_id=late.run.run_id).error == {"reason": "lease_expired"}


def test_a_job_cancelled_while_running_stays_cancelled() -> None:
    make("j", once(T0))
    runner = Runner(now=T0)
    claims = runner.claim(1)
    api.cancel("j")
    [result] = runner.execute_batch(claims)
    assert api.get("j").state == "cancelled"
    assert result.outcome == "cancelled"
    assert Run.objects.get(run_id=result.run.run_id).status == "cancelled"


def test_a_stopped_runner_gives_back_the_claims_it_did_not_execute() -> None:
    make("j", once(T0))
    runner = Runner(now=T0, should_stop=lambda: True)
    claims = runner.claim(1)
    assert runner.execute_batch(claims) == []
    job = api.get("j")
    assert (job.state, job.attempt_count, job.current_run_id) == ("active", 0, None)
    assert not Run.objects.exists()


# the database's guarantee ---------------------------------------------------------------------------


def test_the_database_refuses_a_second_scheduled_run_of_a_slot_attempt() -> None:
    make("j", once(T0))
    [result] = run_due(T0)
    original = Run.objects.get(run_id=result.run.run_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(
            run_id="run_duplicate",
            job_id="j",
            job_created_at=original.job_created_at,
            slot_at=T0,
            attempt=1,
            started_at=T0,
        )


def test_manual_runs_never_collide() -> None:
    make("j", once(T0))
    api.run_now("j")
    api.run_now("j")
    assert Run.objects.filter(job_id="j", manual=True, slot_at=None).count() == 2


# bad options -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opts", "code", "field"),
    [
        ({"colour": 1}, "unsupported_filter", "colour"),
        ({"limit": 0}, "invalid_filter", "limit"),
        ({"claim_ttl_ms": -1}, "invalid_filter", "claim_ttl_ms"),
        ({"now": "whenever"}, "invalid_filter", "now"),
    ],
)
def test_bad_run_due_options_run_nothing(opts: dict[str, Any], code: str, field: str) -> None:
    make("j", once(T0))
    before = snapshot()
    with pytest.raises(InvalidInput) as info:
        api.run_due(opts)
    assert (info.value.code, info.value.field) == (code, field)
    assert snapshot() == before


def test_now_may_be_epoch_ms_or_iso() -> None:
    make("a", once(T0))
    make("b", once(T0 + MINUTE))
    assert [r.job_id for r in api.run_due({"now": 1_767_268_800_000})] == ["a"]
    assert [r.job_id for r in api.run_due({"now": "2026-01-01T12:01:00Z"})] == ["b"]


def test_every_scheduled_run_is_unique_per_slot_and_attempt() -> None:
    make("a", every(1000, catch_up=True), FAIL, retry_policy={"max_attempts": 2})
    make("b", every(1500, catch_up=True))
    for step in range(5):
        run_due(T0 + step * 2 * SECOND)
    keys = Counter(Run.objects.values_list("job_id", "slot_at", "attempt"))
    assert keys and max(keys.values()) == 1
    assert Event.objects.filter(event_type="routine_run_failed").count() == Run.objects.filter(job_id="a").count()


# the state machine, explored -------------------------------------------------------------------------

TARGETS = [RUN, FAIL, {"type": "run", "outcome": "cancelled"}]
SCHEDULES = st.one_of(
    st.builds(lambda s: once(T0 + timedelta(seconds=s)), st.integers(0, 600)),
    st.builds(
        lambda ms, s, c: every(ms, T0 + timedelta(seconds=s), c),
        st.sampled_from([15_000, 45_000, 120_000]),
        st.integers(0, 300),
        st.booleans(),
    ),
)


class Routines(RuleBasedStateMachine):
    """Random create/pause/resume/cancel/crash/run_due under an advancing explicit clock."""

    def __init__(self) -> None:
        super().__init__()
        api.clear()
        self.now = T0
        self.count = 0
        self.highest_slot: dict[str, Any] = {}
        self.terminal_runs: dict[str, int] = {}
        # Also look in the middle of a run_due call, where one call makes many transitions.
        signals.run_started.connect(self.on_run, dispatch_uid="routines-state-machine")
        signals.run_finished.connect(self.on_run, dispatch_uid="routines-state-machine-finished")

    def teardown(self) -> None:
        signals.run_started.disconnect(dispatch_uid="routines-state-machine")
        signals.run_finished.disconnect(dispatch_uid="routines-state-machine-finished")

    def on_run(self, sender: Any, run: Run, **kwargs: Any) -> None:
        self.next_run_at_never_moves_backwards()

    def job_ids(self) -> list[str]:
        return [f"j{i}" for i in range(self.count)]

    @rule(
        schedule=SCHEDULES,
        job_target=st.sampled_from(TARGETS),
        attempts=st.integers(1, 3),
        backoff=st.sampled_from([0, 10_000]),
    )
    def create(self, schedule: dict[str, Any], job_target: dict[str, Any], attempts: int, backoff: int) -> None:
        make(f"j{self.count}", schedule, job_target, retry_policy={"max_attempts": attempts, "backoff_ms": backoff})
        self.count += 1

    @rule(data=st.data(), state=st.sampled_from(["paused", "active"]))
    def pause_or_resume(self, data: st.DataObject, state: str) -> None:
        if not self.count:
            return
        job_id = data.draw(st.sampled_from(self.job_ids()))
        current = api.get(job_id).state
        try:
            assert api.update(job_id, {"state": state}).state == state
            assert current in ("active", "paused")
        except JobBusy:
            assert current in ("running", "retry_waiting")
        except JobTerminal:
            assert current in TERMINAL_STATES

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if self.count:
            job_id = data.draw(st.sampled_from(self.job_ids()))
            api.cancel(job_id)
            assert api.get(job_id).state == "cancelled"

    @rule(seconds=st.integers(0, 180))
    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(limit=st.one_of(st.none(), st.integers(1, 5)))
    def run_due(self, limit: int | None) -> None:
        api.run_due({"now": self.now, "limit": limit, "claim_ttl_ms": 30_000})

    @rule()
    def crash(self) -> None:
        """A runner claims the next due job and dies without finishing it."""
        Runner(now=self.now, claim_ttl_ms=30_000, runner_id="crashes").claim(1)

    @invariant()
    def terminal_jobs_are_never_due_and_never_run_again(self) -> None:
        runs = Counter(Run.objects.filter(manual=False).values_list("job_id", flat=True))
        for job in Job.objects.filter(state__in=TERMINAL_STATES):
            assert job.next_run_at is None and job.current_run_id is None
            if job.job_id in self.terminal_runs:
                assert runs[job.job_id] == self.terminal_runs[job.job_id]
            self.terminal_runs[job.job_id] = runs[job.job_id]
        due = {j.job_id for j in api.list_due({"at": self.now + timedelta(days=3650)})}
        assert not due & set(self.terminal_runs)

    @invariant()
    def next_run_at_never_moves_backwards(self) -> None:
        """The job's slot only moves forward, and a retry is never due before its slot.

        The slot is ``next_run_at``, except while a slot runs or waits for a retry: then
        ``next_run_at`` is the retry time and the slot is ``current_slot_at``. (With ``catch_up``
        the slot after a retried one, slot + every_ms, may lie before the last retry time.)
        """
        rows = Job.objects.exclude(next_run_at=None).values_list("job_id", "state", "next_run_at", "current_slot_at")
        for job_id, state, next_run_at, current_slot_at in rows:
            slot = current_slot_at if state in ("running", "retry_waiting") else next_run_at
            assert slot >= self.highest_slot.get(job_id, slot)
            assert next_run_at >= slot
            self.highest_slot[job_id] = slot

    @invariant()
    def exactly_one_run_per_job_slot_attempt(self) -> None:
        keys = Counter(Run.objects.filter(manual=False).values_list("job_id", "slot_at", "attempt"))
        assert all(n == 1 for n in keys.values())

    @invariant()
    def attempts_of_a_slot_count_up_from_one(self) -> None:
        per_slot: dict[tuple[str, Any], list[int]] = {}
        for job_id, slot, attempt in Run.objects.filter(manual=False).values_list("job_id", "slot_at", "attempt"):
            per_slot.setdefault((job_id, slot), []).append(attempt)
        limits = dict(Job.objects.values_list("job_id", "retry_policy"))
        for (job_id, _), attempts in per_slot.items():
            assert sorted(attempts) == list(range(1, len(attempts) + 1))
            assert len(attempts) <= limits[job_id]["max_attempts"]

    @invariant()
    def a_run_is_running_exactly_while_its_job_holds_it(self) -> None:
        running_runs = set(Run.objects.filter(status="running").values_list("run_id", flat=True))
        held = set(Job.objects.filter(state="running").values_list("current_run_id", flat=True))
        assert running_runs == held


def test_the_state_machine_keeps_its_invariants() -> None:
    Routines.TestCase.settings = settings(
        max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
    )
    Routines.TestCase().runTest()


class _OutpacedRunner(Runner):
    """A runner whose first batch is claimed by a faster runner between its read and its write."""

    raced = False

    def due_rows(self, size: int) -> list[dict[str, Any]]:
        rows = super().due_rows(size)
        if rows and not self.raced:
            self.raced = True
            assert len(api.run_due({"now": self.clock.now, "limit": len(rows), "runner_id": "fast"})) == len(rows)
        return rows


def test_a_runner_that_loses_its_whole_batch_keeps_claiming_what_is_still_due() -> None:
    for i in range(12):
        make(f"j{i:02d}", once(T0))
    results = _OutpacedRunner(now=T0, runner_id="slow").run()
    assert results, "the outpaced runner stopped although jobs were still due"
    assert api.list_due({"at": T0}) == []
    assert Counter(Run.objects.values_list("runner_id", flat=True)) == {"fast": 12 - len(results), "slow": len(results)}


def test_the_longest_runner_id_is_stored() -> None:
    make("j", once(T0))
    [result] = run_due(T0, runner_id="r" * 200)
    assert Run.objects.get(run_id=result.run.run_id).runner_id == "r" * 200


def test_batch_size_is_capped_where_statements_would_outgrow_placeholder_limits(settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "BATCH_SIZE": 50_000}
    assert Runner().max_batch == 1000
    settings.ROUTINES = {**settings.ROUTINES, "BATCH_SIZE": 7}
    assert Runner().max_batch == 7


@pytest.mark.skipif(connection.vendor != "mysql", reason="InnoDB's deadlock victim (error 1213) is MySQL/MariaDB's")
@pytest.mark.django_db(transaction=True)
def test_with_retry_runs_a_deadlock_victim_again() -> None:
    """Two real connections lock two jobs in opposite orders; InnoDB rolls one back and it is run again."""
    make("a", once())
    make("b", once())
    both_hold_one = threading.Barrier(2)
    attempts: Counter[str] = Counter()
    errors: list[BaseException] = []

    def bump(first: str, second: str) -> None:
        def transaction_() -> None:
            attempts[first] += 1
            with transaction.atomic():
                Job.objects.filter(job_id=first).update(version=F("version") + 1)
                if attempts[first] == 1:
                    both_hold_one.wait(timeout=10)
                Job.objects.filter(job_id=second).update(version=F("version") + 1)

        try:
            with_retry(transaction_)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=bump, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sum(attempts.values()) == 3  # one of them was the victim and ran twice
    assert dict(Job.objects.values_list("job_id", "version")) == {"a": 2, "b": 2}
