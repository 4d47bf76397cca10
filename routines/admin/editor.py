"""The structured editor's form fields: a schedule and a retry policy as plain inputs instead of JSON.

Which field belongs to which schedule type, and how fields become a schedule, is defined in the
pure ``routines.editing``; this module only declares the Django fields and the page's hints
(the target examples, the time zone list). ``JobForm`` mixes these fields in.
"""

from __future__ import annotations

import json
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .. import editing, targets

# Messages for the error codes of routines.editing.
EDITOR_ERRORS = {
    editing.REQUIRED: _("This field is required for this schedule type."),
    editing.TOO_SMALL: _("Enter a whole number, 1 or more."),
    editing.NEGATIVE: _("Enter a whole number, 0 or more."),
    editing.UNKNOWN: _("Choose one of the offered values."),
}
SCHEDULE_TYPE_CHOICES = [
    ("once", _("Once, at a date and time")),
    ("interval", _("Every N seconds, minutes, hours or days")),
    ("cron", _("Cron: days of the week, times of day")),
    ("json", _("Advanced: the schedule as JSON")),
]
MISFIRE_CHOICES = [
    ("", _("As “Catch up” says")),
    ("latest", _("Run once for all of them")),
    ("all", _("Replay each one")),
    ("skip", _("Skip them")),
]
UNIT_CHOICES = [
    ("seconds", _("seconds")),
    ("minutes", _("minutes")),
    ("hours", _("hours")),
    ("days", _("days")),
]


@cache
def zone_choices() -> list[tuple[str, str]]:
    """IANA names for the cron time zone select (read once: the tz database does not change at runtime)."""
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker; values are in the current time zone."""

    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(attrs={"step": 1}, format="%Y-%m-%dT%H:%M:%S")


class LocalDateTimeField(forms.DateTimeField):
    """A date and time to the second: stored times with microseconds shown again do not count as edited."""

    widget = LocalDateTimeInput

    def has_changed(self, initial: Any, data: Any) -> bool:
        if isinstance(initial, datetime):
            initial = initial.replace(microsecond=0)
        return super().has_changed(initial, data)


class ScheduleEditorFields(forms.Form):
    """Declares the editor's fields; their names are part of the admin's contract."""

    schedule_type = forms.ChoiceField(
        label=_("Schedule type"), choices=SCHEDULE_TYPE_CHOICES, required=False, initial="interval"
    )
    once_at = LocalDateTimeField(
        label=_("Run at"), required=False, help_text=_("Date and time in the current time zone.")
    )
    every = forms.IntegerField(label=_("Every"), required=False, min_value=1, initial=5)
    every_unit = forms.ChoiceField(label=_("Unit"), choices=UNIT_CHOICES, required=False, initial="minutes")
    start_at = LocalDateTimeField(
        label=_("Starting at"),
        required=False,
        help_text=_("The first run, in the current time zone. Leave blank to start now."),
    )
    cron_expr = forms.CharField(
        label=_("Cron expression"),
        required=False,
        max_length=200,
        help_text=_(
            "Five fields: minute hour day-of-month month day-of-week. "
            "“0 9 * * 1-5” is every weekday at 09:00; “*/15 * * * *” every 15 minutes; @daily is midnight."
        ),
    )
    cron_timezone = forms.ChoiceField(label=_("Time zone"), required=False, choices=())
    catch_up = forms.BooleanField(
        label=_("Catch up"),
        required=False,
        help_text=_("Replay every slot missed while no runner ran, one by one, instead of skipping to the next."),
    )
    misfire = forms.ChoiceField(
        label=_("Missed runs"),
        required=False,
        choices=MISFIRE_CHOICES,
        help_text=_("What happens to runs that were due while no runner ran."),
    )
    misfire_grace_seconds = forms.IntegerField(
        label=_("Missed after (seconds)"),
        required=False,
        min_value=0,
        help_text=_("A run reached more than this late counts as missed. Blank: one minute when skipping, else never."),
    )
    max_catch_up = forms.IntegerField(
        label=_("Catch up at most"),
        required=False,
        min_value=1,
        help_text=_("When replaying missed runs, only the newest this many."),
    )
    jitter_seconds = forms.IntegerField(
        label=_("Spread (seconds)"),
        required=False,
        min_value=0,
        help_text=_("Each run starts up to this much after its time, the same delay for every runner."),
    )
    max_attempts = forms.IntegerField(
        label=_("Attempts per run"),
        required=False,
        min_value=1,
        initial=1,
        help_text=_("1 means no retry."),
    )
    backoff_seconds = forms.IntegerField(
        label=_("Wait between attempts (seconds)"), required=False, min_value=0, initial=0
    )


def fill_zone_choices(field: forms.ChoiceField) -> None:
    field.choices = zone_choices()
    field.initial = settings.TIME_ZONE


def target_examples(current: str | None) -> SafeString:
    """One example target per registered type, the current type's shown (the page's script switches)."""

    def example(name: str) -> str:
        data = getattr(targets.get(name), "example", None) or {"type": name}
        return json.dumps(data, indent=2, ensure_ascii=False)

    current = current if current in targets.types() else "run"
    items = format_html_join(
        "",
        '<div class="routines-target-example" data-target-type="{}"{}><strong>{}</strong><pre>{}</pre></div>',
        (
            (name, "" if name == current else SafeString(" hidden"), _("Example for “%s”:") % name, example(name))
            for name in targets.types()
        ),
    )
    return format_html(
        '{}<div class="routines-target-examples">{}</div>',
        _("A JSON object; its “type” is one of: %s.") % ", ".join(targets.types()),
        items,
    )
