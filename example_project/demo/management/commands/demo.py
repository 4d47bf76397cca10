"""``manage.py demo``: create a few demo routines through the Python API (idempotent)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from routines import api

ADMIN_USER = "admin"
DEMO_JOBS: list[dict[str, Any]] = [
    {
        "job_id": "demo.digest",
        "idempotency_key": "demo:digest",
        "schedule": {"type": "interval", "every_ms": 60_000},
        "target": {"type": "run", "scope": "digest"},
        "payload": {"subscribers": 42},
    },
    {
        "job_id": "demo.welcome-email",
        "idempotency_key": "demo:welcome-email",
        "schedule": {"type": "once", "at": "now"},
        "target": {"type": "run", "result": {"sent": 1}},
    },
    {
        "job_id": "demo.flaky-webhook",
        "idempotency_key": "demo:flaky-webhook",
        "schedule": {"type": "interval", "every_ms": 300_000, "catch_up": True},
        "target": {"type": "run", "outcome": "failed", "error": {"reason": "HTTP 503"}},
        "retry_policy": {"max_attempts": 3, "backoff_ms": 0},
    },
    {
        # A prompt on an agent session: the echo backend (the default SESSION_BACKEND) answers
        # with the prompt itself; point SESSION_BACKEND at the OpenAI backend for a real model.
        "job_id": "demo.queue-summary",
        "idempotency_key": "demo:queue-summary",
        "schedule": {"type": "interval", "every_ms": 600_000},
        "target": {
            "type": "query",
            "session": {"kind": "routed", "opts": {"system": "You summarise support queues."}},
            "prompt": "Summarise the support queue in three bullet points.",
            "thread": {"start": {}},
        },
        "routing_policy": {"tier": "cheap"},
    },
    {
        # A project function, allowed by ROUTINES["CALLABLE_ALLOWLIST"] = ["demo.jobs.*"].
        "job_id": "demo.failure-report",
        "idempotency_key": "demo:failure-report",
        "schedule": {"type": "interval", "every_ms": 600_000},
        "target": {"type": "callable", "path": "demo.jobs.failure_report", "kwargs": {"window": 20}},
    },
]


class Command(BaseCommand):
    help = "Create the demo routines (again: existing ones are left as they are)."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for spec in DEMO_JOBS:
            spec = {**spec, "schedule": dict(spec["schedule"])}
            if spec["schedule"].get("at") == "now":
                spec["schedule"]["at"] = now
            if spec["schedule"]["type"] == "interval":
                spec["schedule"]["start_at"] = now - timedelta(minutes=10)
            job = api.create(spec)
            nxt = f"{job.next_run_at:%Y-%m-%d %H:%M:%S} UTC" if job.next_run_at else "none"
            self.stdout.write(f"routine {job.job_id}: {job.state}, next run {nxt}")
        self.stdout.write(admin_hint())


def admin_hint() -> str:
    """Create the demo superuser once (its password printed); later runs say how to reset it."""
    from django.contrib.auth import get_user_model

    users = get_user_model()
    if users.objects.filter(username=ADMIN_USER).exists():
        login = f"log in as {ADMIN_USER!r} (forgot the password? python manage.py changepassword {ADMIN_USER})"
    else:
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(ADMIN_USER, "admin@example.com", password)
        login = f"log in as {ADMIN_USER!r} with password {password!r}"
    return (
        "\nAdmin: run `python manage.py runserver` in example_project/, open "
        f"http://127.0.0.1:8000/admin/routines/job/ and {login}."
    )
