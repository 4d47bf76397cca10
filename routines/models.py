"""Job, Run and Event: the durable state of routines.

The database settles concurrency: claims are conditional writes on ``Job`` (see runner.py), and a
unique constraint on ``Run`` refuses a second scheduled run of the same (job, slot, attempt).
Rows are written only through ``routines.api`` and the runner; nothing happens in ``save()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Case, F, Q, When
from django.utils.translation import gettext_lazy as _

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

    def late(self, at: datetime, by_more_than_ms: int = 0) -> JobQuerySet:
        """Jobs past their due time (or lease) by more than their ``late_after_ms`` at ``at``, and
        by more than ``by_more_than_ms`` (``routines check --max-late``).

        The (state, next_run_at) and lease indexes bound the rows read to those overdue by at least
        the shortest allowed ``late_after_ms`` (or ``by_more_than_ms``, if longer); the per-job
        threshold is compared in the database.
        """
        floor = at - timedelta(milliseconds=max(MIN_LATE_AFTER_MS, by_more_than_ms))
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

    job_id = models.CharField(primary_key=True, max_length=200, verbose_name=_("job id"))
    schedule = ScheduleField(verbose_name=_("schedule"))
    target = models.JSONField(encoder=TimeJSONEncoder, verbose_name=_("target"))
    payload = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder, verbose_name=_("payload"))
    metadata = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder, verbose_name=_("metadata"))
    routing_policy = models.JSONField(
        default=dict, blank=True, encoder=TimeJSONEncoder, verbose_name=_("routing policy")
    )
    retry_policy = models.JSONField(default=dict, blank=True, verbose_name=_("retry policy"))
    idempotency_key = models.CharField(max_length=255, unique=True, verbose_name=_("idempotency key"))
    state = models.CharField(max_length=16, choices=State.choices, default="active", verbose_name=_("state"))
    # Denormalised from schedule/target so filters and the admin use plain indexed columns.
    schedule_type = models.CharField(max_length=32, verbose_name=_("schedule type"))
    target_type = models.CharField(max_length=64, verbose_name=_("target type"))
    attempt_count = models.PositiveIntegerField(default=0, verbose_name=_("attempt count"))
    next_run_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next run at"))
    # The nominal slot next_run_at stands for (next_run_at adds the schedule's jitter); null when
    # next_run_at was set by hand, which is then its own slot.
    next_slot_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next slot at"))
    end_at = models.DateTimeField(null=True, blank=True, verbose_name=_("end at"))
    max_runs = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("max runs"))
    run_count = models.PositiveIntegerField(default=0, verbose_name=_("run count"))
    # A timed pause: the first run_due after this instant resumes the job.
    paused_until = models.DateTimeField(null=True, blank=True, verbose_name=_("paused until"))
    current_run_id = models.CharField(max_length=64, null=True, blank=True, verbose_name=_("current run id"))
    current_slot_at = models.DateTimeField(null=True, blank=True, verbose_name=_("current slot at"))
    last_run_id = models.CharField(max_length=64, null=True, blank=True, verbose_name=_("last run id"))
    last_run_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last run at"))
    last_result = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder, verbose_name=_("last result"))
    last_error = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder, verbose_name=_("last error"))
    # The claim: which runner holds the job and until when. Fencing uses current_run_id.
    claimed_by = models.CharField(max_length=200, null=True, blank=True, verbose_name=_("claimed by"))
    lease_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("lease expires at"))
    # Bumped by every write, so API updates can be optimistic instead of holding row locks.
    version = models.PositiveBigIntegerField(default=0, verbose_name=_("version"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    # How long the runner waits for the target; None waits for ever.
    timeout_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("timeout ms"))
    # How long past its due time the job counts as late; None: never. late_slot_at is the last
    # slot seen late, so each late slot is journalled once whoever sees it.
    late_after_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("late after ms"))
    late_slot_at = models.DateTimeField(null=True, blank=True, verbose_name=_("late slot at"))
    # Jobs sharing a concurrency_key run at most concurrency_limit at once, across every runner.
    concurrency_key = models.CharField(max_length=200, null=True, blank=True, verbose_name=_("concurrency key"))
    concurrency_limit = models.PositiveIntegerField(default=1, verbose_name=_("concurrency limit"))

    objects = JobQuerySet.as_manager()

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
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

    key = models.CharField(primary_key=True, max_length=200, verbose_name=_("key"))
    claimed_at = models.DateTimeField(verbose_name=_("claimed at"))

    class Meta:
        verbose_name = _("concurrency group")
        verbose_name_plural = _("concurrency groups")

    def __str__(self) -> str:
        return self.key


class Switch(models.Model):
    """A switch that holds every runner, one row per name while it is on ("pause_all" today)."""

    name = models.CharField(primary_key=True, max_length=50, verbose_name=_("name"))
    reason = models.TextField(blank=True, verbose_name=_("reason"))
    actor = models.CharField(max_length=200, null=True, blank=True, verbose_name=_("actor"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("switch")
        verbose_name_plural = _("switches")

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    Status = models.TextChoices("Status", [(s.upper(), s) for s in RUN_STATUSES])  # type: ignore[call-overload]

    run_id = models.CharField(primary_key=True, max_length=64, verbose_name=_("run id"))
    # A plain column, not a foreign key: run history outlives the job.
    job_id = models.CharField(max_length=200, verbose_name=_("job id"))
    kind = models.CharField(max_length=64, default="routine", verbose_name=_("kind"))
    status = models.CharField(max_length=16, choices=Status.choices, default="running", verbose_name=_("status"))
    scope = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder, verbose_name=_("scope"))
    input = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder, verbose_name=_("input"))
    metadata = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder, verbose_name=_("metadata"))
    result = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder, verbose_name=_("result"))
    error = models.JSONField(null=True, blank=True, encoder=TimeJSONEncoder, verbose_name=_("error"))
    steps = models.JSONField(default=list, blank=True, encoder=TimeJSONEncoder, verbose_name=_("steps"))
    slot_at = models.DateTimeField(null=True, blank=True, verbose_name=_("slot at"))
    attempt = models.PositiveIntegerField(default=1, verbose_name=_("attempt"))
    manual = models.BooleanField(default=False, verbose_name=_("manual"))
    runner_id = models.CharField(max_length=200, null=True, blank=True, verbose_name=_("runner id"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    # Which incarnation of job_id ran: a job deleted and created again under the same id starts
    # its slots afresh instead of colliding with the old job's history.
    job_created_at = models.DateTimeField(default=EPOCH, verbose_name=_("job created at"))

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
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
    id = models.BigAutoField(primary_key=True, verbose_name=_("id"))
    event_type = models.CharField(max_length=64, verbose_name=_("event type"))
    job_id = models.CharField(max_length=200, verbose_name=_("job id"))
    run_id = models.CharField(max_length=64, null=True, blank=True, verbose_name=_("run id"))
    payload = models.JSONField(default=dict, blank=True, encoder=TimeJSONEncoder, verbose_name=_("payload"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
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
    thread_id = models.CharField(primary_key=True, max_length=64, verbose_name=_("thread id"))
    # Which backend owns the thread ("openai"); another backend's ids are not resumed.
    backend = models.CharField(max_length=64, verbose_name=_("backend"))
    model = models.CharField(max_length=200, blank=True, default="", verbose_name=_("model"))
    system = models.TextField(blank=True, default="", verbose_name=_("system"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")

    def __str__(self) -> str:
        return self.thread_id


class ThreadMessage(models.Model):
    id = models.BigAutoField(primary_key=True, verbose_name=_("id"))
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages", verbose_name=_("thread"))
    # Position in the conversation; unique so that two runs appending at once cannot interleave.
    seq = models.PositiveIntegerField(verbose_name=_("seq"))
    role = models.CharField(max_length=32, verbose_name=_("role"))
    content = models.TextField(verbose_name=_("content"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("thread message")
        verbose_name_plural = _("thread messages")
        constraints = [models.UniqueConstraint(fields=["thread", "seq"], name="routines_threadmessage_seq")]

    def __str__(self) -> str:
        return f"{self.thread_id}#{self.seq} {self.role}"
