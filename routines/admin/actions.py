"""What an operator does to jobs: the changelist's bulk actions and the job page's buttons.

Both call the same per-job steps over ``routines.api`` with the user's name as ``actor`` (so the
journal says who), write one admin ``LogEntry`` per job they changed, and report in messages that
name at most ``MAX_NAMED`` jobs. Cancel is final, so it first shows a confirmation page (for one
job and in bulk); confirming posts ``post=yes``, the convention of Django's own bulk delete.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, npgettext

from .. import api
from ..exceptions import RoutineError
from ..models import Job
from .display import stamp as display_stamp

if TYPE_CHECKING:
    from .jobs import JobAdmin

MAX_NAMED = 10
CONFIRM_TEMPLATE = "admin/routines/job/cancel_confirmation.html"


@dataclass(frozen=True)
class Step:
    """One operator action: which states offer it, the API call, and how its outcome reads."""

    name: str  # also the URL segment of the job page's button
    label: Any
    states: frozenset[str]
    apply: Callable[..., str | None]  # (job_id, actor, **options) -> a note, or None
    done: Any  # the verb of the success message ("Paused 2 jobs: …")
    failed: Any


def _run_now(job_id: str, actor: str | None) -> str:
    run = api.run_now(job_id, actor=actor)
    return f"{run.run_id} {run.status}"


def _pause(job_id: str, actor: str | None, until: Any = None) -> str | None:
    before = api.get(job_id)
    job = api.pause(job_id, until, actor=actor)
    if job.paused_until is not None:
        return _t("until %(when)s") % {"when": display_stamp(job.paused_until)}
    return _t("already paused") if before.state == "paused" and before.paused_until is None else None


def _set_state(state: str) -> Callable[[str, str | None], str | None]:
    def apply(job_id: str, actor: str | None) -> str | None:
        before = api.get(job_id).state
        api.update(job_id, {"state": state}, actor=actor)
        return _t("already %(state)s") % {"state": state} if before == state else None

    return apply


def _cancel(job_id: str, actor: str | None) -> None:
    api.cancel(job_id, actor=actor)


STEPS = {
    "run-now": Step(
        "run-now",
        _("Run now"),
        frozenset({"active", "paused", "completed", "exhausted"}),
        _run_now,
        _("Ran now"),
        _("Not run"),
    ),
    "pause": Step("pause", _("Pause"), frozenset({"active"}), _pause, _("Paused"), _("Not paused")),
    "resume": Step("resume", _("Resume"), frozenset({"paused"}), _set_state("active"), _("Resumed"), _("Not resumed")),
    "cancel": Step(
        "cancel",
        _("Cancel"),
        frozenset({"active", "running", "retry_waiting", "paused", "completed", "exhausted"}),
        _cancel,
        _("Cancelled"),
        _("Not cancelled"),
    ),
}


def allowed_steps(state: str) -> list[Step]:
    """The buttons the job page offers in ``state``, in a fixed order."""
    return [step for step in STEPS.values() if state in step.states]


def named(items: Sequence[str]) -> str:
    """At most ``MAX_NAMED`` names, then "… and N more", so a bulk message stays short."""
    shown = ", ".join(items[:MAX_NAMED])
    rest = len(items) - MAX_NAMED
    if rest > 0:
        shown += " " + ngettext("… and %(n)d more", "… and %(n)d more", rest) % {"n": rest}
    return shown


def apply_step(modeladmin: JobAdmin, request: HttpRequest, step: Step, job_ids: Sequence[str], **options: Any) -> int:
    """Apply ``step`` to each job, log each change, report in at most a few messages; returns the count done."""
    actor = request.user.get_username() if request.user.is_authenticated else None
    done: list[str] = []
    failures: dict[str, list[str]] = {}
    for job_id in job_ids:
        try:
            note = step.apply(job_id, actor, **options)
        except RoutineError as exc:
            if exc.field == "until":  # the same for every job: say it once, plainly
                modeladmin.message_user(request, f"{exc.detail} ({exc.code})", messages.ERROR)
                return 0
            failures.setdefault(exc.code, []).append(f"“{job_id}”")
            continue
        done.append(f"“{job_id}” ({note})" if note else f"“{job_id}”")
        _log(modeladmin, request, job_id, step, note)
    for code, ids in failures.items():
        message = _t("%(verb)s (%(code)s): %(jobs)s") % {"verb": step.failed, "code": code, "jobs": named(ids)}
        modeladmin.message_user(request, message, messages.ERROR)
    if done:
        message = _t("%(verb)s %(count)d %(noun)s: %(jobs)s") % {
            "verb": step.done,
            "noun": npgettext("count of jobs", "job", "jobs", len(done)),
            "count": len(done),
            "jobs": named(done),
        }
        modeladmin.message_user(request, message, messages.SUCCESS)
    return len(done)


def _log(modeladmin: JobAdmin, request: HttpRequest, job_id: str, step: Step, note: str | None) -> None:
    job = Job.objects.filter(job_id=job_id).first()
    if job is not None:
        message = f"{step.done}" + (f" ({note})" if note else "")
        modeladmin.log_change(request, job, message)


def _bulk(name: str, description: Any) -> Callable[[JobAdmin, HttpRequest, QuerySet[Job]], Any]:
    def action(modeladmin: JobAdmin, request: HttpRequest, queryset: QuerySet[Job]) -> Any:
        job_ids = list(queryset.order_by("job_id").values_list("job_id", flat=True))
        if name == "cancel" and request.POST.get("post") != "yes":
            return confirm_cancel(modeladmin, request, job_ids, bulk=True)
        apply_step(modeladmin, request, STEPS[name], job_ids)
        return None

    action.__name__ = name.replace("-", "_")
    return admin.action(description=description, permissions=["change"])(action)


run_now = _bulk("run-now", _("Run selected jobs now (manual run)"))
pause = _bulk("pause", _("Pause selected jobs"))
resume = _bulk("resume", _("Resume selected jobs"))
cancel = _bulk("cancel", _("Cancel selected jobs…"))


def pause_all(modeladmin: JobAdmin, request: HttpRequest) -> None:
    actor = request.user.get_username() if request.user.is_authenticated else None
    try:
        api.pause_all(request.POST.get("reason", "").strip(), actor=actor)
    except RoutineError as exc:
        modeladmin.message_user(request, f"{exc.detail} ({exc.code})", messages.ERROR)
        return
    modeladmin.message_user(request, _t("Every runner is paused: run_due claims nothing until you resume."))


def resume_all(modeladmin: JobAdmin, request: HttpRequest) -> None:
    actor = request.user.get_username() if request.user.is_authenticated else None
    api.resume_all(actor=actor)
    modeladmin.message_user(request, _t("Runners claim due jobs again."))


def confirm_cancel(modeladmin: JobAdmin, request: HttpRequest, job_ids: Sequence[str], *, bulk: bool) -> HttpResponse:
    """The page that asks before a cancel: it is final (no resume, no more runs)."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Cancel jobs?") if bulk else _("Cancel this job?"),
        "opts": modeladmin.model._meta,
        "job_ids": job_ids,
        "shown_ids": job_ids[:100],
        "more": max(len(job_ids) - 100, 0),
        "bulk": bulk,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)
