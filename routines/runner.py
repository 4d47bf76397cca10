"""Claim → execute → finish: how due jobs run (SPEC §6).

Concurrency is settled by the database, never by a lock held while a target executes:

* Claim: due rows are moved to ``running`` by one conditional UPDATE per batch. On PostgreSQL and
  MySQL/MariaDB the rows are first locked with ``SELECT … FOR UPDATE SKIP LOCKED`` so runners
  never wait on each other; on SQLite (one writer at a time) the UPDATE re-checks each row's
  ``version`` instead, so two processes can race for a row and only one wins. The Run rows are
  inserted in the same transaction, so a claimed attempt is visible while it executes.
* Execute: targets run outside any transaction. A batch's leases are renewed when half spent,
  between jobs by the runner and during one long target by its heartbeat thread (heartbeat.py).
* Finish: every job's write is fenced by its ``current_run_id``; a runner whose lease expired and
  was taken over closes its Run but cannot touch the job. Finishes are flushed in small batches
  of a few statements each, the fence kept per row (sql.py).
* Rescue: a ``running`` job whose lease expired is failed with ``lease_expired`` and retried or
  advanced under its retry policy.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from . import schedules, signals, targets
from .conf import routines_settings
from .heartbeat import Heartbeat
from .models import Event, Job, Run
from .sql import RUN_FINISH_FIELDS, claim_update, fenced_update, fenced_update_many, finish_runs, insert_objects
from .targets.base import CANCELLED, COMPLETED, FAILED, OUTCOMES, Outcome
from .times import UTC, add_ms, iso
from .validation import DUE_STATES, check_json

logger = logging.getLogger("routines")
T = TypeVar("T")

LEASE_EXPIRED = {"reason": "lease_expired"}
# How long a batch may take to execute; the batch size adapts to the measured execution time.
BATCH_SECONDS = 0.5
FLUSH_SECONDS = 0.25
# A batch's statements carry a few placeholders per job: stay well inside SQLite's and MySQL's limits.
MAX_BATCH = 1000
# How long a runner that finds every due row locked by other runners' claims waits for more.
LOCKED_WAIT_SECONDS = 2.0


@dataclass
class DueResult:
    job_id: str
    slot_at: datetime | None
    run: Run
    status: str = "executed"
    outcome: str = COMPLETED


@dataclass
class Claim:
    """A job this runner holds: the row as it was before the claim, and the Run it created."""

    job: dict[str, Any]
    run: Run
    slot_at: datetime
    attempt: int


@dataclass
class Finish:
    claim: Claim
    outcome: Outcome
    finished_at: datetime
    events: list[Event] = field(default_factory=list)


def new_run_id() -> str:
    return "run_" + uuid.uuid4().hex


def default_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def wrap_result(result: Any) -> dict[str, Any]:
    """The seed's rule for ``last_result``: a dict as it is, anything else under ``result``."""
    return result if isinstance(result, dict) else {"result": result}


def error_data(exc: BaseException) -> dict[str, str]:
    # Escape what no database stores (NUL, lone surrogates): the message may quote bad input.
    message = str(exc)[:2000].replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return {"type": type(exc).__name__, "message": message}


# Clocks -----------------------------------------------------------------------------------------


def uses_db_clock() -> bool:
    return connection.vendor in ("postgresql", "mysql") and bool(routines_settings.USE_DB_CLOCK)


