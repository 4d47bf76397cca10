"""Claim → execute → finish: how due jobs run.

Concurrency is settled by the database, never by a lock held while a target executes:

* Claim: due rows are moved to ``running`` by one conditional UPDATE per batch. On PostgreSQL and
  MySQL/MariaDB the rows are first locked with ``SELECT … FOR UPDATE SKIP LOCKED`` so runners
  never wait on each other; on SQLite (one writer at a time) the UPDATE re-checks each row's
  ``version`` instead, so two processes can race for a row and only one wins. The Run rows are
  inserted in the same transaction, so a claimed attempt is visible while it executes.
* Execute: targets run outside any transaction, one at a time. A batch is sized to take a
  fraction of a second, so what a crash can cost is small; and a target that runs long stops
  being part of a batch: the heartbeat thread gives the batch's other claims back and writes
  the outcomes already finished (heartbeat.py). A target starts only while its claim is known
  to be held: after any pause longer than half a lease the claims are confirmed first.
* Finish: every job's write is fenced by its ``current_run_id``; a runner whose lease expired and
  was taken over closes its Run but cannot touch the job. Finishes are flushed in small batches
  of a few statements each, the fence kept per row (sql.py).
* Rescue: a ``running`` job whose lease expired is failed with ``lease_expired`` and retried or
  advanced under its retry policy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from . import concurrency, late, misfires, pausing, signals
from .batches import Batch, Claim, DueResult, Finish, now_mark, since
from .clock import Clock
from .conf import MAX_BATCH, routines_settings
from .execution import close_run, default_runner_id, execute, new_run, new_run_id, overdue_jobs
from .heartbeat import Heartbeat
from .journal import announce, observed
from .models import Event, Job, Run
from .rescue import rescue_expired
from .retry import reconnecting, with_retry
from .sql import RUN_FINISH_FIELDS, claim_update, fenced_update, fenced_update_many, finish_runs, insert_objects
from .states import CLAIM_FIELDS, DUE_STATES
from .transitions import transition

logger = logging.getLogger("routines")

# How long a batch may take to execute; the batch size adapts to the measured execution time.
BATCH_SECONDS = 0.25
FLUSH_SECONDS = 0.25
# A target running longer than this is long: its batch's other claims go back, its finished
# outcomes are written. The heartbeat looks this often.
HOLD_SECONDS = 0.05
TICK_SECONDS = 0.02
# How long a runner that finds every due row locked by other runners' claims waits for more.
LOCKED_WAIT_SECONDS = 2.0


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
        self.batch_size = 1  # nothing is known of the targets yet: the first batch holds one job
        self.lock = threading.Lock()
        self.batch: Batch | None = None
        self.full_groups: set[str] = set()  # concurrency keys found at their limit since our last batch
        self.heartbeat: Heartbeat | None = None
        half = self.ttl.total_seconds() / 2
        self.hold = min(HOLD_SECONDS, half / 2)
        self.confirm_after = half

    def run(self) -> list[DueResult]:
        results: list[DueResult] = []
        if pausing.paused_all() is not None:
            return results  # held for every runner: claim nothing, not even expired leases
        late.note_late(late.late_jobs(self.clock.now, late.NOTE_BATCH), self.clock.now)
        self.rescue()
        pausing.wake(self.clock.now)
        # Inside a caller's transaction no other runner can see these claims until it commits,
        # and a second connection could only wait on that transaction's locks: no heartbeat.
        if not connection.in_atomic_block:
            self.heartbeat = Heartbeat(self.tick, min(TICK_SECONDS, self.hold / 2))
        try:
            while not self.should_stop():
                room = self.max_batch if self.limit is None else self.limit - len(results)
                if room <= 0:
                    break
                claims = with_retry(lambda: self.claim(min(self.batch_size, room)))
                if not claims:
                    break
                results.extend(self.execute_batch(claims))
                self.full_groups.clear()  # our own finishes may have made room
        finally:
            if self.heartbeat is not None:
                self.heartbeat.stop()
                self.heartbeat = None
        return results

    # Claim ------------------------------------------------------------------------------------

    def due_rows(self, size: int) -> list[dict[str, Any]]:
        qs = Job.objects.filter(next_run_at__lte=self.clock.now).order_by("next_run_at", "job_id")
        if overdue := overdue_jobs():  # their last target still runs here, past its timeout
            qs = qs.exclude(job_id__in=overdue)
        if self.full_groups:
            qs = qs.exclude(concurrency_key__in=sorted(self.full_groups))
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
        still be due then, so read again instead of reporting that nothing is due.
        """
        busy_until = time.monotonic() + LOCKED_WAIT_SECONDS
        while True:
            if self.locking:
                with transaction.atomic():
                    rows = self.due_rows(size)
                    claims = self._claim(misfires.apply(rows, self.clock.now, self.clock.wall()))
                if not rows and time.monotonic() < busy_until and self.due_but_locked():
                    time.sleep(0.01)  # another runner's claim holds them for a moment; more may be due
                    continue
            else:
                rows = self.due_rows(size)  # read outside the transaction; the UPDATE re-checks each row
                if not rows:
                    return []
                with transaction.atomic():
                    claims = self._claim(misfires.apply(rows, self.clock.now, self.clock.wall()))
            if claims or not rows:
                return claims

    def due_but_locked(self) -> bool:
        """Rows SKIP LOCKED passed over look due to a plain read until their claim commits.

        InnoDB may lock more rows than a claim takes (a small table is scanned whole), so an
        empty locked read alone does not mean that nothing is left for this runner.
        """
        due = Job.objects.due(self.clock.now)
        if self.full_groups:  # those wait for room, not for a lock
            due = due.exclude(concurrency_key__in=sorted(self.full_groups))
        return due.exists()

    def _claim(self, rows: list[dict[str, Any]]) -> list[Claim]:
        now = self.clock.wall()
        rows, full = concurrency.admit(rows, now)
        self.full_groups |= full
        if not rows:
            return []
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
        slot_at = row["current_slot_at"] if retry else row["next_slot_at"] or row["next_run_at"]
        attempt = row["attempt_count"] + 1
        return Claim(
            job=row,
            run=new_run(row, run_id, now, slot_at=slot_at, attempt=attempt, runner_id=self.runner_id),
            slot_at=slot_at,
            attempt=attempt,
        )

    # Execute ----------------------------------------------------------------------------------

    def execute_batch(self, claims: list[Claim]) -> list[DueResult]:
        b = Batch(waiting=deque(claims), confirmed=now_mark())
        began = time.monotonic()
        executed = 0
        with self.lock:
            self.batch = b
        if self.heartbeat is not None:
            self.heartbeat.arm()
        try:
            while claim := self.next_claim(b):
                outcome = execute(claim.job, claim.run, claim.slot_at, claim.attempt, manual=False)
                executed += 1
                with self.lock:
                    b.in_hand = None
                    b.pending.append(Finish(claim, outcome, self.clock.wall()))
                    if len(b.pending) >= self.max_batch or time.monotonic() - b.flushed > FLUSH_SECONDS:
                        self.flush(b)
        finally:
            if self.heartbeat is not None:
                self.heartbeat.disarm()
            with self.lock:
                self.batch = None
                try:
                    self.flush(b)
                finally:
                    self.release(b)
        self._adapt(time.monotonic() - began, executed)
        return b.results

    def next_claim(self, b: Batch) -> Claim | None:
        """The claim to execute next, confirmed in the database after a pause; None when done."""
        with self.lock:
            while b.waiting:
                if self.should_stop():
                    return None
                if since(b.confirmed) > self.confirm_after:
                    self.confirm(b)
                    continue
                b.in_hand = b.waiting.popleft()
                b.started = time.monotonic()
                return b.in_hand
            return None

    def _adapt(self, seconds: float, count: int) -> None:
        if count == 0:
            return
        per_job = seconds / count
        ideal = int(BATCH_SECONDS / per_job) if per_job > 0 else self.max_batch
        self.batch_size = max(1, min(self.max_batch, ideal, self.batch_size * 4))

    def tick(self) -> None:
        """The heartbeat's look at the batch (its own thread and connection)."""
        with self.lock:
            b = self.batch
            if b is None or b.in_hand is None:
                return
            if time.monotonic() - b.started > self.hold or self.should_stop():
                self.release(b)
                self.flush(b)
            if since(b.confirmed) > self.confirm_after:
                self.confirm(b)

    def confirm(self, b: Batch) -> None:
        """Extend the leases still held; drop the claims another runner took meanwhile."""
        mark = now_mark()
        claims = ([b.in_hand] if b.in_hand is not None else []) + list(b.waiting)
        held = self.renew(claims)
        b.confirmed = mark
        lost = [c for c in b.waiting if c.run.run_id not in held]
        if lost:
            logger.warning("runner %s lost %d claim(s) while it was held up; it leaves them", self.runner_id, len(lost))
            b.waiting = deque(c for c in b.waiting if c.run.run_id in held)
        if b.in_hand is not None and b.in_hand.run.run_id not in held and not b.lost_hand:
            b.lost_hand = True
            logger.warning(
                "run %s of job %s lost its claim while it ran", b.in_hand.run.run_id, b.in_hand.job["job_id"]
            )

    def renew(self, claims: list[Claim]) -> set[str]:
        """Extend the leases of ``claims``; returns the run ids still held."""
        run_ids = [c.run.run_id for c in claims]
        if not run_ids:
            return set()
        lease = self.clock.wall() + self.ttl

        def write() -> set[str]:
            mine = Job.objects.filter(current_run_id__in=run_ids, state="running")
            n = mine.update(lease_expires_at=lease, version=F("version") + 1)
            if n == len(run_ids):
                return set(run_ids)
            return {run_id for run_id in mine.values_list("current_run_id", flat=True) if run_id is not None}

        return reconnecting(lambda: with_retry(write))

    def release(self, b: Batch) -> None:
        """Give back the claims not started (a stop request, a long target, an error in between)."""
        claims = list(b.waiting)
        b.waiting.clear()
        if not claims:
            return

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

        reconnecting(lambda: with_retry(write))

    # Finish -----------------------------------------------------------------------------------

    def flush(self, b: Batch) -> None:
        """Write the batch's finished outcomes; the caller holds ``self.lock``."""
        pending, b.pending = b.pending, []
        b.flushed = time.monotonic()
        if pending:
            b.results.extend(self.finish(pending))

    def finish(self, pending: list[Finish]) -> list[DueResult]:
        now = self.clock.wall()
        for item in pending:
            close_run(item.claim.run, item.outcome, item.finished_at)

        def write() -> list[Event]:
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
            return events

        events = reconnecting(lambda: with_retry(write))
        announce(events)
        for item in pending:
            signals.run_finished.send(sender=Run, run=item.claim.run)
        return [
            DueResult(i.claim.job["job_id"], i.claim.slot_at, i.claim.run, outcome=i.claim.run.status) for i in pending
        ]

    def rescue(self) -> int:
        """Fail and reschedule running jobs whose runner let the lease expire (it crashed)."""
        return rescue_expired(self.clock.now)


def stale_close(run: Run) -> None:
    """Record a late finish whose job was taken over or cancelled meanwhile; the job stays as is."""
    logger.warning("run %s of job %s finished after losing its claim; the job is left as it is", run.run_id, run.job_id)
    Run.objects.filter(run_id=run.run_id, status="running").update(
        **{name: getattr(run, name) for name in RUN_FINISH_FIELDS}
    )
    current = Run.objects.filter(run_id=run.run_id).values("status", "error").first()
    if current:
        run.status, run.error = current["status"], current["error"]
