"""Job, Run and Event: the durable state of routines.

The database settles concurrency: claims are conditional writes on ``Job`` (see runner.py), and a
unique constraint on ``Run`` refuses a second scheduled run of the same (job, slot, attempt).
Rows are written only through ``routines.api`` and the runner; nothing happens in ``save()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Case, F, Q, When

from .fields import PlusMs, ScheduleField, TimeJSONEncoder
from .states import DUE_STATES, RUN_STATUSES, STATES
from .times import EPOCH

MIN_LATE_AFTER_MS = 1000  # the shortest late_after_ms a job may have


class JobQuerySet(models.QuerySet["Job"]):
    """The due rules, written once: every caller passes the clock it goes by."""

    def due(self, at: datetime) -> JobQuerySet:
        return self.filter(state__in=DUE_STATES, next_run_at__lte=at)

    def lease_expired(self, at: datetime) -> JobQuerySet:
        return self.filter(state="running", lease_expires_at__lt=at)

    def late(self, at: datetime) -> JobQuerySet:
        """Jobs past their due time (or lease) by more than their ``late_after_ms`` at ``at``.

        The (state, next_run_at) and lease indexes bound the rows read to those overdue by at least
        the shortest allowed ``late_after_ms``; the per-job threshold is compared in the database.
        """
        floor = at - timedelta(milliseconds=MIN_LATE_AFTER_MS)
        waiting = Q(state__in=DUE_STATES, next_run_at__lt=floor)
        stuck = Q(state="running", lease_expires_at__lt=floor)
        return (
            self.filter(waiting | stuck, late_after_ms__isnull=False)
            .alias(
                late_at=PlusMs(
                    Case(When(state="running", then=F("lease_expires_at")), default=F("next_run_at")),
                    F("late_after_ms"),
                )
            )
            .filter(late_at__lt=at)
        )

    def due_or_rescuable(self, at: datetime) -> JobQuerySet:
        """What a ``run_due`` at ``at`` would execute: due jobs, and running jobs whose runner died."""
        return self.filter(Q(state__in=DUE_STATES, next_run_at__lte=at) | Q(state="running", lease_expires_at__lt=at))


class Job(models.Model):
    State = models.TextChoices("State", [(s.upper(), s) for s in STATES])  # type: ignore[call-overload]

    job_id = models.CharField(primary_key=True, max_length=200)
    schedule = ScheduleField()
    target = models.JSONField(encoder=TimeJSONEncoder)
    payload = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder)
    metadata = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder)
    routing_policy = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder)
    retry_policy = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default="active")
    # Denormalised from schedule/target so filters and the admin use plain indexed columns.
    schedule_type = models.CharField(max_length=32)
    target_type = models.CharField(max_length=64)
    attempt_count = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    # The nominal slot next_run_at stands for (next_run_at adds the schedule's jitter); null when
    # next_run_at was set by hand, which is then its own slot.
    next_slot_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    max_runs = models.PositiveIntegerField(null=True, blank=True)
    run_count = models.PositiveIntegerField(default=0)
    # A timed pause: the first run_due after this instant resumes the job.
    paused_until = models.DateTimeField(null=True, blank=True)
    current_run_id = models.CharField(max_length=64, null=True, blank=True)
    current_slot_at = models.DateTimeField(null=True, blank=True)
    last_run_id = models.CharField(max_length=64, null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_result = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder)
    last_error = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder)
    # The claim: which runner holds the job and until when. Fencing uses current_run_id.
    claimed_by = models.CharField(max_length=200, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every write, so API updates can be optimistic instead of holding row locks.
    version = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # How long the runner waits for the target; None waits for ever.
    timeout_ms = models.PositiveIntegerField(null=True, blank=True)
    # How long past its due time the job counts as late; None: never. late_slot_at is the last
    # slot seen late, so each late slot is journalled once whoever sees it.
    late_after_ms = models.PositiveIntegerField(null=True, blank=True)
    late_slot_at = models.DateTimeField(null=True, blank=True)
    # Jobs sharing a concurrency_key run at most concurrency_limit at once, across every runner.
    concurrency_key = models.CharField(max_length=200, null=True, blank=True)
    concurrency_limit = models.PositiveIntegerField(default=1)

    objects = JobQuerySet.as_manager()

    class Meta:
        indexes = [
            # The due query and next_due_at: a partial index holds only what can be due.
            models.Index(fields=["next_run_at"], condition=Q(state__in=DUE_STATES), name="routines_job_due"),
            # The same for databases without partial indexes (MySQL/MariaDB), and state filters.
            models.Index(fields=["state", "next_run_at"], name="routines_job_state_next"),
            # Lease rescue: running jobs whose lease has expired.
            models.Index(fields=["state", "lease_expires_at"], name="routines_job_lease"),
            models.Index(fields=["-updated_at", "job_id"], name="routines_job_updated"),
            # How many of a concurrency group are running, counted by each claim that takes one.
            models.Index(fields=["concurrency_key", "state"], name="routines_job_concurrency"),
        ]

    def __str__(self) -> str:
        return self.job_id


class ConcurrencyGroup(models.Model):
    """One row per concurrency key: the row a claim locks while it counts and takes the group's jobs.

    Every database locks a row it updates until the transaction ends (SQLite locks the whole
    file), so two runners claiming jobs of one group at the same instant take turns.
    """

    key = models.CharField(primary_key=True, max_length=200)
    claimed_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.key


class Switch(models.Model):
    """A switch that holds every runner, one row per name while it is on ("pause_all" today)."""

    name = models.CharField(primary_key=True, max_length=50)
    reason = models.TextField(blank=True)
    actor = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    Status = models.TextChoices("Status", [(s.upper(), s) for s in RUN_STATUSES])  # type: ignore[call-overload]

    run_id = models.CharField(primary_key=True, max_length=64)
    # A plain column, not a foreign key: run history outlives the job.
    job_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=64, default="routine")
    status = models.CharField(max_length=16, choices=Status.choices, default="running")
    scope = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder)
    input = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder)
    metadata = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder)
    result = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder)
    error = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder)
    steps = models.JSONField(default=list, blank=True, encoder=TimeJSONEncoder)
    slot_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    manual = models.BooleanField(default=False)
    runner_id = models.CharField(max_length=200, null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Which incarnation of job_id ran: a job deleted and created again under the same id starts
    # its slots afresh instead of colliding with the old job's history.
    job_created_at = models.DateTimeField(default=EPOCH)

    class Meta:
        constraints = [
            # Manual runs have no slot; NULLs never collide, so this binds scheduled runs only.
            models.UniqueConstraint(
                fields=["job_id", "job_created_at", "slot_at", "attempt"], name="routines_run_once_per_slot"
            ),
        ]
        indexes = [
            models.Index(fields=["job_id", "-started_at"], name="routines_run_job_started"),
            models.Index(fields=["status", "-started_at"], name="routines_run_status"),
            models.Index(fields=["-started_at", "run_id"], name="routines_run_started"),
        ]

    def __str__(self) -> str:
        return self.run_id


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    event_type = models.CharField(max_length=64)
    job_id = models.CharField(max_length=200)
    run_id = models.CharField(max_length=64, null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["job_id", "-id"], name="routines_event_job"),
            models.Index(fields=["event_type", "-id"], name="routines_event_type"),
            models.Index(fields=["created_at"], name="routines_event_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.job_id}"


# Conversation threads of the OpenAI-compatible session backend. Chat-completions servers are
# stateless, so a thread is kept here, one row per message, and replayed on each query of it.


class Thread(models.Model):
    thread_id = models.CharField(primary_key=True, max_length=64)
    # Which backend owns the thread ("openai"); another backend's ids are not resumed.
    backend = models.CharField(max_length=64)
    model = models.CharField(max_length=200, blank=True, default="")
    system = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.thread_id


class ThreadMessage(models.Model):
    id = models.BigAutoField(primary_key=True)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    # Position in the conversation; unique so that two runs appending at once cannot interleave.
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=32)
    content = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread", "seq"], name="routines_threadmessage_seq")]

    def __str__(self) -> str:
        return f"{self.thread_id}#{self.seq} {self.role}"