def db_now() -> datetime:
    """The time by the database server's clock where it has one worth trusting over ours.

    Every runner host then agrees on due times and lease expiry, however skewed its own clock.
    """
    if not uses_db_clock():
        return timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT statement_timestamp()")
        else:
            cursor.execute("SELECT UTC_TIMESTAMP(6)")
        value = cursor.fetchone()[0]
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Clock:
    """A call's clock: frozen for schedule math, moving (from the same origin) for leases.

    ``now`` is what SPEC §6.1 calls the call's clock: due comparisons and next slots use it, so
    one call cannot chase a schedule forever. ``wall()`` adds the real time elapsed since, for
    leases and run timestamps, so a long call never hands out leases that are already spent.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now if now is not None else db_now()
        self._origin = time.monotonic()

    def wall(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self._origin)


# SQLite's single writer --------------------------------------------------------------------------


def with_retry(fn: Callable[[], T]) -> T:
    """Run ``fn`` (a whole transaction) again when the database gives it up for another's sake.

    SQLite answers "database is locked" at once, without waiting, when two transactions would
    deadlock on the lock; the remedy is to roll back and retry after a short pause. InnoDB
    rolls a deadlock's victim back whole (error 1213) and asks for the same.
    """
    if connection.vendor == "mysql":
        return _retry_deadlocks(fn)
    if connection.vendor != "sqlite":
        return fn()
    deadline = time.monotonic() + float(routines_settings.SQLITE_LOCK_RETRY_SECONDS)
    pause = 0.005
    while True:
        try:
            return fn()
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


MYSQL_DEADLOCK = 1213
DEADLOCK_ATTEMPTS = 5


def _retry_deadlocks(fn: Callable[[], T]) -> T:
    # Inside a caller's transaction the deadlock rolled that back too: only the caller can start over.
    if connection.in_atomic_block:
        return fn()
    attempt = 1
    while True:
        try:
            return fn()
        except OperationalError as exc:
            if not exc.args or exc.args[0] != MYSQL_DEADLOCK or attempt == DEADLOCK_ATTEMPTS:
                raise
        time.sleep(0.01 * attempt)
        attempt += 1


# Journal -----------------------------------------------------------------------------------------


def event(event_type: str, job_id: str, at: datetime, run_id: str | None = None, **payload: Any) -> Event:
    return Event(event_type=event_type, job_id=job_id, run_id=run_id, payload=payload, created_at=at)


def announce(events: Iterable[Event]) -> None:
    """Log committed events and send ``event_recorded`` for them (receivers may read what was written)."""
    for ev in events:
        signals.log_event(ev)
        signals.event_recorded.send(sender=Event, event=ev)


def observed() -> bool:
    """Whether an event would reach anyone: a receiver of ``event_recorded`` or the ``routines`` log.

    Bulk writers skip building Event objects nobody would see.
    """
    return signals.event_recorded.has_listeners(Event) or signals.logger.isEnabledFor(signals.EVENT_LEVEL)


# State machine -----------------------------------------------------------------------------------


def transition(
    job: dict[str, Any], slot_at: datetime, attempt: int, outcome: Outcome, now: datetime, run: Run
) -> tuple[dict[str, Any], list[Event]]:
    """The job's fields after attempt ``attempt`` of ``slot_at`` ended with ``outcome`` (SPEC §6.4).

    Pure apart from building unsaved Event rows: the caller writes both, fenced.
    """
    job_id = job["job_id"]
    base = {"slot_at": iso(slot_at), "attempt": attempt}
    fields: dict[str, Any] = {"last_run_id": run.run_id, "last_run_at": run.started_at}
    events: list[Event] = []
    if outcome.status in (COMPLETED, CANCELLED):
        fields.update(last_result=wrap_result(outcome.result), last_error=None)
        kind = "routine_run_completed" if outcome.status == COMPLETED else "routine_run_cancelled"
        events.append(event(kind, job_id, now, run.run_id, **base))
        fields.update(_advance(job, slot_at, now))
        return fields, events
    fields["last_error"] = outcome.error
    max_attempts = job["retry_policy"].get("max_attempts", 1)
    events.append(event("routine_run_failed", job_id, now, run.run_id, error=outcome.error, **base))
    retry_at = add_ms(now, job["retry_policy"].get("backoff_ms", 0))
    if attempt < max_attempts and retry_at is not None:
        fields.update(
            state="retry_waiting",
            next_run_at=retry_at,
            attempt_count=attempt,
            current_run_id=run.run_id,
            current_slot_at=slot_at,
            claimed_by=None,
            lease_expires_at=None,
        )
        events.append(event("routine_retry_scheduled", job_id, now, run.run_id, next_run_at=iso(retry_at), **base))
        return fields, events
    fields.update(_advance(job, slot_at, now, exhausted=True))
    return fields, events


def _advance(job: dict[str, Any], slot_at: datetime, now: datetime, exhausted: bool = False) -> dict[str, Any]:
    """Leave the slot: on to the next one, or to the end of the schedule."""
    nxt = schedules.next_slot(job["schedule"], slot_at, now)
    fields: dict[str, Any] = {
        "attempt_count": 0,
        "current_run_id": None,
        "current_slot_at": None,
        "claimed_by": None,
        "lease_expires_at": None,
    }
    if nxt is None:
        fields.update(state="exhausted" if exhausted else "completed", next_run_at=None, completed_at=now)
    else:
        fields.update(state="active", next_run_at=nxt)
    return fields


# The runner --------------------------------------------------------------------------------------

CLAIM_FIELDS = (
    "job_id",
    "state",
    "version",
    "next_run_at",
    "attempt_count",
    "current_run_id",
    "current_slot_at",
    "schedule",
    "target",
    "payload",
    "metadata",
    "routing_policy",
    "retry_policy",
    "created_at",
    "schedule_type",
    "target_type",
)


class Runner:
    def __init__(
        self,
        *,
        now: datetime | None = None,
        limit: int | None = None,
        runner_id: str | None = None,
        claim_ttl_ms: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.clock = Clock(now)
        self.limit = limit
        self.runner_id = runner_id or default_runner_id()
        self.ttl = timedelta(milliseconds=claim_ttl_ms or int(routines_settings.CLAIM_TTL_MS))
        self.should_stop = should_stop or (lambda: False)
        self.locking = connection.vendor in ("postgresql", "mysql")
        self.max_batch = max(1, min(MAX_BATCH, int(routines_settings.BATCH_SIZE)))
        self.batch = min(self.max_batch, 8)
        self.heartbeat: Heartbeat | None = None

    def run(self) -> list[DueResult]:
        results: list[DueResult] = []
        self.rescue()
        # Inside a caller's transaction no other runner can see these claims until it commits,
        # and a second connection could only wait on that transaction's locks: no heartbeat.
        if not connection.in_atomic_block:
            self.heartbeat = Heartbeat(self.keep_alive, self.ttl.total_seconds())
        try:
            while not self.should_stop():
                room = self.max_batch if self.limit is None else self.limit - len(results)
                if room <= 0:
                    break
                claims = with_retry(lambda: self.claim(min(self.batch, room)))
                if not claims:
                    break
                results.extend(self.execute_batch(claims))
        finally:
            if self.heartbeat is not None:
                self.heartbeat.stop()
                self.heartbeat = None
        return results

    # Claim ------------------------------------------------------------------------------------

    def due_rows(self, size: int) -> list[dict[str, Any]]:
        qs = Job.objects.filter(next_run_at__lte=self.clock.now).order_by("next_run_at", "job_id")
        if not self.locking:
            return list(qs.filter(state__in=DUE_STATES).values(*CLAIM_FIELDS)[:size])
        qs = qs.select_for_update(skip_locked=True)
        if connection.vendor != "mysql":
            return list(qs.filter(state__in=DUE_STATES).values(*CLAIM_FIELDS)[:size])
        # InnoDB locks every row it reads: `state IN (...)` sorts all due rows first (a filesort) and
        # so locks all of them, leaving nothing for other runners. One state at a time walks the
        # (state, next_run_at, job_id) index in order and locks only the rows it returns.
        rows = [row for state in DUE_STATES for row in qs.filter(state=state).values(*CLAIM_FIELDS)[:size]]
        return sorted(rows, key=lambda row: (row["next_run_at"], row["job_id"]))[:size]

    def claim(self, size: int) -> list[Claim]:
        """Claim up to ``size`` due jobs; [] only when nothing is due any more.

        A batch can be lost whole to a faster runner between our read and our write; more may
        still be due then, so read again instead of reporting that nothing is due (SPEC §6.6).
        """
        busy_until = time.monotonic() + LOCKED_WAIT_SECONDS
        while True:
            if self.locking:
                with transaction.atomic():
                    rows = self.due_rows(size)
                    claims = self._claim(rows)
                if not rows and time.monotonic() < busy_until and self.due_but_locked():
                    time.sleep(0.01)  # another runner's claim holds them for a moment; more may be due
                    continue
            else:
                rows = self.due_rows(size)  # read outside the transaction; the UPDATE re-checks each row
                if not rows:
                    return []
                with transaction.atomic():
                    claims = self._claim(rows)
            if claims or not rows:
                return claims

    def due_but_locked(self) -> bool:
        """Rows SKIP LOCKED passed over look due to a plain read until their claim commits.

        InnoDB may lock more rows than a claim takes (a small table is scanned whole), so an
        empty locked read alone does not mean that nothing is left for this runner.
        """
        return Job.objects.filter(state__in=DUE_STATES, next_run_at__lte=self.clock.now).exists()

    def _claim(self, rows: list[dict[str, Any]]) -> list[Claim]:
        if not rows:
            return []
        now = self.clock.wall()
        run_ids = {row["job_id"]: new_run_id() for row in rows}
        claimed = claim_update(rows, run_ids, self.clock.now, now, now + self.ttl, self.runner_id, self.locking)
        if claimed < len(rows):
            won = set(Job.objects.filter(current_run_id__in=list(run_ids.values())).values_list("job_id", flat=True))
            rows = [row for row in rows if row["job_id"] in won]
        claims = [self._new_claim(row, run_ids[row["job_id"]], now) for row in rows]
        insert_objects([c.run for c in claims], return_pks=False)
        return claims

    def _new_claim(self, row: dict[str, Any], run_id: str, now: datetime) -> Claim:
        retry = row["state"] == "retry_waiting" and row["current_slot_at"] is not None
        slot_at = row["current_slot_at"] if retry else row["next_run_at"]
        attempt = row["attempt_count"] + 1
        return Claim(
            job=row,
            run=new_run(row, run_id, now, slot_at=slot_at, attempt=attempt, runner_id=self.runner_id),
            slot_at=slot_at,
            attempt=attempt,
        )

    # Execute ----------------------------------------------------------------------------------

    def execute_batch(self, claims: list[Claim]) -> list[DueResult]:
        results: list[DueResult] = []
        pending: list[Finish] = []
        lease_start = time.monotonic()
        flushed_at = time.monotonic()
        started = time.monotonic()
        done = 0
        if self.heartbeat is not None:
            self.heartbeat.hold([c.run.run_id for c in claims])
        try:
            for i, claim in enumerate(claims):
                if self.should_stop():
                    break
                if self.heartbeat is not None:
                    lease_start = max(lease_start, self.heartbeat.renewed_at)
                if time.monotonic() - lease_start > self.ttl.total_seconds() / 2:
                    kept = self.renew(claims[i:])
                    lease_start = time.monotonic()
                    if self.heartbeat is not None:
                        self.heartbeat.renewed()
                    if claim.run.run_id not in kept:
                        done += 1  # taken over by another runner: its attempt is no longer ours
                        continue
                outcome = execute(claim.job, claim.run, claim.slot_at, claim.attempt, manual=False)
                pending.append(Finish(claim, outcome, self.clock.wall()))
                done += 1
                if len(pending) >= self.max_batch or time.monotonic() - flushed_at > FLUSH_SECONDS:
                    results.extend(self.flush(pending))
                    pending, flushed_at = [], time.monotonic()
        finally:
            try:
                results.extend(self.flush(pending))
            finally:
                if self.heartbeat is not None:
                    self.heartbeat.release()
                if done < len(claims):
                    self.release(claims[done:])
        self._adapt(time.monotonic() - started, max(done, 1))
        return results

    def _adapt(self, seconds: float, count: int) -> None:
        per_job = seconds / count
        ideal = int(BATCH_SECONDS / per_job) if per_job > 0 else self.max_batch
        self.batch = max(1, min(self.max_batch, ideal, self.batch * 4))

    def renew(self, claims: list[Claim]) -> set[str]:
        """Extend the leases of claims not yet executed; returns the run ids still held."""
        run_ids = [c.run.run_id for c in claims]
        now = self.clock.wall()

        def write() -> set[str]:
            n = Job.objects.filter(current_run_id__in=run_ids, state="running").update(
                lease_expires_at=now + self.ttl, version=F("version") + 1
            )
            if n == len(run_ids):
                return set(run_ids)
            return set(
                Job.objects.filter(current_run_id__in=run_ids, state="running").values_list("current_run_id", flat=True)
            )

        with self.writing():
            return with_retry(write)

    def writing(self) -> AbstractContextManager[object]:
        """Held around the runner's writes to its claimed rows, so the heartbeat's never overlap."""
        return self.heartbeat.writing if self.heartbeat is not None else nullcontext()

    def keep_alive(self, run_ids: list[str]) -> None:
        """The heartbeat's renewal (on its own thread and connection): only rows still ours."""
        lease = self.clock.wall() + self.ttl
        with_retry(
            lambda: Job.objects.filter(current_run_id__in=run_ids, state="running").update(
                lease_expires_at=lease, version=F("version") + 1
            )
        )

    def release(self, claims: list[Claim]) -> None:
        """Give back claims that were never executed (a stop request or an error in between)."""

        def write() -> None:
            with transaction.atomic():
                for c in claims:
                    n = Job.objects.filter(job_id=c.job["job_id"], current_run_id=c.run.run_id, state="running").update(
                        state=c.job["state"],
                        attempt_count=c.job["attempt_count"],
                        current_run_id=c.job["current_run_id"],
                        current_slot_at=c.job["current_slot_at"],
                        claimed_by=None,
                        lease_expires_at=None,
                        version=F("version") + 1,
                    )
                    if n:
                        Run.objects.filter(run_id=c.run.run_id, status="running").delete()

        with self.writing():
            with_retry(write)

    # Finish -----------------------------------------------------------------------------------

    def flush(self, pending: list[Finish]) -> list[DueResult]:
        if not pending:
            return []
        now = self.clock.wall()
        for item in pending:
            close_run(item.claim.run, item.outcome, item.finished_at)

        def write() -> tuple[list[Run], list[Event]]:
            fenced: list[Run] = []
            events: list[Event] = []
            writes: list[tuple[Claim, dict[str, Any], list[Event]]] = []
            with transaction.atomic():
                for item in pending:
                    claim = item.claim
                    fields, evs = transition(
                        claim.job, claim.slot_at, claim.attempt, item.outcome, self.clock.now, claim.run
                    )
                    writes.append((claim, {**fields, "updated_at": now}, evs))
                won = fenced_update_many([(c.job["job_id"], c.run.run_id, f) for c, f, _ in writes])
                for claim, fields, evs in writes:
                    ok = claim.job["job_id"] in won if won is not None else None
                    if ok is None:
                        ok = fenced_update(claim.job["job_id"], claim.run.run_id, fields)
                    if ok:
                        fenced.append(claim.run)
                        events.extend(evs)
                    else:
                        stale_close(claim.run)
                finish_runs(fenced)
                insert_objects(events, return_pks=observed())
            return fenced, events

        with self.writing():
            _, events = with_retry(write)
        announce(events)
        for item in pending:
            signals.run_finished.send(sender=Run, run=item.claim.run)
        return [
            DueResult(i.claim.job["job_id"], i.claim.slot_at, i.claim.run, outcome=i.claim.run.status) for i in pending
        ]

    # Rescue -----------------------------------------------------------------------------------

    def rescue(self) -> int:
        """Fail and reschedule running jobs whose runner let the lease expire (it crashed)."""
        now = self.clock.now
        rows = list(
            Job.objects.filter(state="running", lease_expires_at__lt=now)
            .order_by("lease_expires_at")
            .values(*CLAIM_FIELDS, "lease_expires_at")[:1000]
        )
        rescued = 0
        for row in rows:

            def write(row: dict[str, Any] = row) -> list[Event]:
                with transaction.atomic():
                    run = Run.objects.filter(run_id=row["current_run_id"]).first() or new_run(
                        row,
                        row["current_run_id"] or new_run_id(),
                        now,
                        slot_at=row["current_slot_at"],
                        attempt=row["attempt_count"],
                        runner_id=None,
                    )
                    slot_at = row["current_slot_at"] or row["next_run_at"]
                    outcome = Outcome(FAILED, error=dict(LEASE_EXPIRED))
                    fields, evs = transition(row, slot_at, row["attempt_count"], outcome, now, run)
                    ok = Job.objects.filter(
                        job_id=row["job_id"],
                        current_run_id=row["current_run_id"],
                        state="running",
                        lease_expires_at__lt=now,
                    ).update(**fields, updated_at=now, version=F("version") + 1)
                    if not ok:
                        return []
                    Run.objects.filter(run_id=run.run_id, status="running").update(
                        status=FAILED, error=dict(LEASE_EXPIRED), finished_at=now
                    )
                    lease = event(
                        "routine_lease_expired",
                        row["job_id"],
                        now,
                        run.run_id,
                        slot_at=iso(slot_at),
                        attempt=row["attempt_count"],
                        lease_expired_at=iso(row["lease_expires_at"]),
                    )
                    evs.insert(0, lease)
                    Event.objects.bulk_create(evs)
                    return evs

            evs = with_retry(write)
            if evs:
                rescued += 1
                announce(evs)
        return rescued


