"""The job add/change form: a structured schedule editor, JSON for the rest, saved through the API.

``clean`` turns the editor's fields into a schedule (``routines.editing``, pure) and checks every
field with the API's own rules, one field at a time, so one submit shows every error, each on its
field, before anything touches the database. ``_post_clean`` then makes the one write through
``api.create`` / ``api.update`` instead of ``Model.save()``; any error the write itself finds (a
taken id, a busy job, a policy denial) becomes a form error too, so the admin only ever reports
success for a job the API stored.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from django import forms
from django.forms.fields import InvalidJSONInput
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import api, editing, validation
from ..conf import routines_settings
from ..exceptions import InvalidInput, RoutineError
from ..fields import TimeJSONEncoder
from ..models import Job
from ..states import DEFINITION_FIELDS
from . import editor
from .bases import ModelForm

JSON_FIELDS = ("schedule", "target", "payload", "metadata", "routing_policy", "retry_policy")
RETRY_FIELDS = ("max_attempts", "backoff_seconds")
# Fields sent to the API as they are when changed; the schedule and the retry policy are built
# from the editor's fields instead.
PLAIN_FIELDS = {"idempotency_key", *DEFINITION_FIELDS} - {"schedule", "retry_policy"}
# Errors about a key inside a JSON field name that key; show them on the field that holds it.
CODE_FIELDS = {
    "unsupported_schedule_key": "schedule",
    "unsupported_target_key": "target",
    "unsupported_session_target_key": "target",
    "unsupported_thread_key": "target",
    "unsupported_retry_key": "retry_policy",
}


class JSONTextField(forms.JSONField):
    """Indented JSON in a monospace textarea; datetimes shown as ISO 8601 strings."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("encoder", TimeJSONEncoder)
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 4, "cols": 90, "class": "vLargeTextField routines-json-input"})
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        text = json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)
        # Fields are copied per form, so sizing this widget to its text touches no other form.
        self.widget.attrs["rows"] = min(max(text.count("\n") + 2, 3), 24)
        return text


