"""The `task` target (SPEC §11): enqueue a Django Tasks @task, allow-listed, result or failure."""

from __future__ import annotations

import sys
from datetime import timedelta
from importlib.util import find_spec

import pytest
from django.utils import timezone

from routines import api
from routines.exceptions import InvalidInput

tasks_module = pytest.importorskip("tests.support.tasks", reason="needs django.tasks (Django 6) or django-tasks")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def allow_tasks(settings: pytest.FixtureRequest) -> None:
    settings.ROUTINES = {
        **settings.ROUTINES,
        "CALLABLE_ALLOWLIST": ["tests.support.callables.*", "tests.support.tasks.*"],
    }
    tasks_module.CALLS.clear()


def create(target: dict, job_id: str = "t1") -> object:
    return api.create({"job_id": job_id, "schedule": {"type": "once", "at": timezone.now()}, "target": target})


def run_one() -> object:
    [result] = api.run_due({"now": timezone.now() + timedelta(seconds=1)})
    return result.run


def test_validate_normalizes_defaults() -> None:
    job = create({"type": "task", "name": "tests.support.tasks.record"})
    assert job.target == {"type": "task", "name": "tests.support.tasks.record", "args": [], "kwargs": {}}


def test_immediate_backend_runs_the_task_and_the_run_completes_with_its_id() -> None:
    create({"type": "task", "name": "tests.support.tasks.record", "args": [1, "a"], "kwargs": {"k": True}})
    run = run_one()
    assert run.status == "completed"
    assert set(run.result) == {"task_result_id", "backend"}
    assert run.result["backend"] == "default"
    assert tasks_module.CALLS == [((1, "a"), {"k": True})]
    assert api.get("t1").state == "completed"


@pytest.mark.skipif(
    not find_spec("django_tasks_db"),
    reason="needs django-tasks-db (the database backend)",
)
def test_database_backend_stores_the_task_for_a_worker() -> None:
    from django_tasks_db.models import DBTaskResult

    create({"type": "task", "name": "tests.support.tasks.queued_report", "kwargs": {"day": "monday"}, "priority": 7})
    run = run_one()
    assert run.status == "completed"
    assert run.result["backend"] == "database"
    stored = DBTaskResult.objects.get(id=run.result["task_result_id"])
    assert (stored.queue_name, stored.priority, stored.status) == ("reports", 7, "READY")
    assert stored.args_kwargs == {"args": [], "kwargs": {"day": "monday"}}


def test_options_override_the_task_defaults() -> None:
    create(
        {
            "type": "task",
            "name": "tests.support.tasks.record",
            "backend": "default",
            "queue_name": "default",
            "priority": -3,
        }
    )
    assert run_one().status == "completed"


@pytest.mark.parametrize(
    ("target", "code", "field"),
    [
        ({"type": "task"}, "invalid_job", "target"),
        ({"type": "task", "name": "os.system"}, "invalid_job", "target"),
        ({"type": "task", "name": "tests.support.tasks._private"}, "invalid_job", "target"),
        ({"type": "task", "name": "tests.support.tasks.record", "args": {}}, "invalid_job", "target"),
        ({"type": "task", "name": "tests.support.tasks.record", "kwargs": []}, "invalid_job", "target"),
        ({"type": "task", "name": "tests.support.tasks.record", "priority": 101}, "invalid_job", "target"),
        ({"type": "task", "name": "tests.support.tasks.record", "priority": True}, "invalid_job", "target"),
        ({"type": "task", "name": "tests.support.tasks.record", "queue_name": ""}, "invalid_job", "target"),
        ({"type": "task", "name": "tests.support.tasks.record", "path": "x"}, "unsupported_target_key", "path"),
    ],
)
def test_bad_task_targets_are_refused_and_nothing_is_stored(target: dict, code: str, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        create(target)
    assert (err.value.code, err.value.field) == (code, field)
    assert api.list() == []


def test_name_outside_the_allow_list_is_never_imported() -> None:
    from tests.support import callables

    sys.modules.pop("tests.support.tripwire", None)
    callables.IMPORTED.clear()
    with pytest.raises(InvalidInput):
        create({"type": "task", "name": "tests.support.tripwire.fire"})
    assert callables.IMPORTED == []


@pytest.mark.parametrize(
    ("name", "error_type"),
    [("tests.support.tasks.not_a_task", "TypeError"), ("tests.support.tasks.missing", "ImportError")],
)
def test_enqueue_errors_fail_the_run(name: str, error_type: str) -> None:
    create({"type": "task", "name": name})
    run = run_one()
    assert run.status == "failed"
    assert run.error["type"] == error_type


def test_unknown_backend_fails_the_run() -> None:
    create({"type": "task", "name": "tests.support.tasks.record", "backend": "nowhere"})
    run = run_one()
    assert run.status == "failed"
    assert tasks_module.CALLS == []


def test_allow_list_shrunk_after_creation_fails_the_run(settings: pytest.FixtureRequest) -> None:
    create({"type": "task", "name": "tests.support.tasks.record"})
    settings.ROUTINES = {**settings.ROUTINES, "CALLABLE_ALLOWLIST": []}
    run = run_one()
    assert run.status == "failed"
    assert run.error["type"] == "PermissionError"
    assert tasks_module.CALLS == []
