"""Django Tasks used by the `task` target tests (allow-listed there as tests.support.tasks.*)."""

from __future__ import annotations

from django.conf import settings

try:
    from django.tasks import task
except ImportError:
    from django_tasks import task

CALLS: list[tuple[tuple, dict]] = []


@task
def record(*args: object, **kwargs: object) -> int:
    CALLS.append((args, kwargs))
    return len(CALLS)


if "database" in settings.TASKS:  # django-tasks-db installed

    @task(backend="database", queue_name="reports", priority=5)
    def queued_report(day: str) -> str:
        return day


def not_a_task() -> None:
    """A plain function: naming it in a task target fails the run."""
