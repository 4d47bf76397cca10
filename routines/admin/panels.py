"""The job page's read-only panels: the next run times, the recent runs and the journal.

Kept out of the ModelAdmin so the job pages stay small; each function reads a bounded slice
(at most ``RECENT_RUNS`` runs, ``RECENT_EVENTS`` events), so the page costs the same for a job
with ten runs as for one with a million.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _t

from .. import schedules
from ..models import Event, Job, Run
from ..states import TERMINAL_STATES
from . import display

RECENT_RUNS = 20
RECENT_EVENTS = 20
UPCOMING = 5


def upcoming(job: Job, now: datetime | None = None) -> list[datetime]:
    """The next run times the runner will actually use, starting from the slot that is due next."""
    if job.state in TERMINAL_STATES or job.next_run_at is None:
        return []
    first = job.current_slot_at if job.state in ("running", "retry_waiting") and job.current_slot_at else None
    first = first or job.next_run_at
    try:
        return schedules.projected(job.schedule, first, now or timezone.now(), UPCOMING)
    except Exception:  # display only: a schedule this version cannot project shows just its next slot
        return [first]


def upcoming_list(slots: list[datetime], cron_zone: str | None = None) -> SafeString | str:
    if not slots:
        return _t("none")
    now = timezone.now()
    return format_html(
        '<ul class="routines-upcoming">{}</ul>',
        format_html_join(
            "",
            "<li>{} <small class='routines-stamp'>({})</small></li>",
            ((display.stamp(s, zone=cron_zone), display.until(s, now)) for s in slots),
        ),
    )


def recent_runs(job: Job) -> SafeString | str:
    runs = list(Run.objects.filter(job_id=job.job_id).order_by("-started_at", "-run_id")[:RECENT_RUNS])
    if not runs:
        return _t("No runs yet.")
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
                _t("manual") if run.manual else display.stamp(run.slot_at),
                run.attempt,
                display.stamp(run.started_at),
                display.duration(run.started_at, run.finished_at),
                short_json(run.error if run.error is not None else run.result),
            )
            for run in runs
        ),
    )
    all_runs = reverse("admin:routines_run_changelist") + f"?job_id={job.job_id}"
    return format_html(
        '<table class="routines-table routines-runs"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
        "<th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
        '<tbody>{}</tbody></table><p><a href="{}">{}</a></p>',
        _t("run"),
        _t("status"),
        _t("slot"),
        _t("attempt"),
        _t("started"),
        _t("took"),
        _t("result / error"),
        rows,
        all_runs,
        _t("All runs of this job"),
    )


def journal(job: Job) -> SafeString | str:
    events = list(Event.objects.filter(job_id=job.job_id).order_by("-id")[:RECENT_EVENTS])
    if not events:
        return _t("No events.")
    rows = format_html_join(
        "",
        "<tr><td class='routines-nowrap'>{}</td><td>{}</td><td>{}</td>"
        "<td class='routines-json-cell'><pre>{}</pre></td></tr>",
        ((display.stamp(e.created_at), e.event_type, e.run_id or display.EMPTY, short_json(e.payload)) for e in events),
    )
    all_events = reverse("admin:routines_event_changelist") + f"?job_id={job.job_id}"
    return format_html(
        '<table class="routines-table routines-events"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
        '<th>{}</th></tr></thead><tbody>{}</tbody></table><p><a href="{}">{}</a></p>',
        _t("at"),
        _t("event"),
        _t("run"),
        _t("payload"),
        rows,
        all_events,
        _t("All events of this job"),
    )


def short_json(value: Any, limit: int = 300) -> str:
    if value is None:
        return display.EMPTY
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
