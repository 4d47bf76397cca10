"""The editor's preview: the next run times of the schedule being edited, before it is saved.

The page posts the editor's fields here as the operator types; the answer is computed with the
same rules as a save (``routines.editing`` → ``api.normalize`` → ``schedules.projected``) and
writes nothing.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _t

from .. import api, editing, schedules
from ..exceptions import InvalidInput
from . import display, editor
from .panels import UPCOMING


def schedule_preview(request: HttpRequest) -> JsonResponse | HttpResponseNotAllowed:
    """``{"times": [...]}`` (formatted like every routines page) or ``{"error": message}``."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    fields = editor.ScheduleEditorFields(request.POST)
    editor.fill_zone_choices(fields.fields["cron_timezone"])  # type: ignore[arg-type]
    if not fields.is_valid():
        return JsonResponse({"error": " ".join(str(m) for errs in fields.errors.values() for m in errs)})
    values = dict(fields.cleaned_data)
    if values.get("schedule_type") == "json":
        try:
            values["schedule"] = json.loads(request.POST.get("schedule", ""))
        except ValueError:
            return JsonResponse({"error": _t("Enter a valid JSON.")})
    schedule, errors = editing.schedule_from_fields(values)
    if errors:
        return JsonResponse({"error": " ".join(str(editor.EDITOR_ERRORS[code]) for code in errors.values())})
    now = timezone.now()
    try:
        normalized = api.normalize({"schedule": schedule}, patch=True, now=now)["schedule"]
    except InvalidInput as exc:
        return JsonResponse({"error": exc.detail})
    first = schedules.first_slot(normalized, now)
    if first is None:
        return JsonResponse({"times": []})
    zone = normalized.get("timezone") if normalized["type"] == "cron" else None
    slots = schedules.projected(normalized, first, now, UPCOMING)
    return JsonResponse({"times": [f"{display.stamp(s, zone=zone)} ({display.until(s, now)})" for s in slots]})
