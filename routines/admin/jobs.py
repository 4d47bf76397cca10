"""The job pages: what runs when, what happened last, and why (SPEC §8).

Every write goes through ``routines.api``: the form saves with ``api.create``/``api.update``,
the actions call ``api.run_now``/``update``/``cancel`` job by job and report each job's outcome,
and "Run due jobs now" is ``api.run_due``. The changelist reads one annotated queryset, so its
query count does not grow with the number of jobs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .. import api, schedules, targets
from ..clock import db_now
from ..exceptions import RoutineError
from ..models import Event, Job, Run
from ..states import TERMINAL_STATES
from . import display
from .forms import JobForm

RECENT_RUNS = 20
RECENT_EVENTS = 20
UPCOMING = 5
RUN_DUE_LIMIT = 500
SCHEDULE_TYPES = ("once", "interval", "cron")


class ScheduleTypeFilter(admin.SimpleListFilter):
    title = "schedule type"
    parameter_name = "schedule_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in SCHEDULE_TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(schedule_type=self.value()) if self.value() else queryset


class TargetTypeFilter(admin.SimpleListFilter):
    """Lists the registered target types, so the sidebar costs no query."""

    title = "target type"
    parameter_name = "target_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in sorted(targets.types())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(target_type=self.value()) if self.value() else queryset


class DueFilter(admin.SimpleListFilter):
    """The jobs the next ``run_due`` would pick up (the ``list_due`` rule, lease rescue included)."""

    title = "due"
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("now", "Due now"), ("hour", "Due within an hour")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        if self.value() == "now":
            return queryset.due_or_rescuable(db_now())  # type: ignore[attr-defined]
        if self.value() == "hour":
            return queryset.due(db_now() + timedelta(hours=1))  # type: ignore[attr-defined]
        return queryset


def _per_job(
    modeladmin: JobAdmin,
    request: HttpRequest,
    queryset: QuerySet[Job],
    verb: str,
    apply: Callable[[str], str | None],
) -> None:
    """Apply one API call per selected job; one message for the jobs done, one per job that failed."""
    done: list[str] = []
    for job_id in queryset.order_by("job_id").values_list("job_id", flat=True):
        try:
            note = apply(job_id)
        except RoutineError as exc:
            modeladmin.message_user(request, f"{job_id}: not {verb}: {exc.code} ({exc.detail})", messages.ERROR)
            continue
        done.append(f"{job_id} ({note})" if note else job_id)
    if done:
        noun = "job" if len(done) == 1 else "jobs"
        modeladmin.message_user(request, f"{verb.capitalize()} {len(done)} {noun}: {', '.join(done)}", messages.SUCCESS)


@admin.action(description="Run selected jobs now (manual run)", permissions=["change"])
def run_now(modeladmin: JobAdmin, request: HttpRequest, queryset: QuerySet[Job]) -> None:
    def apply(job_id: str) -> str:
        run = api.run_now(job_id)
        return f"{run.run_id} {run.status}"

    _per_job(modeladmin, request, queryset, "ran", apply)


@admin.action(description="Pause selected jobs", permissions=["change"])
def pause(modeladmin: JobAdmin, request: HttpRequest, queryset: QuerySet[Job]) -> None:
    _per_job(modeladmin, request, queryset, "paused", lambda job_id: _set_state(job_id, "paused"))


@admin.action(description="Resume selected jobs", permissions=["change"])
def resume(modeladmin: JobAdmin, request: HttpRequest, queryset: QuerySet[Job]) -> None:
    _per_job(modeladmin, request, queryset, "resumed", lambda job_id: _set_state(job_id, "active"))


@admin.action(description="Cancel selected jobs", permissions=["change"])
def cancel(modeladmin: JobAdmin, request: HttpRequest, queryset: QuerySet[Job]) -> None:
    _per_job(modeladmin, request, queryset, "cancelled", lambda job_id: api.cancel(job_id))


def _set_state(job_id: str, state: str) -> str | None:
    before = api.get(job_id).state
    api.update(job_id, {"state": state})
    return "already " + state if before == state else None


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    form = JobForm
    change_list_template = "admin/routines/job/change_list.html"
    list_display = (
        "job_id",
        "state_badge",
        "schedule_summary",
        "target_type",
        "next_run",
        "last_run",
        "attempts",
    )
    list_display_links = ("job_id",)
    list_filter = ("state", DueFilter, ScheduleTypeFilter, TargetTypeFilter)
    search_fields = ("job_id", "idempotency_key")
    ordering = (F("next_run_at").asc(nulls_last=True), "job_id")
    list_per_page = 100
    actions = (run_now, pause, resume, cancel)
    state_fields = (
        ("state_badge", "attempts"),
        "schedule_summary",
        "next_run",
        "upcoming_runs",
        ("last_run", "last_run_id"),
        "last_result",
        "last_error",
    )
    detail_fields = (
        ("next_run_at", "attempt_count"),
        ("current_run_id", "current_slot_at"),
        ("claimed_by", "lease_expires_at"),
        ("created_at", "updated_at"),
        ("cancelled_at", "completed_at"),
    )

    class Media:
        css = {"all": ("routines/admin.css",)}

    # Queryset and pages ----------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        last = Run.objects.filter(run_id=OuterRef("last_run_id"))
        return super().get_queryset(request).annotate(last_outcome=Subquery(last.values("status")[:1]))

    def get_fieldsets(self, request: HttpRequest, obj: Job | None = None) -> Any:
        definition = (
            "Definition",
            {
                "fields": (
                    "job_id",
                    "idempotency_key",
                    "schedule",
                    "target",
                    "payload",
                    "metadata",
                    "routing_policy",
                    "retry_policy",
                    "timeout_ms",
                )
            },
        )
        if obj is None:
            return [definition]
        return [
            ("State", {"fields": self.state_fields}),
            definition,
            ("Runtime details", {"fields": self.detail_fields, "classes": ["collapse"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> Any:
        if obj is None:
            return ()
        readonly = ("job_id", *flatten(self.state_fields), *flatten(self.detail_fields))
        if obj.state in api.EDITABLE_STATES:
            return readonly
        # Busy or finished jobs cannot be updated (job_busy / job_terminal): show them, don't offer edits.
        return (
            *readonly,
            "idempotency_key",
            "schedule",
            "target",
            "payload",
            "metadata",
            "routing_policy",
            "retry_policy",
            "timeout_ms",
        )

    def save_model(self, request: HttpRequest, obj: Job, form: Any, change: bool) -> None:
        """The form already wrote through the API while validating; nothing is left to save."""

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        if obj is not None and obj.state == "running":
            return False  # api.delete refuses with job_busy; don't offer it
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        try:
            api.delete(obj.job_id)
        except RoutineError as exc:  # started running since the page was shown
            self.message_user(request, f"{obj.job_id}: not deleted: {exc.code} ({exc.detail})", messages.ERROR)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # action_location is Django 6.1's parameter; 5.2 calls without it.
        kwargs = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **kwargs)
        actions.pop("delete_selected", None)  # bulk delete would skip api.delete and its journal
        return actions

    def get_urls(self) -> list[Any]:
        urls = [
            path("run-due/", self.admin_site.admin_view(self.run_due_view), name="routines_job_run_due"),
        ]
        return urls + super().get_urls()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Runs and journal go below the form as full-width tables, the way an inline would."""
        extra = dict(extra_context or {})
        job = self.get_object(request, object_id)
        if job is not None:
            extra["routines_panels"] = [
                ("Recent runs (newest first)", self.recent_runs(job)),
                ("Journal (newest first)", self.journal(job)),
            ]
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"can_run_due": self.has_change_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def run_due_view(self, request: HttpRequest) -> HttpResponse:
        """Execute what is due now through the same runner ``manage.py run_due`` uses."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        results = api.run_due({"limit": RUN_DUE_LIMIT})
        if not results:
            self.message_user(request, "Nothing was due.", messages.INFO)
        else:
            outcomes: dict[str, int] = {}
            for result in results:
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
            level = messages.WARNING if outcomes.get("failed") else messages.SUCCESS
            self.message_user(request, f"Ran {len(results)} due job attempts: {summary}.", level)
        return HttpResponseRedirect(reverse("admin:routines_job_changelist"))

    # Columns ---------------------------------------------------------------------------------

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: Job) -> SafeString | str:
        return display.badge(obj.state)

    @admin.display(description="schedule")
    def schedule_summary(self, obj: Job) -> str:
        try:
            return schedules.describe(obj.schedule)
        except Exception:  # a schedule type this version cannot describe must not break the page
            return str(obj.schedule.get("type", "?"))

    @admin.display(description="next run", ordering="next_run_at")
    def next_run(self, obj: Job) -> SafeString | str:
        if obj.state == "running":
            return format_html("{}<br>{}", display.badge("running"), display.when(obj.current_slot_at, "slot"))
        if obj.next_run_at is None:
            return display.EMPTY
        relative = display.until(obj.next_run_at, timezone.now())
        if relative.endswith("overdue") and obj.state != "paused":
            relative = format_html('<span class="routines-overdue">{}</span>', relative)
        return display.when(obj.next_run_at, relative)

    @admin.display(description="last run", ordering="last_run_at")
    def last_run(self, obj: Job) -> SafeString | str:
        if obj.last_run_at is None:
            return display.EMPTY
        outcome = getattr(obj, "last_outcome", None)
        url = display.change_url("run", obj.last_run_id) if obj.last_run_id else None
        relative = display.ago(obj.last_run_at, timezone.now())
        link = format_html('<a href="{}">{}</a>', url, relative) if url else relative
        return format_html(
            '{} {}<br><small class="routines-stamp">{}</small>',
            display.badge(outcome),
            link,
            display.stamp(obj.last_run_at, short=True),
        )

    @admin.display(description="attempts")
    def attempts(self, obj: Job) -> str:
        max_attempts = (obj.retry_policy or {}).get("max_attempts", 1)
        return f"{obj.attempt_count} / {max_attempts}"

    # Change page panels ----------------------------------------------------------------------

    @admin.display(description="next run times")
    def upcoming_runs(self, obj: Job) -> SafeString | str:
        slots = _upcoming(obj)
        if not slots:
            return "none"
        now = timezone.now()
        return format_html(
            '<ul class="routines-upcoming">{}</ul>',
            format_html_join(
                "",
                "<li>{} <small class='routines-stamp'>({})</small></li>",
                ((display.stamp(s), display.until(s, now)) for s in slots),
            ),
        )

    def recent_runs(self, obj: Job) -> SafeString | str:
        runs = list(Run.objects.filter(job_id=obj.job_id).order_by("-started_at", "-run_id")[:RECENT_RUNS])
        if not runs:
            return "No runs yet."
        rows = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td class='routines-nowrap'>{}</td><td>{}</td>"
            "<td class='routines-nowrap'>{}</td><td class='routines-nowrap'>{}</td>"
            "<td class='routines-json-cell'><pre>{}</pre></td></tr>",
            (
                (
                    display.change_url("run", run.run_id),
                    run.run_id,
                    display.badge(run.status),
                    "manual" if run.manual else display.stamp(run.slot_at),
                    run.attempt,
                    display.stamp(run.started_at),
                    display.duration(run.started_at, run.finished_at),
                    _short_json(run.error if run.error is not None else run.result),
                )
                for run in runs
            ),
        )
        all_runs = reverse("admin:routines_run_changelist") + f"?job_id={obj.job_id}"
        return format_html(
            '<table class="routines-table routines-runs"><thead><tr><th>run</th><th>status</th><th>slot</th>'
            "<th>attempt</th><th>started</th><th>took</th><th>result / error</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}">All runs of this job</a></p>',
            rows,
            all_runs,
        )

    def journal(self, obj: Job) -> SafeString | str:
        events = list(Event.objects.filter(job_id=obj.job_id).order_by("-id")[:RECENT_EVENTS])
        if not events:
            return "No events."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class='routines-json-cell'><pre>{}</pre></td></tr>",
            (
                (display.stamp(e.created_at), e.event_type, e.run_id or display.EMPTY, _short_json(e.payload))
                for e in events
            ),
        )
        all_events = reverse("admin:routines_event_changelist") + f"?job_id={obj.job_id}"
        return format_html(
            '<table class="routines-table routines-events"><thead><tr><th>at</th><th>event</th><th>run</th>'
            '<th>payload</th></tr></thead><tbody>{}</tbody></table><p><a href="{}">All events of this job</a></p>',
            rows,
            all_events,
        )


def _upcoming(job: Job) -> list[datetime]:
    """The next run times if every run were on time, starting from the slot that is due next."""
    if job.state in TERMINAL_STATES or job.next_run_at is None:
        return []
    schedule = dict(job.schedule)
    first = job.current_slot_at if job.state in ("running", "retry_waiting") and job.current_slot_at else None
    first = first or job.next_run_at
    if schedule.get("type") == "interval":
        schedule["start_at"] = first  # later slots follow the slot due next, not the original start
    try:
        return [first, *schedules.upcoming(schedule, first, UPCOMING - 1)]
    except Exception:  # display only: a schedule this version cannot project shows just its next slot
        return [first]


def _short_json(value: Any, limit: int = 300) -> str:
    if value is None:
        return display.EMPTY
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
