"""django-filter FilterSets that document the query string and hand it to ``routines.api``.

The FilterSets only turn query-string text into the API's filter values (digits into epoch ms,
``true``/``false`` into booleans); ``api.filter_jobs``/``api.filter_runs`` check and apply them,
so an unknown state or a bad time gives the same ``invalid_filter`` error as in Python.
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend

from routines import api
from routines.exceptions import InvalidInput
from routines.models import Event, Job, Run
from routines.states import RUN_STATUSES, STATES

_INT = re.compile(r"-?[0-9]{1,30}")
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def int_param(value: str) -> int | str:
    """Digits become an int (epoch ms, a limit); anything else goes on for the API to refuse."""
    return int(value) if _INT.fullmatch(value) else value


def bool_param(value: str) -> bool | str:
    return BOOLEANS.get(value.lower(), value)


def given(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value not in (None, "")}


class JobFilterSet(django_filters.FilterSet):
    job_id = django_filters.CharFilter(help_text=gettext_lazy("exact job id"))
    state = django_filters.ChoiceFilter(choices=[(s, s) for s in STATES])
    schedule_type = django_filters.CharFilter(help_text=gettext_lazy("once, interval, cron"))
    target_type = django_filters.CharFilter(help_text=gettext_lazy("run, query, callable, task or a registered type"))
    due_before = django_filters.CharFilter(help_text=gettext_lazy("ISO 8601 or epoch ms; next_run_at <= due_before"))

    class Meta:
        model = Job
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Job]) -> QuerySet[Job]:
        data = given(self.form.cleaned_data)
        if "due_before" in data:
            data["due_before"] = int_param(data["due_before"])
        return api.filter_jobs(data)


class RunFilterSet(django_filters.FilterSet):
    job_id = django_filters.CharFilter(help_text=gettext_lazy("exact job id"))
    status = django_filters.ChoiceFilter(choices=[(s, s) for s in RUN_STATUSES])
    manual = django_filters.CharFilter(help_text=gettext_lazy("true or false"))

    class Meta:
        model = Run
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Run]) -> QuerySet[Run]:
        data = given(self.form.cleaned_data)
        if "manual" in data:
            data["manual"] = bool_param(data["manual"])
        return api.filter_runs(data)


class EventFilterSet(django_filters.FilterSet):
    job_id = django_filters.CharFilter(help_text=gettext_lazy("exact job id"))
    run_id = django_filters.CharFilter(help_text=gettext_lazy("exact run id"))
    event_type = django_filters.CharFilter(help_text=gettext_lazy("exact type, e.g. routine_run_failed"))
    created_after = django_filters.CharFilter(
        help_text=gettext_lazy("ISO 8601 or epoch ms; created_at > created_after")
    )
    created_before = django_filters.CharFilter(
        help_text=gettext_lazy("ISO 8601 or epoch ms; created_at <= created_before")
    )

    class Meta:
        model = Event
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Event]) -> QuerySet[Event]:
        data = given(self.form.cleaned_data)
        for key in ("created_after", "created_before"):
            if key in data:
                data[key] = int_param(data[key])
        return api.filter_events(data)


class FilterBackend(DjangoFilterBackend):
    """Reports a query string the form refuses as ``invalid_filter`` naming the parameter."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            field, errors = next(iter(filterset.errors.items()))
            raise InvalidInput(f"{field}: {' '.join(errors)}", code="invalid_filter", field=field)
        filtered: QuerySet[Any] = filterset.qs
        return filtered
