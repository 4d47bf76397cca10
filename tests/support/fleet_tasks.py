"""Django Tasks the worker fleets execute in the scale-out tests (allow-listed as ``tests.support.fleet_tasks.*``).

Each execution is counted in Redis by the task itself, apart from the Run rows routines writes, so a
test sees how many times the fleet really ran each job. The RQ and the Celery task exist only
where their backend is configured (tests/settings.py).
"""

from __future__ import annotations

import os
from typing import Any

import redis
from django.conf import settings

try:
    from django.tasks import task
except ImportError:
    from django_tasks import task


def executions_key() -> str:
    return f"{settings.SCALE_QUEUE}:executions"


def tally(job_id: str) -> dict[str, Any]:
    """Count this execution of ``job_id`` and say which worker process ran it."""
    count = redis.Redis.from_url(settings.REDIS_URL).hincrby(executions_key(), job_id, 1)
    return {"job_id": job_id, "execution": count, "worker_pid": os.getpid()}


if "rq" in settings.TASKS:

    @task(backend="rq", queue_name=settings.SCALE_QUEUE)
    def tally_rq(job_id: str) -> dict[str, Any]:
        return tally(job_id)


if "celery" in settings.TASKS:

    @task(backend="celery", queue_name=settings.SCALE_QUEUE)
    def tally_celery(job_id: str) -> dict[str, Any]:
        return tally(job_id)
