"""Executing one target: whatever it raises, returns or however long it takes becomes an Outcome.

A target runs in the runner's thread unless its job has a ``timeout_ms``; then it runs in a
thread of its own and the runner stops waiting at the deadline. Python cannot stop a thread,
so a target that ignores its deadline goes on in the background until it returns or the
process exits; meanwhile this process claims nothing more of that job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from django.db import connections

from . import deadlines, signals, targets
from .conf import routines_settings
from .models import Run
from .targets.base import COMPLETED, FAILED, OUTCOMES, Outcome
from .times import iso
from .validation import check_json

logger = logging.getLogger("routines")

PREVIEW_BYTES = 1024
# Targets that outlived their timeout and still run, by job id.
_overdue: dict[str, threading.Thread] = {}
_overdue_lock = threading.Lock()


def new_run_id() -> str:
    return "run_" + uuid.uuid4().hex


def error_data(exc: BaseException) -> dict[str, str]:
    return targets.exception_error(exc)


def timeout_error(timeout_ms: int) -> dict[str, Any]:
    return {"reason": "timeout", "timeout_ms": timeout_ms}


def new_run(
    job: dict[str, Any],
    run_id: str,
    now: datetime,
    *,
    slot_at: datetime | None,
    attempt: int,
    runner_id: str | None,
    manual: bool = False,
) -> Run:
    target = job["target"]
    try:
        fields = targets.get(target.get("type", "")).run_fields(target, job["payload"])
    except Exception:  # an unregistered type still gets a Run, which then fails
        fields = targets.RunFields(input=job["payload"])
    metadata = {
        **fields.metadata,
        "job_id": job["job_id"],
        "slot_at": iso(slot_at),
        "manual": manual,
        "target_type": target.get("type"),
        "attempt": attempt,
    }
    return Run(
        run_id=run_id,
        job_id=job["job_id"],
        kind=fields.kind,
        status="running",
        scope=fields.scope,
        input=fields.input,
        metadata=metadata,
        slot_at=None if manual else slot_at,
        attempt=attempt,
        manual=manual,
        runner_id=runner_id,
        started_at=now,
        job_created_at=job["created_at"],
    )


def execute(job: dict[str, Any], run: Run, slot_at: datetime | None, attempt: int, *, manual: bool) -> Outcome:
    """Run the target of ``job`` for ``run``; never raises, and returns by the job's timeout."""
    signals.run_started.send(sender=Run, run=run)
    timeout_ms = job.get("timeout_ms")
    context = targets.Context(
        job_id=job["job_id"],
        run_id=run.run_id,
        slot_at=slot_at,
        attempt=attempt,
        manual=manual,
        payload=job["payload"],
        target=job["target"],
        metadata=job["metadata"],
        routing_policy=job["routing_policy"],
        timeout_ms=timeout_ms,
    )
    outcome = call(context) if timeout_ms is None else call_with_timeout(context, timeout_ms)
    outcome.result = bounded(outcome.result)
    return outcome


def call(context: targets.Context) -> Outcome:
    try:
        outcome = targets.get(context.target.get("type", "")).execute(context)
        if not isinstance(outcome, Outcome) or outcome.status not in OUTCOMES:
            raise TypeError(f"the executor returned {outcome!r}, not an Outcome")
        check_json(outcome.result, "result", "invalid_result")
        check_json(outcome.error, "error", "invalid_result")
        check_json(outcome.scope, "scope", "invalid_result")
        check_json(outcome.steps, "steps", "invalid_result")
        check_json(outcome.metadata, "metadata", "invalid_result")
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: a target must not stop the runner
        logger.warning("target of job %s raised %s", context.job_id, type(exc).__name__, exc_info=True)
        return Outcome(FAILED, error=error_data(exc))
    return outcome


def call_with_timeout(context: targets.Context, timeout_ms: int) -> Outcome:
    deadline = time.monotonic() + timeout_ms / 1000
    box: list[Outcome] = []

    def work() -> None:
        try:
            with deadlines.until(deadline):
                box.append(call(context))
        finally:
            connections.close_all()  # this thread's own connections

    thread = threading.Thread(target=work, name=f"routines-target:{context.job_id}", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if box:
        return box[0]
    with _overdue_lock:
        _overdue[context.job_id] = thread
    logger.warning("target of job %s ran past its timeout of %d ms; the runner goes on", context.job_id, timeout_ms)
    return Outcome(FAILED, error=timeout_error(timeout_ms))


def overdue_jobs() -> list[str]:
    """Jobs whose target outlived its timeout in this process and has not returned yet."""
    with _overdue_lock:
        for job_id in [job_id for job_id, thread in _overdue.items() if not thread.is_alive()]:
            del _overdue[job_id]
        return list(_overdue)


def bounded(result: Any) -> Any:
    """``result``, or a short stand-in when its JSON is larger than ``MAX_RESULT_BYTES``."""
    if result is None or isinstance(result, (bool, int, float)):
        return result
    limit = int(routines_settings.MAX_RESULT_BYTES)
    text = json.dumps(result, ensure_ascii=False)
    if len(text) * 4 <= limit:  # no character takes more than 4 bytes
        return result
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return result
    preview = data[:PREVIEW_BYTES].decode("utf-8", "ignore")
    return {"truncated": True, "bytes": len(data), "preview": preview}


def close_run(run: Run, outcome: Outcome, finished_at: datetime) -> None:
    """Fill in the Run's final fields in memory."""
    run.status = outcome.status
    run.result = outcome.result if outcome.status == COMPLETED else None
    run.error = None if outcome.status == COMPLETED else outcome.error
    run.finished_at = finished_at
    if outcome.scope is not None:
        run.scope = outcome.scope
    if outcome.steps is not None:
        run.steps = outcome.steps
    if outcome.metadata:
        run.metadata = {**run.metadata, **outcome.metadata}


def default_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
