"""Conversation threads of the OpenAI-compatible session backend, for reading and forgetting.

A thread is replayed to the model on every query that resumes it, so an operator needs to see
what it holds and to delete it to start the conversation afresh; messages are never edited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..models import Thread, ThreadMessage
from .bases import TabularInline
from .history import ReadOnlyAdmin


class MessageInline(TabularInline):
    model = ThreadMessage
    fields = ("seq", "role", "content", "created_at")
    readonly_fields = fields
    ordering = ("seq",)
    extra = 0
    can_delete = False
    verbose_name_plural = "messages"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Thread)
class ThreadAdmin(ReadOnlyAdmin):
    list_display = ("thread_id", "backend", "model", "message_count", "created_at", "updated_at")
    list_filter = ("backend",)
    search_fields = ("=thread_id", "model")
    ordering = ("-updated_at", "thread_id")
    fields = ("thread_id", "backend", "model", "system", "created_at", "updated_at")
    readonly_fields = fields
    inlines = (MessageInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Thread]:
        threads: QuerySet[Thread] = super().get_queryset(request).annotate(message_total=Count("messages"))
        return threads

    @admin.display(description=_("messages"), ordering="message_total")
    def message_count(self, obj: Thread) -> int:
        total: int = obj.message_total  # type: ignore[attr-defined]
        return total

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)