def new_run(
    job: dict[str, Any],
    run_id: str,
    now: datetime,
    *,
    slot_at: datetime | None,
    attempt: int,
    runner_id: str | None,
    manual: bool = False,
) -> Run:
    target = job["target"]
    try:
        fields = targets.get(target.get("type", "")).run_fields(target, job["payload"])
    except Exception:  # an unregistered type still gets a Run, which then fails
        fields = targets.RunFields(input=job["payload"])
    metadata = {
        **fields.metadata,
        "job_id": job["job_id"],
        "slot_at": iso(slot_at),
        "manual": manual,
        "target_type": target.get("type"),
        "attempt": attempt,
    }
    return Run(
        run_id=run_id,
        job_id=job["job_id"],
        kind=fields.kind,
        status="running",
        scope=fields.scope,
        input=fields.input,
        metadata=metadata,
        slot_at=None if manual else slot_at,
        attempt=attempt,
        manual=manual,
        runner_id=runner_id,
        started_at=now,
        job_created_at=job["created_at"],
    )


def execute(job: dict[str, Any], run: Run, slot_at: datetime | None, attempt: int, *, manual: bool) -> Outcome:
    """Run the target; whatever it raises or returns becomes data on an Outcome."""
    signals.run_started.send(sender=Run, run=run)
    context = targets.Context(
        job_id=job["job_id"],
        run_id=run.run_id,
        slot_at=slot_at,
        attempt=attempt,
        manual=manual,
        payload=job["payload"],
        target=job["target"],
        metadata=job["metadata"],
        routing_policy=job["routing_policy"],
    )
    try:
        outcome = targets.get(job["target"].get("type", "")).execute(context)
        if not isinstance(outcome, Outcome) or outcome.status not in OUTCOMES:
            raise TypeError(f"the executor returned {outcome!r}, not an Outcome")
        check_json(outcome.result, "result", "invalid_result")
        check_json(outcome.error, "error", "invalid_result")
        check_json(outcome.scope, "scope", "invalid_result")
        check_json(outcome.steps, "steps", "invalid_result")
        check_json(outcome.metadata, "metadata", "invalid_result")
    except Exception as exc:
        logger.warning("target of job %s raised %s", job["job_id"], exc, exc_info=True)
        return Outcome(FAILED, error=error_data(exc))
    return outcome


