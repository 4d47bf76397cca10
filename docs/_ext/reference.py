"""Reference pages generated from the code at build time, so they cannot drift from it.

Writes Markdown into ``docs/_generated/`` (not committed) that the reference pages include:
the settings table from ``routines.conf.DEFAULTS``, each management command's ``--help`` (every
subcommand's too), the exception classes, the event types the code writes, the signals, and the
REST endpoints from the OpenAPI schema drf-spectacular generates. A setting, exception or event
type without a description here fails the build, so a new one is documented or noticed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

SETTINGS = {
    "CLAIM_TTL_MS": "Lease of a claim in milliseconds; a runner silent for longer is presumed dead.",
    "BATCH_SIZE": "Most jobs claimed in one round trip (adapts down for slow targets; at most 1,000).",
    "USE_DB_CLOCK": "On PostgreSQL and MySQL, take *now* from the database server so hosts with skewed clocks agree.",
    "SQLITE_LOCK_RETRY_SECONDS": "How long a write retries while SQLite's write lock is taken.",
    "LOOP_MAX_WAIT_SECONDS": "`run_due --loop` sleeps at most this long (more than 0, at most 86,400), like "
    "`--max-wait`.",
    "DEFAULT_TIMEOUT_MS": "`timeout_ms` of jobs created without one; `None` is no limit (else 1,000 to 2,147,483,647).",
    "MAX_RESULT_BYTES": "A target result whose JSON is larger is stored as a 1 KiB preview.",
    "LATE_AFTER_MS": "`late_after_ms` of jobs created without one: how long past its due time a job counts as late; "
    "`None` is never.",
    "TARGETS": 'Extra target types: `{"name": "dotted.path.Executor"}`.',
    "CALLABLE_ALLOWLIST": "`fnmatch` patterns of the functions `callable` and `task` targets may name.",
    "SESSION_BACKEND": "Session backend class of `query` targets (dotted path).",
    "OPENAI_BASE_URL": "OpenAI backend: the server (a local Ollama by default).",
    "OPENAI_API_KEY_ENV": "OpenAI backend: the name of the environment variable holding the key.",
    "OPENAI_MODEL": "OpenAI backend: the model when the target names none.",
    "OPENAI_TIMEOUT_SECONDS": "OpenAI backend: request timeout (shorter when the job's timeout is nearer).",
    "POLICY": "Dotted path of `policy(action, context)`, asked before every create and update; a returned string "
    "denies.",
    "API_PERMISSION_CLASSES": "Permission classes of the REST API, read on every request.",
    "MAX_PAYLOAD_BYTES": "Largest payload or JSON field accepted, and largest REST request body.",
    "HEALTH_PERMISSION_CLASSES": "Permission classes of `GET health/` (anyone by default; anonymous callers see "
    "counts only).",
    "METRICS_PERMISSION_CLASSES": "Permission classes of `GET metrics/`, the Prometheus endpoint (staff by default).",
    "PRUNE_RUNS_OLDER_THAN": "`prune_routines`: default run retention.",
    "PRUNE_EVENTS_OLDER_THAN": "`prune_routines`: default event retention.",
    "PRUNE_KEEP_LAST": "`prune_routines`: the newest runs always kept per job.",
    "PRUNE_BATCH_SIZE": "`prune_routines`: rows deleted per batch.",
}
COMMANDS = ("run_due", "routines", "prune_routines")
# What raises each exception class; a class missing here (or described but gone) fails the build.
EXCEPTIONS = {
    "RoutineError": "The base class of every error below: catch it to handle them all.",
    "InvalidInput": "A job input, patch, filter or option is invalid: a bad value, or a key that is not supported. "
    "Also a `ValueError`.",
    "NotFound": "No job (or run) has that id. Also a `LookupError`.",
    "AlreadyExists": "A `job_id` or an `idempotency_key` is taken (`create`, `create_many`).",
    "JobBusy": "The job is running, or changed while the call tried to write it: try again later.",
    "JobTerminal": "The job is `completed`, `exhausted` or `cancelled`, so it cannot be changed or run.",
    "PolicyDenied": "The `POLICY` hook refused a create or update; `.reason` is its answer.",
}
# Every event type the code writes; found by reading the modules that journal events, so a new
# event type without a line here (or a line whose type is no longer written) fails the build.
EVENTS = {
    "routine_created": "A job was created (`create`, `create_many`, the admin, REST, the CLI): "
    "`{schedule_type, target_type, state, next_run_at}`.",
    "routine_updated": "A job was changed: the changed fields and their new values (a new `payload` shows as "
    '`"redacted"`). A timed pause that ended writes `{"state": "active", "reason": "pause_ended", "paused_until"}`.',
    "routine_cancelled": "A job was cancelled: `{previous_state}`.",
    "routine_deleted": "A job was deleted (its runs and journal stay): `{previous_state}`.",
    "routine_run_completed": "A run completed: `{slot_at, attempt}`, or `{manual: true}` for a manual run.",
    "routine_run_failed": "A run failed: `{slot_at, attempt, error}` (`manual` and `error` for a manual run).",
    "routine_run_cancelled": "A run ended as cancelled (the target said so, or the job was cancelled mid-run).",
    "routine_retry_scheduled": "A failed attempt will be retried: `{slot_at, attempt, next_run_at}`.",
    "routine_lease_expired": "A runner's lease lapsed while its target ran, so the attempt failed with "
    "`lease_expired`: `{slot_at, attempt, lease_expired_at}`.",
    "routine_policy_denied": "The `POLICY` hook refused a create or update: `{action, reason}`; nothing else was "
    "written.",
    "routine_slot_late": "A slot was seen late for the first time: `{slot_at, late_by_ms}`; once per job and slot.",
    "routine_slots_skipped": "Missed slots were skipped under the misfire policy: `{count, first, last}`.",
}


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def settings_page() -> str:
    from routines.conf import DEFAULTS

    missing = sorted(set(DEFAULTS) - set(SETTINGS))
    stale = sorted(set(SETTINGS) - set(DEFAULTS))
    if missing or stale:
        raise ExtensionError(f"docs/_ext/reference.py: describe settings {missing}, drop {stale}")
    rows = ["| key | default | type | meaning |", "|---|---|---|---|"]
    for key, (default, types) in DEFAULTS.items():
        kinds = ", ".join("None" if t is type(None) else t.__name__ for t in types)
        rows.append(f"| `{key}` | `{default!r}` | {kinds} | {cell(SETTINGS[key])} |")
    return "\n".join(rows) + "\n"


def commands_page() -> str:
    from django.core.management import load_command_class

    parts = []
    for name in COMMANDS:
        command = load_command_class("routines", name)
        parser = command.create_parser("manage.py", name)
        parts.append(f"## `{name}`\n\n{cell(command.help)}\n\n```text\n{parser.format_help().rstrip()}\n```\n")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    help_text = subparser.format_help().rstrip()
                    parts.append(f"### `{name} {sub}`\n\n```text\n{help_text}\n```\n")
    return "\n".join(parts)


def exceptions_page() -> str:
    from routines import exceptions

    classes = [
        obj for obj in vars(exceptions).values() if isinstance(obj, type) and issubclass(obj, exceptions.RoutineError)
    ]
    missing = sorted({c.__name__ for c in classes} - set(EXCEPTIONS))
    stale = sorted(set(EXCEPTIONS) - {c.__name__ for c in classes})
    if missing or stale:
        raise ExtensionError(f"docs/_ext/reference.py: describe exceptions {missing}, drop {stale}")
    rows = ["| exception | default `.code` | raised when |", "|---|---|---|"]
    for obj in classes:
        doc = (obj.__doc__ or "").strip().split("\n\n")[0] or EXCEPTIONS[obj.__name__]
        rows.append(f"| `routines.exceptions.{obj.__name__}` | `{obj.code}` | {cell(doc)} |")
    return "\n".join(rows) + "\n"


def written_event_types() -> dict[str, list[str]]:
    """Event types in the modules that journal events (those importing ``event``), by module."""
    package = Path(__file__).resolve().parents[2] / "routines"
    found: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        if not re.search(r"^from (\.|routines\.)journal import .*\bevent\b", text, re.M):
            continue
        for name in re.findall(r"[\"'](routine_[a-z]+(?:_[a-z]+)*)[\"']", text):
            found.setdefault(name, []).append(str(path.relative_to(package.parent)))
    return found


def events_page() -> str:
    found = written_event_types()
    missing = sorted(set(found) - set(EVENTS))
    stale = sorted(set(EVENTS) - set(found))
    if missing or stale:
        raise ExtensionError(f"docs/_ext/reference.py: describe event types {missing}, drop {stale}")
    rows = ["| `event_type` | written when, and its `payload` |", "|---|---|"]
    for name, text in EVENTS.items():
        rows.append(f"| `{name}` | {cell(text)} |")
    return "\n".join(rows) + "\n"


def signals_page() -> str:
    """Each ``Signal()`` of ``routines.signals`` with the comment above it (its keyword arguments).

    A comment covers the signals right under it, as ``run_started`` and ``run_finished`` share one.
    """
    import routines.signals

    parts: list[str] = []
    comment: list[str] = []
    after_signal = False
    for line in Path(routines.signals.__file__).read_text().splitlines():
        match = re.match(r"^(\w+) = Signal\(\)", line)
        if line.startswith("#"):
            comment = [*([] if after_signal else comment), line.lstrip("#").strip()]
        elif match and not comment:
            raise ExtensionError(f"routines/signals.py: {match.group(1)} has no comment saying its arguments")
        elif match:
            parts.append(f"`routines.signals.{match.group(1)}`\n: {cell(' '.join(comment))}\n")
        else:
            comment = []
        after_signal = bool(match)
    if not parts:
        raise ExtensionError("routines/signals.py: no signals found")
    return "\n".join(parts)


def schema() -> dict[str, Any]:
    """The document ``GET schema/`` serves: generated under the app's own schema settings."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import patched_settings

    from routines.rest.docs import SCHEMA_SETTINGS

    with patched_settings(SCHEMA_SETTINGS):
        return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def openapi_page(spec: dict[str, Any]) -> str:
    parts = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            parts.append(f"## `{method.upper()} {path}`\n")
            text = op.get("description") or op.get("summary") or ""
            if text:
                parts.append(text.strip() + "\n")
            params = op.get("parameters", [])
            if params:
                parts.append("| parameter | in | type | description |\n|---|---|---|---|")
                for p in params:
                    kind = p.get("schema", {}).get("type", "")
                    parts.append(f"| `{p['name']}` | {p['in']} | {kind} | {cell(p.get('description', ''))} |")
                parts.append("")
            body = op.get("requestBody", {}).get("content", {})
            if body:
                refs = {c.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1] for c in body.values()} - {""}
                parts.append(f"Request body: {', '.join(sorted(f'`{r}`' for r in refs)) or 'JSON'}.\n")
            codes = ", ".join(f"`{code}`" for code in op.get("responses", {}))
            parts.append(f"Responses: {codes}.\n")
    return "\n".join(parts)


def generate(app: Sphinx) -> None:
    os.environ["COLUMNS"] = "100"  # argparse wraps --help to the terminal: the same width on every build
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    spec = schema()
    pages = {
        "settings.md": settings_page(),
        "commands.md": commands_page(),
        "exceptions.md": exceptions_page(),
        "events.md": events_page(),
        "signals.md": signals_page(),
        "openapi.md": openapi_page(spec),
        "openapi.json": json.dumps(spec, indent=2, sort_keys=True, default=str),
    }
    for name, text in pages.items():
        target = out / name
        if not target.exists() or target.read_text() != text:  # unchanged files keep Sphinx's cache valid
            target.write_text(text)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
