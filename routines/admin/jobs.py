"""The job pages: what runs when, what happened last, and why.

Every write goes through ``routines.api``: the form saves with ``api.create``/``api.update``,
the bulk actions and the job page's buttons (``actions``) call ``api.run_now``/``update``/
``cancel`` job by job, and "Run due jobs now" is ``api.run_due``. The changelist reads one
annotated queryset, so its query count does not grow with the number of jobs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten, quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from .. import api, editing, pausing, schedules, targets
from ..clock import db_now
from ..exceptions import RoutineError
from ..models import Job, JobQuerySet, Run
from ..states import DEFINITION_FIELDS
from . import actions, display, panels, preview
from .bases import ModelAdmin
from .forms import JobForm

RUN_DUE_LIMIT = 500
SCHEDULE_TYPES = ("once", "interval", "cron")
# The schedule editor's rows; a new scheduling field is added here and in routines.editing.
SCHEDULE_ROWS = (
    "schedule_type",
    "once_at",
    ("every", "every_unit"),
    "start_at",
    ("cron_expr", "cron_timezone"),
    "catch_up",
    ("misfire", "misfire_grace_seconds", "max_catch_up"),
    "jitter_seconds",
    ("end_at", "max_runs"),
    "schedule",
)


class ScheduleTypeFilter(admin.SimpleListFilter):
    title = _("schedule type")
    parameter_name = "schedule_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in SCHEDULE_TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(schedule_type=self.value()) if self.value() else queryset


class TargetTypeFilter(admin.SimpleListFilter):
    """Lists the registered target types, so the sidebar costs no query."""

    title = _("target type")
    parameter_name = "target_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in sorted(targets.types())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(target_type=self.value()) if self.value() else queryset


class DueFilter(admin.SimpleListFilter):
    """The jobs the next ``run_due`` would pick up (the ``list_due`` rule, lease rescue included)."""

    title = _("due")
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("now", _t("Due now")), ("hour", _t("Due within an hour"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        assert isinstance(queryset, JobQuerySet)  # the admin's queryset comes from Job.objects
        if self.value() == "now":
            return queryset.due_or_rescuable(db_now())
        if self.value() == "hour":
            return queryset.due(db_now() + timedelta(hours=1))
        return queryset


@admin.register(Job)
class JobAdmin(ModelAdmin):
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
    ordering = (F("next_run_at").asc(nulls_last=True), "job_id")  # type: ignore[assignment]  # Django takes expressions
    list_per_page = 100
    actions = (actions.run_now, actions.pause, actions.resume, actions.cancel)
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
        js = ("routines/editor.js",)

    # Queryset and pages ----------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        last = Run.objects.filter(run_id=OuterRef("last_run_id"))
        jobs: QuerySet[Job] = super().get_queryset(request).annotate(last_outcome=Subquery(last.values("status")[:1]))
        return jobs

    def get_fieldsets(self, request: HttpRequest, obj: Job | None = None) -> Any:
        if obj is not None and not self.editable(obj):
            # Busy or finished jobs cannot be updated (job_busy / job_terminal): shown, not offered for edits.
            return [
                (_("State"), {"fields": self.state_fields}),
                (_("Definition"), {"fields": ("job_id", "idempotency_key", *DEFINITION_FIELDS)}),
                (_("Runtime details"), {"fields": self.detail_fields, "classes": ["collapse"]}),
            ]
        editor = [
            (_("Job"), {"fields": ("job_id", "idempotency_key")}),
            (_("Schedule"), {"fields": SCHEDULE_ROWS}),
            (_("What runs"), {"fields": ("target", "payload", ("timeout_ms", "late_after_ms"))}),
            (_("Concurrency"), {"fields": (("concurrency_key", "concurrency_limit"),)}),
            (_("Retries"), {"fields": (("max_attempts", "backoff_seconds"),)}),
            (_("Advanced"), {"fields": ("metadata", "routing_policy", "retry_policy"), "classes": ["collapse"]}),
        ]
        if obj is None:
            return editor
        return [
            (_("State"), {"fields": self.state_fields}),
            *editor,
            (_("Runtime details"), {"fields": self.detail_fields, "classes": ["collapse"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> Any:
        if obj is None:
            return ()
        readonly = ("job_id", *flatten(self.state_fields), *flatten(self.detail_fields))
        return readonly if self.editable(obj) else (*readonly, "idempotency_key", *DEFINITION_FIELDS)

    @staticmethod
    def editable(obj: Job) -> bool:
        return obj.state in api.EDITABLE_STATES

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        """A busy or finished job's page is a view page: no Save buttons for a save that would be refused."""
        if obj is not None and not self.editable(obj):
            return False
        return super().has_change_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Job | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # The journal events of the form's write name the user (api ``actor``).
        return type(form.__name__, (form,), {"actor": request.user.get_username()})

    def save_model(self, request: HttpRequest, obj: Job, form: Any, change: bool) -> None:
        """The form already wrote through the API while validating; only its warnings are left to show."""
        for warning in getattr(form, "warnings", ()):
            self.message_user(request, warning, messages.WARNING)

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        if obj is not None and obj.state == "running":
            return False  # api.delete refuses with job_busy; don't offer it
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        try:
            api.delete(obj.job_id, actor=request.user.get_username())
        except RoutineError as exc:  # started running since the page was shown
            message = _t("“%(job_id)s” was not deleted: %(code)s (%(detail)s)")
            self.message_user(
                request, message % {"job_id": obj.job_id, "code": exc.code, "detail": exc.detail}, messages.ERROR
            )

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # action_location is Django 6.1's parameter; 5.2 calls without it.
        kwargs = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **kwargs)
        actions.pop("delete_selected", None)  # bulk delete would skip api.delete and its journal
        return actions

    def get_urls(self) -> list[Any]:
        urls = [
            path("run-due/", self.admin_site.admin_view(self.run_due_view), name="routines_job_run_due"),
            path(
                "pause-all/", self.admin_site.admin_view(self.switch_view), {"on": True}, name="routines_job_pause_all"
            ),
            path(
                "resume-all/",
                self.admin_site.admin_view(self.switch_view),
                {"on": False},
                name="routines_job_resume_all",
            ),
            path(
                "schedule-preview/",
                self.admin_site.admin_view(preview.schedule_preview),
                name="routines_job_schedule_preview",
            ),
            *(
                path(
                    f"<path:object_id>/{name}/",
                    self.admin_site.admin_view(self.step_view),
                    {"step": name},
                    name=f"routines_job_{name.replace('-', '_')}",
                )
                for name in actions.STEPS
            ),
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
                (_("Recent runs (newest first)"), panels.recent_runs(job)),
                (_("Journal (newest first)"), panels.journal(job)),
            ]
            if super().has_change_permission(request, job):
                extra["routines_steps"] = [
                    {"name": step.name, "label": step.label, "url": self.step_url(job, step.name)}
                    for step in actions.allowed_steps(job.state)
                ]
        extra.update(self.editor_context())
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {**self.editor_context(), **(extra_context or {})}
        return super().add_view(request, form_url, extra_context=extra)

    @staticmethod
    def editor_context() -> dict[str, Any]:
        """What the editor's script needs: the rows of each schedule type and the preview URL."""
        return {
            "routines_editor_fields": {
                "fields": editing.EDITOR_FIELDS,
                "preview_url": reverse("admin:routines_job_schedule_preview"),
                "preview_title": _t("Next run times"),
            }
        }

    @staticmethod
    def step_url(job: Job, name: str) -> str:
        return reverse(f"admin:routines_job_{name.replace('-', '_')}", args=[quote(job.job_id)])

    def step_view(self, request: HttpRequest, object_id: str, step: str) -> HttpResponse:
        """A job page button: POST only; Cancel asks first (confirming posts ``post=yes``)."""
        job = self.get_object(request, unquote(object_id))
        if job is None:
            raise Http404(_t("No job with this id."))
        page = reverse("admin:routines_job_change", args=[quote(job.job_id)])
        if not super().has_change_permission(request, job):
            raise PermissionDenied
        if step == "cancel" and (request.method != "POST" or request.POST.get("post") != "yes"):
            return actions.confirm_cancel(self, request, [job.job_id], bulk=False)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        options = {"until": request.POST["until"]} if step == "pause" and request.POST.get("until") else {}
        actions.apply_step(self, request, actions.STEPS[step], [job.job_id], **options)
        return HttpResponseRedirect(page)

    def switch_view(self, request: HttpRequest, on: bool) -> HttpResponse:
        """The changelist's button that pauses (or resumes) every runner."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        (actions.pause_all if on else actions.resume_all)(self, request)
        return HttpResponseRedirect(reverse("admin:routines_job_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        paused = pausing.paused_all()
        shown = {"reason": paused.reason or "—", "since": display.stamp(paused.since)} if paused else None
        extra = {"can_run_due": self.has_change_permission(request), "routines_paused_all": shown}
        extra.update(extra_context or {})
        return super().changelist_view(request, extra_context=extra)

    def run_due_view(self, request: HttpRequest) -> HttpResponse:
        """Execute what is due now through the same runner ``manage.py run_due`` uses."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        results = api.run_due({"limit": RUN_DUE_LIMIT})
        if not results:
            self.message_user(request, _t("Nothing was due."), messages.INFO)
        else:
            outcomes: dict[str, int] = {}
            for result in results:
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
            level = messages.WARNING if outcomes.get("failed") else messages.SUCCESS
            message = _t("Ran %(count)d due job attempts: %(summary)s.") % {"count": len(results), "summary": summary}
            self.message_user(request, message, level)
        return HttpResponseRedirect(reverse("admin:routines_job_changelist"))

    # Columns ---------------------------------------------------------------------------------

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, obj: Job) -> SafeString | str:
        return display.badge(obj.state)

    @admin.display(description=_("schedule"))
    def schedule_summary(self, obj: Job) -> str:
        if obj.schedule.get("type") == "once" and obj.schedule.get("at"):
            return _t("once at %s") % display.stamp(obj.schedule["at"], short=True)
        try:
            return schedules.describe(
                obj.schedule,
                end_at=obj.end_at,
                max_runs=obj.max_runs,
                concurrency_key=obj.concurrency_key,
                concurrency_limit=obj.concurrency_limit,
            )
        except Exception:  # a schedule type this version cannot describe must not break the page
            return str(obj.schedule.get("type", "?"))

    @admin.display(description=_("next run"), ordering="next_run_at")
    def next_run(self, obj: Job) -> SafeString | str:
        if obj.state == "running":
            return format_html("{}<br>{}", display.badge("running"), display.when(obj.current_slot_at, "slot"))
        if obj.next_run_at is None:
            return display.EMPTY
        relative = display.until(obj.next_run_at, timezone.now())
        if relative.endswith("overdue") and obj.state != "paused":
            relative = format_html('<span class="routines-overdue">{}</span>', relative)
        zone = obj.schedule.get("timezone") if obj.schedule.get("type") == "cron" else None
        return display.when(obj.next_run_at, relative, zone)

    @admin.display(description=_("last run"), ordering="last_run_at")
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

    @admin.display(description=_("attempts"))
    def attempts(self, obj: Job) -> str:
        max_attempts = (obj.retry_policy or {}).get("max_attempts", 1)
        return f"{obj.attempt_count} / {max_attempts}"

    @admin.display(description=_("next run times"))
    def upcoming_runs(self, obj: Job) -> SafeString | str:
        zone = obj.schedule.get("timezone") if obj.schedule.get("type") == "cron" else None
        return panels.upcoming_list(panels.upcoming(obj), zone)
