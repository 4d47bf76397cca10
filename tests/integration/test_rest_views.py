"""Every endpoint of SPEC §7 through real HTTP requests to the Django test client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from routines import api
from routines.models import Job, Run

BASE = "/api/routines/"
ONCE = {"type": "once", "at": "2026-01-01T12:00:00Z"}
JOB = {"job_id": "j1", "schedule": ONCE, "target": {"type": "run"}, "payload": {"n": 1}}
JOB_FIELDS = {
    "job_id", "schedule", "target", "payload", "metadata", "routing_policy", "retry_policy", "timeout_ms",
    "late_after_ms", "end_at", "max_runs", "concurrency_key", "concurrency_limit", "run_count", "paused_until",
    "idempotency_key",
    "state", "attempt_count", "next_run_at", "current_run_id", "current_slot_at", "last_run_id", "last_run_at",
    "last_result", "last_error", "created_at", "updated_at", "cancelled_at", "completed_at",
}  # fmt: skip
RUN_FIELDS = {
    "run_id", "job_id", "kind", "status", "scope", "input", "metadata", "result", "error", "steps", "slot_at",
    "attempt", "manual", "runner_id", "started_at", "finished_at",
}  # fmt: skip

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: Any = None) -> Any:
    data = "" if body is None else json.dumps(body)
    return client.post(BASE + path, data, content_type="application/json")


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(BASE + path, json.dumps(body), content_type="application/json")


def error(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "detail", "field"}
    assert (body["error"], body["field"]) == (code, field)
    assert body["detail"]


@pytest.fixture
def job() -> Job:
    return api.create(JOB)


def make_running(job_id: str) -> None:
    Job.objects.filter(job_id=job_id).update(state="running")


# Jobs: create ---------------------------------------------------------------------------------


def test_create_answers_201_with_the_job_in_spec_shape(staff_client: Client) -> None:
    r = post(staff_client, "jobs/", JOB)
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == JOB_FIELDS
    assert body["job_id"] == "j1"
    assert body["schedule"] == {"type": "once", "at": "2026-01-01T12:00:00Z"}
    assert body["next_run_at"] == "2026-01-01T12:00:00Z"
    assert body["created_at"].endswith("Z")
    assert body["idempotency_key"] == "routine:j1"
    assert body["retry_policy"] == {"max_attempts": 1, "backoff_ms": 0}
    assert Job.objects.filter(job_id="j1").exists()


def test_create_accepts_epoch_ms(staff_client: Client) -> None:
    r = post(staff_client, "jobs/", {**JOB, "schedule": {"type": "once", "at": 1767268800000}})
    assert r.status_code == 201
    assert r.json()["next_run_at"] == "2026-01-01T12:00:00Z"


def test_create_with_an_existing_idempotency_key_answers_200_with_that_job(staff_client: Client) -> None:
    first = post(staff_client, "jobs/", {**JOB, "idempotency_key": "k"})
    again = post(staff_client, "jobs/", {**JOB, "job_id": "other", "idempotency_key": "k", "payload": 2})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Job.objects.count() == 1


def test_create_with_a_taken_job_id_is_409(staff_client: Client, job: Job) -> None:
    error(post(staff_client, "jobs/", JOB), 409, "already_exists", "job_id")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "invalid_job", "schedule"),
        ([], "invalid_job", None),
        ("text", "invalid_job", None),
        (None, "invalid_job", "schedule"),
        ({**JOB, "bogus": 1}, "unsupported_job_key", "bogus"),
        ({**JOB, "job_id": 5}, "invalid_job", "job_id"),
        ({**JOB, "job_id": "x" * 201}, "invalid_job", "job_id"),
        ({**JOB, "job_id": "bad id/"}, "invalid_job", "job_id"),
        ({**JOB, "schedule": "daily"}, "invalid_job", "schedule"),
        ({**JOB, "schedule": {"type": "once", "at": True}}, "invalid_job", "schedule"),
        ({**JOB, "schedule": {"type": "once", "at": 10**30}}, "invalid_job", "schedule"),
        ({**JOB, "schedule": {"type": "once", "at": 1.5}}, "invalid_job", "schedule"),
        ({**JOB, "schedule": {"type": "interval", "every_ms": 0}}, "invalid_job", "schedule"),
        ({**JOB, "schedule": {"type": "interval", "every_ms": 10**40}}, "invalid_job", "schedule"),
        ({**JOB, "schedule": {**ONCE, "x": 1}}, "unsupported_schedule_key", "x"),
        ({**JOB, "target": {"type": "nope"}}, "invalid_job", "target"),
        ({**JOB, "target": {"type": "run", "y": 1}}, "unsupported_target_key", "y"),
        ({**JOB, "target": {"type": "run", "outcome": "maybe"}}, "invalid_job", "target"),
        ({**JOB, "target": {"type": "callable", "path": "os.system"}}, "invalid_job", "target"),
        ({**JOB, "metadata": []}, "invalid_job", "metadata"),
        ({**JOB, "routing_policy": "x"}, "invalid_job", "routing_policy"),
        ({**JOB, "retry_policy": {"max_attempts": 0}}, "invalid_job", "retry_policy"),
        ({**JOB, "retry_policy": {"max_attempts": "3"}}, "invalid_job", "retry_policy"),
        ({**JOB, "retry_policy": {"tries": 3}}, "unsupported_retry_key", "tries"),
        ({**JOB, "idempotency_key": ""}, "invalid_job", "idempotency_key"),
        ({**JOB, "idempotency_key": "k" * 10_000}, "invalid_job", "idempotency_key"),
        ({**JOB, "state": "running"}, "invalid_job", "state"),
        ({**JOB, "next_run_at": "yesterday"}, "invalid_job", "next_run_at"),
        ({**JOB, "payload": "\x00"}, "invalid_job", "payload"),
    ],
)
def test_create_refuses_bad_input_naming_the_field_and_stores_nothing(
    staff_client: Client, body: Any, code: str, field: str | None
) -> None:
    error(post(staff_client, "jobs/", body), 400, code, field)
    assert not Job.objects.exists()


def test_create_denied_by_policy_is_403(staff_client: Client, settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "POLICY": "tests.support.policies.no_callables"}
    r = post(staff_client, "jobs/", {**JOB, "payload": "forbidden"})
    error(r, 403, "policy_denied")
    assert not Job.objects.exists()


# Jobs: read, change, delete -------------------------------------------------------------------


def test_retrieve(staff_client: Client, job: Job) -> None:
    r = staff_client.get(BASE + "jobs/j1/")
    assert r.status_code == 200
    assert r.json()["payload"] == {"n": 1}


def test_retrieve_an_id_with_dots_and_colons(staff_client: Client) -> None:
    api.create({**JOB, "job_id": "a.b:c-d_e"})
    assert staff_client.get(BASE + "jobs/a.b:c-d_e/").json()["job_id"] == "a.b:c-d_e"


@pytest.mark.parametrize("job_id", ["missing", "x" * 300, "%00", "a%20b", "%F0%9F%98%80"])
def test_unknown_job_ids_are_404(staff_client: Client, job_id: str) -> None:
    for response in (
        staff_client.get(BASE + f"jobs/{job_id}/"),
        patch(staff_client, f"jobs/{job_id}/", {"payload": 1}),
        staff_client.delete(BASE + f"jobs/{job_id}/"),
        post(staff_client, f"jobs/{job_id}/cancel/"),
        post(staff_client, f"jobs/{job_id}/pause/"),
        post(staff_client, f"jobs/{job_id}/resume/"),
        post(staff_client, f"jobs/{job_id}/run-now/"),
        staff_client.get(BASE + f"jobs/{job_id}/runs/"),
    ):
        error(response, 404, "not_found")


def test_patch_updates_and_recomputes_next_run_at(staff_client: Client, job: Job) -> None:
    r = patch(staff_client, "jobs/j1/", {"schedule": {"type": "once", "at": "2027-01-01T00:00:00+02:00"}})
    assert r.status_code == 200, r.content
    assert r.json()["next_run_at"] == "2026-12-31T22:00:00Z"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"job_id": "x"}, "unsupported_patch_key", "job_id"),
        ({"schedule": 1}, "invalid_patch", "schedule"),
        ({"state": "done"}, "invalid_patch", "state"),
        ([1], "invalid_patch", None),
    ],
)
def test_patch_refuses_bad_input(staff_client: Client, job: Job, body: Any, code: str, field: str | None) -> None:
    error(patch(staff_client, "jobs/j1/", body), 400, code, field)
    assert Job.objects.get().payload == {"n": 1}


def test_patch_a_running_job_is_409_busy_and_a_cancelled_one_409_terminal(staff_client: Client, job: Job) -> None:
    make_running("j1")
    error(patch(staff_client, "jobs/j1/", {"payload": 2}), 409, "job_busy")
    Job.objects.filter(job_id="j1").update(state="cancelled")
    error(patch(staff_client, "jobs/j1/", {"payload": 2}), 409, "job_terminal")


def test_patch_taking_another_jobs_idempotency_key_is_409(staff_client: Client, job: Job) -> None:
    api.create({**JOB, "job_id": "j2"})
    error(patch(staff_client, "jobs/j2/", {"idempotency_key": "routine:j1"}), 409, "already_exists", "idempotency_key")


def test_put_is_not_allowed(staff_client: Client, job: Job) -> None:
    r = staff_client.put(BASE + "jobs/j1/", json.dumps(JOB), content_type="application/json")
    error(r, 405, "method_not_allowed")


def test_delete_answers_204_and_keeps_runs(staff_client: Client, job: Job) -> None:
    api.run_now("j1")
    r = staff_client.delete(BASE + "jobs/j1/")
    assert r.status_code == 204
    assert not Job.objects.exists()
    assert Run.objects.filter(job_id="j1").count() == 1
    runs = staff_client.get(BASE + "jobs/j1/runs/")
    assert runs.status_code == 200 and runs.json()["count"] == 1  # the history outlives the job


def test_delete_a_running_job_is_409(staff_client: Client, job: Job) -> None:
    make_running("j1")
    error(staff_client.delete(BASE + "jobs/j1/"), 409, "job_busy")
    assert Job.objects.exists()


# Jobs: actions --------------------------------------------------------------------------------


def test_cancel_pause_resume(staff_client: Client, job: Job) -> None:
    paused = post(staff_client, "jobs/j1/pause/")
    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    assert post(staff_client, "jobs/j1/pause/").json()["state"] == "paused"
    assert post(staff_client, "jobs/j1/resume/").json()["state"] == "active"
    cancelled = post(staff_client, "jobs/j1/cancel/")
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    assert cancelled.json()["cancelled_at"].endswith("Z")
    assert post(staff_client, "jobs/j1/cancel/").status_code == 200
    error(post(staff_client, "jobs/j1/resume/"), 409, "job_terminal")
    error(post(staff_client, "jobs/j1/pause/"), 409, "job_terminal")


def test_pause_a_running_job_is_409(staff_client: Client, job: Job) -> None:
    make_running("j1")
    error(post(staff_client, "jobs/j1/pause/"), 409, "job_busy")


def test_run_now_answers_201_with_the_run(staff_client: Client, job: Job) -> None:
    r = post(staff_client, "jobs/j1/run-now/")
    assert r.status_code == 201, r.content
    run = r.json()
    assert set(run) == RUN_FIELDS
    assert (run["job_id"], run["manual"], run["status"], run["slot_at"]) == ("j1", True, "completed", None)
    assert run["result"] == {"n": 1}
    assert run["started_at"].endswith("Z")
    assert Job.objects.get().last_run_id == run["run_id"]


def test_run_now_on_cancelled_is_409_terminal_and_on_running_409_busy(staff_client: Client, job: Job) -> None:
    make_running("j1")
    error(post(staff_client, "jobs/j1/run-now/"), 409, "job_busy")
    api.cancel("j1")
    error(post(staff_client, "jobs/j1/run-now/"), 409, "job_terminal")


def test_job_runs_newest_first_and_paginated(staff_client: Client, job: Job) -> None:
    run_ids = [api.run_now("j1").run_id for _ in range(3)]
    api.create({**JOB, "job_id": "j2"})
    api.run_now("j2")
    r = staff_client.get(BASE + "jobs/j1/runs/?limit=2")
    body = r.json()
    assert body["count"] == 3
    assert [x["run_id"] for x in body["results"]] == run_ids[::-1][:2]
    assert "offset=2" in body["next"]
    assert body["previous"] is None


def test_due_listing(staff_client: Client, t0: Any) -> None:
    api.create({**JOB, "job_id": "late", "schedule": {"type": "once", "at": "2026-01-01T13:00:00Z"}})
    api.create({**JOB, "job_id": "early"})
    api.create({**JOB, "job_id": "future", "schedule": {"type": "once", "at": "2030-01-01T00:00:00Z"}})
    r = staff_client.get(BASE + "jobs/due/", {"at": "2026-01-02T00:00:00Z"})
    assert r.status_code == 200
    assert [j["job_id"] for j in r.json()] == ["early", "late"]
    r = staff_client.get(BASE + "jobs/due/", {"at": "1767312000000", "limit": "1"})
    assert [j["job_id"] for j in r.json()] == ["early"]
    Job.objects.filter(job_id="early").update(state="running", lease_expires_at="2100-01-01T00:00:00Z")
    assert [j["job_id"] for j in staff_client.get(BASE + "jobs/due/?at=2026-01-02T00:00:00Z").json()] == ["late"]
    claimed = staff_client.get(BASE + "jobs/due/?at=2026-01-02T00:00:00Z&include_claimed=true").json()
    assert [j["job_id"] for j in claimed] == ["early", "late"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("at=soon", "at"), ("at=99999999999999999", "at"), ("limit=0", "limit"), ("limit=x", "limit"),
     ("include_claimed=maybe", "include_claimed"), ("limit=-1", "limit")],
)  # fmt: skip
def test_due_refuses_bad_parameters(staff_client: Client, query: str, field: str) -> None:
    error(staff_client.get(BASE + "jobs/due/?" + query), 400, "invalid_filter", field)


def test_next_due(staff_client: Client) -> None:
    assert staff_client.get(BASE + "jobs/next-due/").json() == {"next_due_at": None}
    api.create(JOB)
    assert staff_client.get(BASE + "jobs/next-due/").json() == {"next_due_at": "2026-01-01T12:00:00Z"}


# Jobs: list, filters, pagination --------------------------------------------------------------


@pytest.fixture
def many_jobs() -> list[str]:
    ids = []
    for i in range(5):
        api.create({**JOB, "job_id": f"once{i}", "schedule": {"type": "once", "at": f"2026-01-0{i + 1}T00:00:00Z"}})
        ids.append(f"once{i}")
    api.create({**JOB, "job_id": "every", "schedule": {"type": "interval", "every_ms": 1000, "start_at": 0}})
    api.create({**JOB, "job_id": "call", "target": {"type": "callable", "path": "tests.support.callables.echo"}})
    api.update("once0", {"state": "paused"})
    return ids


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {j["job_id"] for j in response.json()["results"]}


def test_list_is_paginated(staff_client: Client, many_jobs: list[str]) -> None:
    first = staff_client.get(BASE + "jobs/?limit=3").json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    second = staff_client.get(first["next"]).json()
    third = staff_client.get(second["next"]).json()
    assert third["next"] is None
    seen = [j["job_id"] for page in (first, second, third) for j in page["results"]]
    assert sorted(seen) == sorted([*many_jobs, "every", "call"])
    assert seen[0] == "once0"  # newest update first
    assert staff_client.get(BASE + "jobs/?offset=1000000000000000").json()["results"] == []  # the largest offset


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=paused", {"once0"}),
        ("schedule_type=interval", {"every"}),
        ("target_type=callable", {"call"}),
        ("job_id=once3", {"once3"}),
        ("due_before=2026-01-02T00:00:00Z", {"once0", "once1", "every", "call"}),
        ("due_before=1767225600000", {"once0", "every"}),
        ("state=active&schedule_type=once&due_before=2026-01-03T00:00:00Z", {"once1", "once2", "call"}),
    ],
)
def test_list_filters(staff_client: Client, many_jobs: list[str], query: str, expected: set[str]) -> None:
    assert ids(staff_client.get(BASE + "jobs/?" + query)) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=sleeping", "state"), ("schedule_type=weekly", "schedule_type"), ("target_type=nope", "target_type"),
     ("due_before=tomorrow", "due_before"), ("job_id=" + "x" * 300, "job_id"), ("job_id=%00", "job_id")],
)  # fmt: skip
def test_list_refuses_bad_filters(staff_client: Client, query: str, field: str) -> None:
    error(staff_client.get(BASE + "jobs/?" + query), 400, "invalid_filter", field)


def test_list_query_count_is_bounded(
    staff_client: Client, django_assert_max_num_queries: Any, many_jobs: list[str]
) -> None:
    for i in range(40):
        api.create({**JOB, "job_id": f"more{i}"})
    # session + user + count + page, whatever the page size
    with django_assert_max_num_queries(4):
        assert len(staff_client.get(BASE + "jobs/?limit=100").json()["results"]) == 47
    with django_assert_max_num_queries(3):
        assert len(staff_client.get(BASE + "jobs/due/?at=2030-01-01T00:00:00Z").json()) == 46


def test_run_list_query_count_is_bounded(staff_client: Client, job: Job, django_assert_max_num_queries: Any) -> None:
    for _ in range(30):
        api.run_now("j1")
    with django_assert_max_num_queries(4):
        assert staff_client.get(BASE + "runs/?limit=100").json()["count"] == 30
    with django_assert_max_num_queries(5):
        assert staff_client.get(BASE + "jobs/j1/runs/?limit=100").json()["count"] == 30


# Runs -----------------------------------------------------------------------------------------


@pytest.fixture
def runs(job: Job) -> dict[str, str]:
    manual = api.run_now("j1").run_id
    later = {"type": "once", "at": "2030-01-01T00:00:00Z"}
    api.create({**JOB, "job_id": "bad", "schedule": later, "target": {"type": "run", "outcome": "failed"}})
    failed = api.run_now("bad").run_id
    (scheduled,) = api.run_due({"now": "2026-01-01T12:00:00Z", "limit": 1})
    return {"manual": manual, "failed": failed, "scheduled": scheduled.run.run_id}


def test_runs_list_filters_and_retrieve(staff_client: Client, runs: dict[str, str]) -> None:
    def run_ids(query: str) -> set[str]:
        r = staff_client.get(BASE + "runs/?" + query)
        assert r.status_code == 200, r.content
        return {x["run_id"] for x in r.json()["results"]}

    assert run_ids("") == set(runs.values())
    assert run_ids("job_id=bad") == {runs["failed"]}
    assert run_ids("status=failed") == {runs["failed"]}
    assert run_ids("manual=false") == {runs["scheduled"]}
    assert run_ids("manual=true") == {runs["manual"], runs["failed"]}
    one = staff_client.get(BASE + f"runs/{runs['scheduled']}/").json()
    assert set(one) == RUN_FIELDS
    assert one["slot_at"] == "2026-01-01T12:00:00Z"
    assert one["metadata"]["slot_at"] == "2026-01-01T12:00:00Z"
    error(staff_client.get(BASE + "runs/run_missing/"), 404, "not_found")


@pytest.mark.parametrize(("query", "field"), [("status=lost", "status"), ("manual=perhaps", "manual")])
def test_runs_refuse_bad_filters(staff_client: Client, query: str, field: str) -> None:
    error(staff_client.get(BASE + "runs/?" + query), 400, "invalid_filter", field)


# run-due --------------------------------------------------------------------------------------


def test_run_due_executes_and_reports(staff_client: Client, job: Job) -> None:
    r = post(staff_client, "run-due/", {"now": 1767268800000, "runner_id": "cron-1", "claim_ttl_ms": 5000})
    assert r.status_code == 200, r.content
    (result,) = r.json()["results"]
    assert set(result) == {"job_id", "slot_at", "run_id", "status", "outcome"}
    assert (result["job_id"], result["slot_at"], result["status"], result["outcome"]) == (
        "j1",
        "2026-01-01T12:00:00Z",
        "executed",
        "completed",
    )
    assert Run.objects.get(run_id=result["run_id"]).runner_id == "cron-1"
    assert post(staff_client, "run-due/").json() == {"results": []}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"limit": 0}, "invalid_filter", "limit"),
        ({"now": "later"}, "invalid_filter", "now"),
        ({"claim_ttl_ms": 10**20}, "invalid_filter", "claim_ttl_ms"),
        ({"runner_id": ""}, "invalid_filter", "runner_id"),
        ({"extra": 1}, "unsupported_filter", "extra"),
        ([1, 2], "invalid_filter", None),
    ],
)
def test_run_due_refuses_bad_bodies(staff_client: Client, job: Job, body: Any, code: str, field: str | None) -> None:
    error(post(staff_client, "run-due/", body), 400, code, field)
    assert not Run.objects.exists()


# Who may call ---------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "jobs/"),
    ("post", "jobs/"),
    ("get", "jobs/j1/"),
    ("patch", "jobs/j1/"),
    ("delete", "jobs/j1/"),
    ("get", "jobs/due/"),
    ("get", "jobs/next-due/"),
    ("post", "jobs/j1/cancel/"),
    ("post", "jobs/j1/pause/"),
    ("post", "jobs/j1/resume/"),
    ("post", "jobs/j1/run-now/"),
    ("get", "jobs/j1/runs/"),
    ("get", "runs/"),
    ("get", "runs/run_x/"),
    ("post", "run-due/"),
]


def call(client: Client, method: str, path: str) -> Any:
    if method == "get":
        return client.get(BASE + path)
    return getattr(client, method)(
        BASE + path, json.dumps(JOB if path == "jobs/" else {}), content_type="application/json"
    )


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_is_403_not_authenticated(anon_client: Client, job: Job, method: str, path: str) -> None:
    error(call(anon_client, method, path), 403, "not_authenticated")
    assert Job.objects.get().state == "active"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_non_staff_is_403_permission_denied(user_client: Client, job: Job, method: str, path: str) -> None:
    error(call(user_client, method, path), 403, "permission_denied")
    assert Job.objects.get().state == "active"
    assert not Run.objects.exists()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_staff_is_never_refused(staff_client: Client, job: Job, method: str, path: str) -> None:
    assert call(staff_client, method, path).status_code not in (401, 403)


def test_permission_classes_come_from_settings_at_request_time(anon_client: Client, job: Job, settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "API_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"]}
    assert anon_client.get(BASE + "jobs/j1/").status_code == 200
    settings.ROUTINES = {**settings.ROUTINES, "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]}
    error(anon_client.get(BASE + "jobs/j1/"), 403, "not_authenticated")


def test_basic_auth_works_for_curl(anon_client: Client, job: Job, django_user_model: Any) -> None:
    import base64

    django_user_model.objects.create_user("ops", password="secret", is_staff=True)
    token = base64.b64encode(b"ops:secret").decode()
    assert anon_client.get(BASE + "jobs/", HTTP_AUTHORIZATION=f"Basic {token}").status_code == 200
    bad = base64.b64encode(b"ops:wrong").decode()
    error(anon_client.get(BASE + "jobs/", HTTP_AUTHORIZATION=f"Basic {bad}"), 403, "authentication_failed")