def close_run(run: Run, outcome: Outcome, finished_at: datetime) -> None:
    """Fill in the Run's final fields in memory."""
    run.status = outcome.status
    run.result = outcome.result if outcome.status == COMPLETED else None
    run.error = None if outcome.status == COMPLETED else outcome.error
    run.finished_at = finished_at
    if outcome.scope is not None:
        run.scope = outcome.scope
    if outcome.steps is not None:
        run.steps = outcome.steps
    if outcome.metadata:
        run.metadata = {**run.metadata, **outcome.metadata}


def stale_close(run: Run) -> None:
    """Record a late finish whose job was taken over or cancelled meanwhile; the job stays as is."""
    logger.warning("run %s of job %s finished after losing its claim; the job is left as it is", run.run_id, run.job_id)
    Run.objects.filter(run_id=run.run_id, status="running").update(
        **{name: getattr(run, name) for name in RUN_FINISH_FIELDS}
    )
    current = Run.objects.filter(run_id=run.run_id).values("status", "error").first()
    if current:
        run.status, run.error = current["status"], current["error"]


def run_manual(job: Job) -> Run:
    """Execute ``job``'s target now as a manual run, leaving its schedule alone (``run_now``)."""
    clock = Clock()
    row = {name: getattr(job, name) for name in CLAIM_FIELDS}
    run = new_run(row, new_run_id(), clock.wall(), slot_at=None, attempt=1, runner_id=default_runner_id(), manual=True)
    with_retry(lambda: Run.objects.bulk_create([run]))
    outcome = execute(row, run, None, 1, manual=True)
    finished = clock.wall()
    close_run(run, outcome, finished)
    kind = {COMPLETED: "routine_run_completed", CANCELLED: "routine_run_cancelled", FAILED: "routine_run_failed"}
    payload: dict[str, Any] = {"manual": True}
    if outcome.status == FAILED:
        payload["error"] = outcome.error
    ev = event(kind[outcome.status], job.job_id, finished, run.run_id, **payload)
    fields: dict[str, Any] = {"last_run_id": run.run_id, "last_run_at": run.started_at}
    if outcome.status == FAILED:
        fields["last_error"] = outcome.error
    else:
        fields.update(last_result=wrap_result(outcome.result), last_error=None)

    def write() -> None:
        with transaction.atomic():
            Job.objects.filter(job_id=job.job_id).update(**fields, updated_at=finished, version=F("version") + 1)
            Run.objects.bulk_update([run], RUN_FINISH_FIELDS)
            ev.save()

    with_retry(write)
    announce([ev])
    signals.run_finished.send(sender=Run, run=run)
    return run
