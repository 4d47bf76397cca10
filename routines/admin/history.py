"""Read-only history pages: runs and journal events.

Rows here are written only by the runner and the API, so these admins allow viewing and nothing
else. Both tables grow without bound, so the pages avoid a second COUNT and list filters that
would scan for distinct values (the run kind filter offers a fixed list). Times use the one
format of ``display.stamp``; JSON is shown indented, a failed run's traceback as text.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from ..models import Event, Run
from . import display
from .bases import ModelAdmin
from .panels import short_json

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

    title = _("job")
    parameter_name = "job_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = request.GET.get(self.parameter_name)
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(job_id=self.value()) if self.value() else queryset


class EventTypeFilter(admin.SimpleListFilter):
    title = _("event type")
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t.removeprefix("routine_").replace("_", " ")) for t in EVENT_TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class ReadOnlyAdmin(ModelAdmin):
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


class KindFilter(admin.SimpleListFilter):
    """A fixed choice list: listing the kinds in use would scan the whole Run table on every page."""

    title = _("kind")
    parameter_name = "kind"
    KINDS = ("routine",)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = request.GET.get(self.parameter_name)
        kinds = [*self.KINDS, *([value] if value and value not in self.KINDS and value != "other" else [])]
        return [*((k, k) for k in kinds), ("other", _t("other"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> QuerySet[Run]:
        if self.value() == "other":
            return queryset.exclude(kind__in=self.KINDS)
        return queryset.filter(kind=self.value()) if self.value() else queryset


def json_block(value: Any) -> SafeString | str:
    if value is None:
        return display.EMPTY
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return format_html('<pre class="routines-json-block">{}</pre>', text)


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ("run_id", "job", "status_badge", "slot", "attempt", "started", "took")
    list_filter = ("status", "manual", JobIdFilter, KindFilter)
    search_fields = ("=run_id", "=job_id")
    ordering = ("-started_at", "-run_id")
    date_hierarchy = None
    fieldsets = (
        (None, {"fields": (("status_badge", "job"), ("slot", "attempt", "manual"), ("started", "finished", "took"))}),
        (_("Outcome"), {"fields": ("result_json", "error_json", "traceback")}),
        (
            _("Details"),
            {"fields": ("run_id", "kind", "runner_id", "scope_json", "input_json", "metadata_json", "steps_json")},
        ),
    )
    readonly_fields = (
        "status_badge",
        "job",
        "slot",
        "attempt",
        "manual",
        "started",
        "finished",
        "took",
        "result_json",
        "error_json",
        "traceback",
        "run_id",
        "kind",
        "runner_id",
        "scope_json",
        "input_json",
        "metadata_json",
        "steps_json",
    )

    @admin.display(description=_("job"), ordering="job_id")
    def job(self, obj: Run) -> SafeString:
        return job_link(obj.job_id)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Run) -> SafeString | str:
        return display.badge(obj.status)

    @admin.display(description=_("slot"), ordering="slot_at")
    def slot(self, obj: Run) -> str:
        return _t("manual") if obj.manual else display.stamp(obj.slot_at)

    @admin.display(description=_("started"), ordering="started_at")
    def started(self, obj: Run) -> str:
        return display.stamp(obj.started_at)

    @admin.display(description=_("finished"), ordering="finished_at")
    def finished(self, obj: Run) -> str:
        return display.stamp(obj.finished_at)

    @admin.display(description=_("took"))
    def took(self, obj: Run) -> str:
        return display.duration(obj.started_at, obj.finished_at)

    @admin.display(description=_("result"))
    def result_json(self, obj: Run) -> SafeString | str:
        return json_block(obj.result)

    @admin.display(description=_("error"))
    def error_json(self, obj: Run) -> SafeString | str:
        error = obj.error
        if isinstance(error, dict) and "traceback" in error:
            error = {k: v for k, v in error.items() if k != "traceback"}
        return json_block(error)

    @admin.display(description=_("traceback"))
    def traceback(self, obj: Run) -> SafeString | str:
        trace = obj.error.get("traceback") if isinstance(obj.error, dict) else None
        if not isinstance(trace, str):
            return display.EMPTY
        return format_html('<pre class="routines-json-block routines-traceback">{}</pre>', trace)

    @admin.display(description=_("scope"))
    def scope_json(self, obj: Run) -> SafeString | str:
        return json_block(obj.scope)

    @admin.display(description=_("input"))
    def input_json(self, obj: Run) -> SafeString | str:
        return json_block(obj.input)

    @admin.display(description=_("metadata"))
    def metadata_json(self, obj: Run) -> SafeString | str:
        return json_block(obj.metadata)

    @admin.display(description=_("steps"))
    def steps_json(self, obj: Run) -> SafeString | str:
        return json_block(obj.steps)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "event_type", "job", "run", "payload_short")
    list_filter = (EventTypeFilter, JobIdFilter)
    search_fields = ("=job_id", "=run_id")
    ordering = ("-id",)
    fields = ("id", "at", "event_type", "job", "run", "payload_json")
    readonly_fields = fields

    @admin.display(description=_("at"), ordering="id")
    def at(self, obj: Event) -> str:
        return display.stamp(obj.created_at)

    @admin.display(description=_("payload"))
    def payload_short(self, obj: Event) -> SafeString:
        return format_html('<span class="routines-payload">{}</span>', short_json(obj.payload, limit=160))

    @admin.display(description=_("payload"))
    def payload_json(self, obj: Event) -> SafeString | str:
        return json_block(obj.payload)

    @admin.display(description=_("job"), ordering="job_id")
    def job(self, obj: Event) -> SafeString:
        return job_link(obj.job_id)

    @admin.display(description=_("run"))
    def run(self, obj: Event) -> SafeString | str:
        if not obj.run_id:
            return display.EMPTY
        return format_html('<a href="{}">{}</a>', display.change_url("run", obj.run_id), obj.run_id)
