"""The job add/change form: JSON fields validated by the API's own rules, saved through the API.

``clean`` runs the pure validation (``routines.validation`` with ``targets.validate``), so a bad
schedule or target shows on its field before anything touches the database. ``_post_clean`` then
makes the one write through ``api.create`` / ``api.update`` instead of ``Model.save()``; any error
the write itself finds (a taken id, a busy job, a policy denial) becomes a form error too, so the
admin only ever reports success for a job the API stored.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext_lazy as _

from .. import api, validation
from ..conf import routines_settings
from ..exceptions import InvalidInput, RoutineError
from ..fields import TimeJSONEncoder
from ..models import Job

JSON_FIELDS = ("schedule", "target", "payload", "metadata", "routing_policy", "retry_policy")
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


class JobForm(forms.ModelForm):
    job_id = forms.CharField(required=False, max_length=200, help_text="Leave blank to generate one (routine_…).")
    idempotency_key = forms.CharField(
        required=False, max_length=255, help_text='Leave blank for the default "routine:" + job id.'
    )
    schedule = JSONTextField(
        help_text='{"type": "interval", "every_ms": 300000} or {"type": "once", "at": "2026-12-01T09:00:00Z"}',
    )
    target = JSONTextField(help_text='{"type": "run"}; see the README for the other target types.')
    payload = JSONTextField(required=False, help_text="Any JSON value; null for none.")
    metadata = JSONTextField(required=False, help_text="An object.")
    routing_policy = JSONTextField(required=False, help_text="An object, merged into routed sessions' routing.")
    retry_policy = JSONTextField(required=False, help_text='{"max_attempts": 1, "backoff_ms": 0}')
    timeout_ms = forms.IntegerField(
        required=False,
        label=_("Timeout (ms)"),
        help_text=_(
            "How long a run may take, in milliseconds (at least 1000); past it the run fails and is retried "
            "under the retry policy. Leave blank for no limit."
        ),
    )

    class Meta:
        model = Job
        fields = ("job_id", "idempotency_key", *JSON_FIELDS, "timeout_ms")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adding = self.instance._state.adding
        if self.adding:
            self.initial.setdefault("schedule", {"type": "interval", "every_ms": 300_000})
            self.initial.setdefault("target", {"type": "run"})
            self.initial.setdefault("metadata", {})
            self.initial.setdefault("routing_policy", {})
            self.initial.setdefault("retry_policy", dict(validation.RETRY_DEFAULTS))
            self.initial.setdefault("timeout_ms", routines_settings.DEFAULT_TIMEOUT_MS)
        self.api_input: dict[str, Any] = {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        raw = self._create_input(cleaned) if self.adding else self._patch(cleaned)
        try:
            normalized = api.normalize(raw, patch=not self.adding)
        except InvalidInput as exc:
            self._add_routine_error(exc)
            return cleaned
        if self.adding:
            self.api_input = raw
        else:
            # Text that differs but means the same (another time zone spelling, key order) is no change:
            # sending it would recompute next_run_at for nothing.
            self.api_input = {k: raw[k] for k in raw if normalized[k] != getattr(self.instance, k)}
        return cleaned

    def _create_input(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {"schedule": cleaned["schedule"], "target": cleaned["target"]}
        data["payload"] = cleaned.get("payload")
        data["timeout_ms"] = cleaned.get("timeout_ms")
        for key in ("job_id", "idempotency_key", "metadata", "routing_policy", "retry_policy"):
            if cleaned.get(key) not in (None, ""):
                data[key] = cleaned[key]
        return data

    def _patch(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        patch = {}
        for key in self.changed_data:
            if key == "job_id":
                continue
            value = cleaned.get(key)
            if key in ("metadata", "routing_policy") and value is None:
                value = {}
            if key in ("retry_policy", "idempotency_key") and value in (None, ""):
                continue
            patch[key] = value
        return patch

    def _post_clean(self) -> None:
        """The write: only once every field is valid, and through the API."""
        if self.errors:
            return
        try:
            if self.adding:
                job, created = api.create_or_get(self.api_input)
                if not created:  # the API's idempotent answer; in a form it is a clash to show
                    self.add_error("idempotency_key", f"Job {job.job_id!r} already has this idempotency key.")
                    return
                self.instance = job
            elif self.api_input:
                self.instance = api.update(self.instance.job_id, self.api_input)
        except RoutineError as exc:
            self._add_routine_error(exc)

    def _add_routine_error(self, exc: RoutineError) -> None:
        field = CODE_FIELDS.get(exc.code, exc.field)
        message = f"{exc.detail} ({exc.code})"
        self.add_error(field if field in self.fields else None, message)

    def save(self, commit: bool = True) -> Job:
        """Nothing left to write: ``_post_clean`` stored the job through the API."""
        if self.errors:
            raise ValueError("the job was not saved: the form has errors")
        self.save_m2m = self._save_m2m
        return self.instance

    def _save_m2m(self) -> None:
        pass
