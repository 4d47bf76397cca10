"""Formatting and input helpers of ``manage.py routines``: tables, times, schedules, errors, the actor.

Kept apart from the command so the command reads as a list of subcommands over ``routines.api``.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from routines import late, schedules
from routines.clock import db_now
from routines.exceptions import InvalidInput, PolicyDenied, RoutineError
from routines.late import lateness
from routines.models import Job
from routines.records import jsonable
from routines.times import coerce_time

TIME_FORMAT = "%Y-%m-%d %H:%M:%S %Z"
NONE = "-"


def actor() -> str:
    """Who the journal says made a change from the command line: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER, e.g. in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}"


def when(value: datetime | None) -> str:
    """An instant in the current time zone, always in one format (``-`` for none)."""
    if value is None:
        return NONE
    return timezone.localtime(value).strftime(TIME_FORMAT)


def duration(ms: int) -> str:
    """Milliseconds the way people read them: 90s, 5m, 2h 30m, 1d 2h."""
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def schedule_summary(schedule: dict[str, Any]) -> str:
    kind = schedule.get("type")
    if kind == "once":
        return _("once at %(at)s") % {"at": when(schedule.get("at"))}
    if kind == "interval":
        return _("every %(every)s") % {"every": duration(int(schedule.get("every_ms", 0)))}
    if kind == "cron":
        return f"cron {schedule.get('expr')} ({schedule.get('timezone', 'UTC')})"
    return str(kind)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last column is not padded."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def compact(value: Any) -> str:
    """A JSON value on one line, for the human view of payloads, results and errors."""
    return json.dumps(jsonable(value), sort_keys=True, default=str, ensure_ascii=False)


def error(exc: RoutineError, about: str | None = None) -> CommandError:
    """One line naming what was wrong: the input's field, else what the command was about (``job_id``)."""
    if isinstance(exc, PolicyDenied):
        return CommandError(f"policy: {exc.detail}")
    return CommandError(f"{exc.field or about or 'input'}: {exc.detail}")


def parse_time(flag: str, text: str) -> datetime:
    """``--at`` style values: ISO 8601 (naive ones in the current zone) or epoch milliseconds."""
    value = text.strip()
    try:
        return coerce_time(
            int(value) if value.isascii() and value.isdigit() else value, timezone.get_current_timezone()
        )
    except ValueError as exc:
        raise CommandError(f"{flag}: {value!r} {exc}") from None


def read_job_input(path: str | None, stdin: TextIO | None = None) -> dict[str, Any]:
    """The job input of ``create``: a JSON object from ``--file PATH`` (``-`` or none: standard input)."""
    from_stdin = path is None or path == "-"
    source = _("standard input") if from_stdin else str(path)
    try:
        if from_stdin:
            text = (stdin or sys.stdin).read()
        else:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"--file: {_('cannot read %(source)s') % {'source': source}}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"--file: {_('%(source)s is not JSON') % {'source': source}}: {exc}") from None
    if not isinstance(data, dict):
        raise error(InvalidInput(_("the job input must be a JSON object"), code="invalid_job", field="input"))
    return data


def jobs_table(jobs: Sequence[Any]) -> str:
    rows = [
        (
            job.job_id,
            job.state,
            cli_schedule(job),
            job.target_type,
            runs_done(job),
            when(job.next_run_at),
            when(job.last_run_at),
        )
        for job in jobs
    ]
    headers = [_("JOB_ID"), _("STATE"), _("SCHEDULE"), _("TARGET"), _("RUNS"), _("NEXT RUN"), _("LAST RUN")]
    return table(headers, rows)


def runs_done(job: Any) -> str:
    """Scheduled slots finished, out of ``max_runs`` when the job has one: ``3`` or ``3/10``."""
    return str(job.run_count) if job.max_runs is None else f"{job.run_count}/{job.max_runs}"


def cli_schedule(job: Any) -> str:
    return schedule_summary(job.schedule if isinstance(job.schedule, dict) else {})


