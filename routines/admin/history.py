"""Read-only history pages: runs and journal events (SPEC §8).

Rows here are written only by the runner and the API, so these admins allow viewing and nothing
else. Both tables grow without bound, so the pages avoid a second COUNT and list filters that
would scan for distinct values.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import Event, Run
from . import display

EVENT_TYPES = (
    "routine_created",
    "routine_updated",
    "routine_cancelled",
    "routine_deleted",
    "routine_run_completed",
    "routine_run_failed",
    "routine_run_cancelled",
    "routine_retry_scheduled",
    "routine_lease_expired",
    "routine_policy_denied",
)


class JobIdFilter(admin.SimpleListFilter):
    """``?job_id=…`` (linked from a job's page), shown in the sidebar so it can be cleared."""

    title = "job"
    parameter_name = "job_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = request.GET.get(self.parameter_name)
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(job_id=self.value()) if self.value() else queryset


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t.removeprefix("routine_").replace("_", " ")) for t in EVENT_TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False
    list_per_page = 100

    class Media:
        css = {"all": ("routines/admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def job_link(job_id: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', display.change_url("job", job_id), job_id)


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ("run_id", "job", "status_badge", "slot_at", "attempt", "manual", "started_at", "finished_at")
    list_filter = ("status", "manual", JobIdFilter, "kind")
    search_fields = ("=run_id", "=job_id")
    ordering = ("-started_at", "-run_id")
    date_hierarchy = None

    @admin.display(description="job", ordering="job_id")
    def job(self, obj: Run) -> SafeString:
        return job_link(obj.job_id)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Run) -> SafeString | str:
        return display.badge(obj.status)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "event_type", "job", "run", "payload")
    list_filter = (EventTypeFilter, JobIdFilter)
    search_fields = ("=job_id", "=run_id")
    ordering = ("-id",)

    @admin.display(description="job", ordering="job_id")
    def job(self, obj: Event) -> SafeString:
        return job_link(obj.job_id)

    @admin.display(description="run")
    def run(self, obj: Event) -> SafeString | str:
        if not obj.run_id:
            return display.EMPTY
        return format_html('<a href="{}">{}</a>', display.change_url("run", obj.run_id), obj.run_id)