class JobForm(editor.ScheduleEditorFields, ModelForm):
    job_id = forms.CharField(
        label=_("Job id"),
        required=False,
        max_length=200,
        help_text=_("Leave blank to generate one (routine_…)."),
    )
    idempotency_key = forms.CharField(
        label=_("Idempotency key"),
        required=False,
        max_length=255,
        help_text=_("Leave blank for the default “routine:” + job id."),
    )
    schedule = JSONTextField(
        label=_("Schedule (JSON)"),
        required=False,
        help_text=_(
            'Used when the schedule type is “Advanced”: {"type": "interval", "every_ms": 300000} or '
            '{"type": "once", "at": "2026-12-01T09:00:00Z"}.'
        ),
    )
    target = JSONTextField(label=_("Target"))
    payload = JSONTextField(label=_("Payload"), required=False, help_text=_("Any JSON value; null for none."))
    metadata = JSONTextField(label=_("Metadata"), required=False, help_text=_("An object."))
    routing_policy = JSONTextField(
        label=_("Routing policy"), required=False, help_text=_("An object, merged into routed sessions' routing.")
    )
    retry_policy = JSONTextField(
        label=_("Retry policy (JSON)"),
        required=False,
        help_text=_(
            '{"max_attempts": 1, "backoff_ms": 0}; used when the attempts and wait fields above are left as they were.'
        ),
    )
    timeout_ms = forms.IntegerField(
        required=False,
        label=_("Timeout (ms)"),
        help_text=_(
            "How long a run may take, in milliseconds (at least 1000); past it the run fails and is retried "
            "under the retry policy. Leave blank for no limit."
        ),
    )
    late_after_ms = forms.IntegerField(
        required=False,
        label=_("Late after (ms)"),
        help_text=_(
            "How long past its due time the job counts as late (at least 1000 ms): the health check then "
            "fails and the journal says so. Leave blank for never."
        ),
    )
    end_at = editor.LocalDateTimeField(
        label=_("End at"), required=False, help_text=_("No run after this date and time. Leave blank for no end.")
    )
    max_runs = forms.IntegerField(
        label=_("At most (runs)"),
        required=False,
        min_value=1,
        help_text=_("The job is completed after this many scheduled runs. Leave blank for no limit."),
    )
    concurrency_key = forms.CharField(
        label=_("Concurrency group"),
        required=False,
        max_length=200,
        help_text=_(
            "Jobs with the same group name run at most “At once” at a time, across every runner; the others "
            "wait, still due. Leave blank for no group."
        ),
    )
    concurrency_limit = forms.IntegerField(
        label=_("At once"),
        required=False,
        min_value=1,
        initial=1,
        help_text=_("How many jobs of the group may run at the same time."),
    )
    # The username recorded on the journal events of the write; set by the ModelAdmin per request.
    actor: str | None = None

    class Meta:
        model = Job
        fields = ("job_id", "idempotency_key", *DEFINITION_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adding = self.instance._state.adding
        if "cron_timezone" in self.fields:
            editor.fill_zone_choices(cast(forms.ChoiceField, self.fields["cron_timezone"]))
        if self.adding:
            self.initial.setdefault("schedule", {"type": "interval", "every_ms": 300_000})
            self.initial.setdefault("target", {"type": "run"})
            self.initial.setdefault("metadata", {})
            self.initial.setdefault("routing_policy", {})
            self.initial.setdefault("timeout_ms", routines_settings.DEFAULT_TIMEOUT_MS)
            self.initial.setdefault("late_after_ms", routines_settings.LATE_AFTER_MS)
            self.initial.setdefault("retry_policy", dict(validation.RETRY_DEFAULTS))
        else:
            for key, value in editing.fields_from_schedule(self.instance.schedule).items():
                self.initial.setdefault(key, value)
            for key, value in editing.fields_from_retry(self.instance.retry_policy).items():
                self.initial.setdefault(key, value)
        target_type = (self.instance.target or {}).get("type") if not self.adding else "run"
        if "target" in self.fields:
            self.fields["target"].help_text = editor.target_examples(target_type)
        self.api_input: dict[str, Any] = {}
        self.warnings: list[str] = []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.chosen_schedule_type() != "json" and "schedule" in self.errors:
            del self.errors["schedule"]  # the advanced JSON is not used by the other types
        raw = self._create_input(cleaned) if self.adding else self._patch(cleaned)
        self._check_each_field(raw)
        if self.errors:
            return cleaned
        try:
            normalized = api.normalize(raw, patch=not self.adding)
        except InvalidInput as exc:
            self._add_routine_error(exc)
            return cleaned
        self._warn_past(normalized)
        if self.adding:
            self.api_input = raw
        else:
            # Text that differs but means the same (another time zone spelling, key order) is no change:
            # sending it would recompute next_run_at for nothing.
            self.api_input = {k: raw[k] for k in raw if normalized[k] != getattr(self.instance, k)}
        return cleaned

    def chosen_schedule_type(self) -> str:
        """The submitted type; a submission without one (a script written for the JSON form) is JSON."""
        if self.is_bound and "schedule_type" not in self.data:
            return "json"
        return self.cleaned_data.get("schedule_type") or "json"

    def _editor_schedule(self, cleaned: dict[str, Any]) -> Any:
        values = {key: cleaned.get(key) for key in editing.ALL_EDITOR_FIELDS}
        values["schedule_type"] = kind = self.chosen_schedule_type()
        schedule, errors = editing.schedule_from_fields(values)
        for field, code in errors.items():
            if field not in self.errors:
                self.add_error(field, editor.EDITOR_ERRORS[code])
        if kind == "json" and schedule is None and "schedule" not in self.errors:
            self.add_error("schedule", forms.Field.default_error_messages["required"])
        return schedule

    def _retry_policy(self, cleaned: dict[str, Any]) -> Any:
        """The structured fields, unless only the advanced JSON was edited (or they were not submitted)."""
        changed = set(self.changed_data)
        submitted = any(key in self.data for key in RETRY_FIELDS)
        self.retry_from_json = not submitted or ("retry_policy" in changed and not changed & set(RETRY_FIELDS))
        if self.retry_from_json:
            return cleaned.get("retry_policy")
        return editing.retry_from_fields(cleaned.get("max_attempts"), cleaned.get("backoff_seconds"))

    def _create_input(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {"schedule": self._editor_schedule(cleaned), "target": cleaned.get("target")}
        data["payload"] = cleaned.get("payload")
        data["timeout_ms"] = cleaned.get("timeout_ms")
        data["late_after_ms"] = cleaned.get("late_after_ms")
        for key in ("end_at", "max_runs", "concurrency_limit"):
            if cleaned.get(key) is not None:
                data[key] = cleaned[key]
        if cleaned.get("concurrency_key"):
            data["concurrency_key"] = cleaned["concurrency_key"]
        retry = self._retry_policy(cleaned)
        if retry is not None:
            data["retry_policy"] = retry
        for key in ("job_id", "idempotency_key", "metadata", "routing_policy"):
            if cleaned.get(key) not in (None, ""):
                data[key] = cleaned[key]
        return data

    def _patch(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        changed = set(self.changed_data)
        kind = self.chosen_schedule_type()
        if changed & {"schedule_type", *editing.EDITOR_FIELDS.get(kind, ())}:
            patch["schedule"] = self._editor_schedule(cleaned)
        if changed & {*RETRY_FIELDS, "retry_policy"}:
            retry = self._retry_policy(cleaned)
            if retry is not None:
                patch["retry_policy"] = retry
        for key in changed & PLAIN_FIELDS:
            value = cleaned.get(key)
            if key in ("metadata", "routing_policy") and value is None:
                value = {}
            if key == "idempotency_key" and value in (None, ""):
                continue
            if key == "concurrency_key" and value == "":
                value = None
            if key == "concurrency_limit" and value is None:
                continue
            patch[key] = value
        return patch

    def _check_each_field(self, raw: dict[str, Any]) -> None:
        """Validate each key on its own, so every invalid field is reported in one submit."""
        code = "invalid_job" if self.adding else "invalid_patch"
        if "job_id" in raw and "job_id" not in self.errors:
            try:
                validation.check_id(raw["job_id"], "job_id", code)
            except InvalidInput as exc:
                self._add_routine_error(exc)
        for key, value in raw.items():
            if key == "job_id" or (value is None and key in ("schedule", "target")):
                continue
            try:
                api.normalize({key: value}, patch=True)
            except InvalidInput as exc:
                if exc.code == "invalid_patch":
                    exc.code = code
                self._add_routine_error(exc)
        if self.adding and raw.get("target") is None and "target" not in self.errors:
            self.add_error("target", forms.Field.default_error_messages["required"])

    def _warn_past(self, normalized: dict[str, Any]) -> None:
        schedule = normalized.get("schedule") or {}
        at = schedule.get("at")
        if schedule.get("type") == "once" and isinstance(at, datetime) and at < timezone.now():
            when = timezone.localtime(at).strftime("%d %b %Y %H:%M:%S %Z")
            self.warnings.append(str(_("The run time %s is in the past; it runs at the next run_due.") % when))

    def _post_clean(self) -> None:
        """The write: only once every field is valid, and through the API."""
        if self.errors:
            return
        try:
            if self.adding:
                job, created = api.create_or_get(self.api_input, actor=self.actor)
                if not created:  # the API's idempotent answer; in a form it is a clash to show
                    message = _("Job %(job_id)s already has this idempotency key.") % {"job_id": repr(job.job_id)}
                    self.add_error("idempotency_key", message)
                    return
                self.instance = job
            elif self.api_input:
                self.instance = api.update(self.instance.job_id, self.api_input, actor=self.actor)
        except RoutineError as exc:
            self._add_routine_error(exc)

    def _add_routine_error(self, exc: RoutineError) -> None:
        field = CODE_FIELDS.get(exc.code, exc.field)
        kind = self.chosen_schedule_type() if hasattr(self, "cleaned_data") else "json"
        if field == "schedule" or exc.code == "unsupported_schedule_key":
            field = editing.error_field(kind, exc)
        elif field == "retry_policy" and not getattr(self, "retry_from_json", True):
            field = editing.error_field(kind, exc, retry=True)
        message = f"{exc.detail} ({exc.code})"
        if field in self.errors:
            return
        self.add_error(field if field in self.fields else None, message)

    def save(self, commit: bool = True) -> Job:
        """Nothing left to write: ``_post_clean`` stored the job through the API."""
        if self.errors:
            raise ValueError("the job was not saved: the form has errors")
        self.save_m2m = self._save_m2m  # type: ignore[method-assign]
        job: Job = self.instance
        return job

    def _save_m2m(self) -> None:
        pass
