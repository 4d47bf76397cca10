"""Job timeouts, bounded results and targets that raise BaseException, in process.

The same rules with real ``run_due`` processes are in test_batch_safety.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from routines import api, deadlines
from routines.checks import check_settings
from routines.exceptions import InvalidInput
from routines.execution import PREVIEW_BYTES, bounded, overdue_jobs
from routines.models import Job, Run
from tests.support import callables
from tests.support.jobs import T0, make, once

pytestmark = pytest.mark.django_db

BASE = "/api/routines/"


def target(name: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": "callable", "path": f"tests.support.callables.{name}", "kwargs": kwargs}


def only_run(job_id: str) -> Run:
    [run] = Run.objects.filter(job_id=job_id)
    return run


@pytest.fixture
def released() -> Iterator[dict[str, threading.Event]]:
    """Events that ``callables.blocks`` targets wait on; all set at the end so no thread outlives the test."""
    yield callables.RELEASE
    for event in callables.RELEASE.values():
        event.set()
    deadline = time.monotonic() + 10
    while overdue_jobs() and time.monotonic() < deadline:
        time.sleep(0.01)
    callables.RELEASE.clear()


# The field ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 999, -1, 2**31, 1.5, "5000", True, [1000]])
def test_a_bad_timeout_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        make("j", timeout_ms=value)
    assert caught.value.field == "timeout_ms"
    assert not Job.objects.exists()


@pytest.mark.parametrize("value", [None, 1000, 2**31 - 1])
def test_a_timeout_is_null_or_at_least_a_second(value: int | None) -> None:
    assert make("j", timeout_ms=value).timeout_ms == value


def test_a_timeout_can_be_patched_and_cleared() -> None:
    make("j", once(T0))
    assert api.update("j", {"timeout_ms": 5000}).timeout_ms == 5000
    assert api.update("j", {"timeout_ms": None}).timeout_ms is None
    with pytest.raises(InvalidInput) as caught:
        api.update("j", {"timeout_ms": 10})
    assert caught.value.field == "timeout_ms"
    assert api.get("j").timeout_ms is None


def test_the_setting_is_the_default_for_new_jobs_only(settings: Any) -> None:
    make("before")
    settings.ROUTINES = {**settings.ROUTINES, "DEFAULT_TIMEOUT_MS": 60_000}
    assert make("after").timeout_ms == 60_000
    assert make("own", timeout_ms=2000).timeout_ms == 2000
    assert api.get("before").timeout_ms is None


@pytest.mark.parametrize("value", [0, 999, 2**31, -5])
def test_a_bad_default_timeout_is_a_system_check_error(settings: Any, value: int) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "DEFAULT_TIMEOUT_MS": value}
    [error] = check_settings()
    assert error.id == "routines.E003" and "DEFAULT_TIMEOUT_MS" in error.msg


@pytest.mark.parametrize("value", [0, -1, "1MB", None])
def test_a_bad_max_result_bytes_is_a_system_check_error(settings: Any, value: object) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "MAX_RESULT_BYTES": value}
    [error] = check_settings()
    assert error.id == "routines.E003" and "MAX_RESULT_BYTES" in error.msg


def test_rest_takes_and_shows_the_timeout_and_refuses_a_bad_one(staff_client: Client) -> None:
    body = {"job_id": "j", "schedule": {"type": "once", "at": "2026-01-01T12:00:00Z"}, "target": {"type": "run"}}
    r = staff_client.post(BASE + "jobs/", json.dumps({**body, "timeout_ms": 3000}), content_type="application/json")
    assert r.status_code == 201 and r.json()["timeout_ms"] == 3000
    r = staff_client.patch(BASE + "jobs/j/", json.dumps({"timeout_ms": 20}), content_type="application/json")
    assert r.status_code == 400
    assert (r.json()["error"], r.json()["field"]) == ("invalid_patch", "timeout_ms")
    r = staff_client.post(
        BASE + "jobs/", json.dumps({**body, "job_id": "k", "timeout_ms": "x"}), content_type="application/json"
    )
    assert r.status_code == 400 and r.json()["field"] == "timeout_ms"
    assert api.get("j").timeout_ms == 3000 and not Job.objects.filter(job_id="k").exists()


def test_the_schema_describes_the_timeout(admin_client: Client) -> None:
    schemas = admin_client.get(BASE + "schema/?format=json").json()["components"]["schemas"]
    for name in ("Job", "JobCreateRequest", "PatchedJobPatchRequest"):
        prop = schemas[name]["properties"]["timeout_ms"]
        assert prop["type"] == "integer" and prop.get("nullable") is True, (name, prop)
    assert schemas["JobCreateRequest"]["properties"]["timeout_ms"]["minimum"] == 1000


def test_the_admin_form_takes_the_timeout_and_names_a_bad_one(client: Client, settings: Any) -> None:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    settings.ROUTINES = {**settings.ROUTINES, "DEFAULT_TIMEOUT_MS": 45_000}
    add = "/admin/routines/job/add/"
    assert client.get(add).context["adminform"].form["timeout_ms"].initial == 45_000
    data = {
        "job_id": "a",
        "schedule": '{"type": "interval", "every_ms": 60000}',
        "target": '{"type": "run"}',
        "payload": "null",
        "metadata": "{}",
        "routing_policy": "{}",
        "retry_policy": '{"max_attempts": 1, "backoff_ms": 0}',
        "timeout_ms": "500",
    }
    response = client.post(add, data)
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["timeout_ms"]
    assert not Job.objects.exists()
    assert client.post(add, {**data, "timeout_ms": "2000"}).status_code == 302
    assert api.get("a").timeout_ms == 2000


# Running past it ---------------------------------------------------------------------------------


def test_a_target_past_its_timeout_fails_its_run_and_the_batch_goes_on(released: dict[str, threading.Event]) -> None:
    released["stuck"] = threading.Event()
    make("stuck", once(T0), target("blocks"), timeout_ms=1000, retry_policy={"max_attempts": 2, "backoff_ms": 60_000})
    make("next", once(T0), target("add", a=1, b=2))
    results = api.run_due({"now": T0})
    assert sorted(r.outcome for r in results) == ["completed", "failed"]
    run = only_run("stuck")
    assert (run.status, run.error) == ("failed", {"reason": "timeout", "timeout_ms": 1000})
    job = api.get("stuck")
    assert (job.state, job.attempt_count) == ("retry_waiting", 1)  # counted by its retry policy
    assert only_run("next").result == 3

    # The stuck target still runs in the background: this process does not start that job again.
    assert overdue_jobs() == ["stuck"]
    assert api.run_due({"now": T0 + timedelta(hours=1)}) == []
    released["stuck"].set()
    deadline = time.monotonic() + 10
    while overdue_jobs() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert overdue_jobs() == []
    assert Run.objects.filter(job_id="stuck").count() == 1  # its late return changes nothing


def test_a_target_within_its_timeout_completes_and_reads_its_deadline() -> None:
    make("j", once(T0), target("deadline"), timeout_ms=5000)
    make("none", once(T0), target("deadline"))
    api.run_due({"now": T0})
    left = only_run("j").result
    assert only_run("j").status == "completed" and 0 < left <= 5.0
    assert only_run("none").result is None  # no timeout, no deadline


def test_run_now_keeps_to_the_timeout_too(released: dict[str, threading.Event]) -> None:
    released["j"] = threading.Event()
    make("j", once(T0), target("blocks"), timeout_ms=1000)
    run = api.run_now("j")
    assert (run.status, run.error) == ("failed", {"reason": "timeout", "timeout_ms": 1000})
    assert api.get("j").state == "active"


def test_the_deadline_counts_down_and_is_gone_outside() -> None:
    assert deadlines.remaining() is None
    with deadlines.until(time.monotonic() + 2):
        left = deadlines.remaining()
        assert left is not None and 0 < left <= 2
    with deadlines.until(time.monotonic() - 1):
        assert deadlines.remaining() == 0.0
    assert deadlines.remaining() is None


# BaseException ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [("exits", "SystemExit"), ("interrupts", "KeyboardInterrupt"), ("generator_exit", "GeneratorExit")],
)
def test_a_target_raising_base_exception_fails_only_its_run(name: str, kind: str) -> None:
    make("bad", once(T0), target(name), retry_policy={"max_attempts": 2, "backoff_ms": 60_000})
    make("good", once(T0), target("add", a=2, b=2))
    results = api.run_due({"now": T0})
    assert len(results) == 2
    bad = only_run("bad")
    assert bad.status == "failed" and bad.error["type"] == kind
    assert (api.get("bad").state, api.get("bad").attempt_count) == ("retry_waiting", 1)
    assert only_run("good").result == 4


# Bounded results --------------------------------------------------------------------------------


def test_a_result_over_the_limit_is_stored_as_a_preview(settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "MAX_RESULT_BYTES": 4096}
    make("big", once(T0), target("big", size=5000))
    make("small", once(T0), target("big", size=4000))
    api.run_due({"now": T0})
    run = only_run("big")
    assert run.status == "completed"
    assert run.result == {"truncated": True, "bytes": 5002, "preview": json.dumps("x" * 5000)[:PREVIEW_BYTES]}
    assert api.get("big").last_result == run.result
    assert only_run("small").result == "x" * 4000


def test_a_preview_never_splits_a_character(settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "MAX_RESULT_BYTES": 2000}
    stand_in = bounded(["é" * 3000])
    assert stand_in["truncated"] is True and stand_in["bytes"] == len(
        json.dumps(["é" * 3000], ensure_ascii=False).encode()
    )
    assert len(stand_in["preview"].encode()) <= PREVIEW_BYTES
    assert json.dumps(["é" * 3000], ensure_ascii=False).startswith(stand_in["preview"])


@pytest.mark.parametrize("value", [None, True, 3, 2.5, "short", {"a": [1, 2]}])
def test_small_results_are_kept_as_they_are(value: Any) -> None:
    assert bounded(value) == value