def optional(value: Any) -> str:
    return NONE if value is None else str(value)


def misfire(schedule: dict[str, Any]) -> str:
    """The misfire policy with its grace and catch-up cap, for recurring schedules (``-`` for once)."""
    if schedule.get("type") not in ("interval", "cron"):
        return NONE
    text = schedules.misfire_policy(schedule)
    if schedule.get("misfire_grace_ms") is not None:
        text += ", " + _("grace %(grace)s") % {"grace": duration(int(schedule["misfire_grace_ms"]))}
    if schedule.get("max_catch_up") is not None:
        text += ", " + _("at most %(n)d caught up") % {"n": int(schedule["max_catch_up"])}
    return text


def job_detail(job: Any, runs: Sequence[Any]) -> str:
    """``show``: the job's fields one per line, then its latest runs."""
    schedule = job.schedule if isinstance(job.schedule, dict) else {}
    jitter = schedule.get("jitter_ms")
    fields = [
        (_("job_id"), job.job_id),
        (_("state"), job.state),
        (_("schedule"), f"{cli_schedule(job)}  {compact(job.schedule)}"),
        (_("description"), schedules.describe(schedule, end_at=job.end_at, max_runs=job.max_runs)),
        (_("misfire"), misfire(schedule)),
        (_("jitter"), duration(int(jitter)) if jitter else NONE),
        (_("end_at"), when(job.end_at)),
        (_("max_runs"), optional(job.max_runs)),
        (_("run_count"), str(job.run_count)),
        (_("paused_until"), when(job.paused_until)),
        (_("concurrency_key"), optional(job.concurrency_key)),
        (_("concurrency_limit"), str(job.concurrency_limit)),
        (_("target"), compact(job.target)),
        (_("payload"), compact(job.payload)),
        (_("retry_policy"), compact(job.retry_policy)),
        (_("attempt_count"), str(job.attempt_count)),
        (_("next_run_at"), when(job.next_run_at)),
        (_("last_run_at"), when(job.last_run_at)),
        (_("last_result"), compact(job.last_result)),
        (_("last_error"), compact(job.last_error)),
        (_("created_at"), when(job.created_at)),
        (_("updated_at"), when(job.updated_at)),
    ]
    width = max(len(name) for name, _value in fields)
    lines = [f"{name.ljust(width)}  {value}" for name, value in fields]
    if runs:
        rows = [
            (
                run.run_id,
                run.status,
                when(run.slot_at),
                str(run.attempt),
                "yes" if run.manual else "no",
                when(run.started_at),
            )
            for run in runs
        ]
        lines += ["", table([_("RUN_ID"), _("STATUS"), _("SLOT"), _("ATTEMPT"), _("MANUAL"), _("STARTED")], rows)]
    return "\n".join(lines)


def run_summary(run: Any) -> str:
    """``run-now``: the run and how it ended, with its result or error."""
    outcome = compact(run.error) if run.status == "failed" else compact(run.result)
    return f"{run.run_id} {run.job_id} {run.status}: {outcome}"


def seen_late(shown: int, by_more_than_ms: int = 0) -> tuple[datetime, list[Any], int]:
    """At most ``shown`` late jobs now, longest overdue first, and how many are late (counted up
    to ``routines.late.COUNT_CAP``). Looking counts as seeing: late slots are journalled."""
    at = db_now()
    jobs, count = late.look(at, shown, by_more_than_ms)
    return at, jobs, count


def due_count(at: datetime) -> int:
    return late.count_up_to(Job.objects.due(at).values("next_run_at"))


def late_by_ms(job: Any, at: datetime) -> int:
    """How long ago the job should have run, by the late rule's own measure."""
    return lateness(job, at).late_by_ms


def late_table(jobs: Sequence[Any], at: datetime) -> str:
    rows = [(job.job_id, job.state, when(job.next_run_at), duration(late_by_ms(job, at))) for job in jobs]
    return table([_("JOB_ID"), _("STATE"), _("NEXT RUN"), _("LATE BY")], rows)
