"""The OpenAPI schema (served with no project settings, to whom the API serves) and schemathesis.

schemathesis generates positive and negative requests for every operation from the served
schema and sends them through the WSGI app as a logged-in staff user; every response must be
non-5xx and conform to the schema (status code, content type, body).
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (the `test` extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# The schema document is generated from the code alone: its tests are marked db_independent (CI
# reads it on SQLite only). The schemathesis run below goes through the views and their queries
# (a NUL byte or a huge integer in a filter is each database's own matter): it runs on every one.
SCHEMA_URL = "/api/routines/schema/?format=json"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"st:pw").decode()}
# Per operation and mode; 15 operations x 2 modes keeps the whole run well under a minute.
MAX_EXAMPLES = 15
CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()
SECONDS: Counter[str] = Counter()


@pytest.fixture
def served(admin_client: Client) -> dict[str, Any]:
    r = admin_client.get(SCHEMA_URL)
    assert r.status_code == 200, r.content
    return r.json()


@pytest.mark.db_independent
def test_schema_is_served_without_settings(served: dict[str, Any], settings: Any) -> None:
    assert served["openapi"].startswith("3.")
    assert not hasattr(settings, "REST_FRAMEWORK")
    assert "drf_spectacular" not in settings.INSTALLED_APPS
    paths = set(served["paths"])
    assert paths == {
        "/api/routines/jobs/",
        "/api/routines/jobs/{job_id}/",
        "/api/routines/jobs/{job_id}/cancel/",
        "/api/routines/jobs/{job_id}/pause/",
        "/api/routines/jobs/{job_id}/resume/",
        "/api/routines/jobs/{job_id}/run-now/",
        "/api/routines/jobs/{job_id}/runs/",
        "/api/routines/jobs/due/",
        "/api/routines/jobs/next-due/",
        "/api/routines/runs/",
        "/api/routines/runs/{run_id}/",
        "/api/routines/run-due/",
        "/api/routines/health/",
        "/api/routines/metrics/",
        "/api/routines/pause-all/",
        "/api/routines/resume-all/",
        "/api/routines/events/",
    }
    assert set(served["paths"]["/api/routines/jobs/{job_id}/"]) >= {"get", "patch", "delete"}
    assert "put" not in served["paths"]["/api/routines/jobs/{job_id}/"]


@pytest.mark.db_independent
def test_a_project_wide_drf_spectacular_schema_has_no_warning_with_the_documented_names(settings: Any) -> None:
    """What ``manage.py spectacular`` of a project mounting these URLs does: nothing of ours warns."""
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import spectacular_settings

    from routines.rest.docs import SCHEMA_SETTINGS

    settings.SPECTACULAR_SETTINGS = {"ENUM_NAME_OVERRIDES": {**SCHEMA_SETTINGS["ENUM_NAME_OVERRIDES"]}}
    spectacular_settings.reload()
    GENERATOR_STATS.reset()
    try:
        document = SchemaGenerator().get_schema(public=True)
        assert dict(GENERATOR_STATS._warn_cache) == {} and dict(GENERATOR_STATS._error_cache) == {}
    finally:
        del settings.SPECTACULAR_SETTINGS
        spectacular_settings.reload()
    enums = {name for name in document["components"]["schemas"] if name.endswith("Enum")}
    assert {"JobStateEnum", "EditableStateEnum", "RunStatusEnum"} <= enums
    assert "/api/routines/jobs/" in document["paths"] and "/api/routines/schema/" not in document["paths"]


@pytest.mark.db_independent
def test_schedule_and_target_are_oneof_variants(served: dict[str, Any]) -> None:
    create = served["components"]["schemas"]["JobCreateRequest"]
    schedule = create["properties"]["schedule"]["oneOf"]
    target = create["properties"]["target"]["oneOf"]
    assert [v["properties"]["type"]["enum"] for v in schedule] == [["once"], ["interval"], ["cron"]]
    assert [v["title"] for v in target] == ["run", "query", "callable", "task", "registered"]
    assert set(create["required"]) == {"schedule", "target"}
    job = served["components"]["schemas"]["Job"]
    assert "oneOf" in job["properties"]["schedule"]
    assert job["properties"]["next_run_at"]["format"] == "date-time"


@pytest.mark.db_independent
def test_filters_and_pagination_are_documented(served: dict[str, Any]) -> None:
    params = {p["name"] for p in served["paths"]["/api/routines/jobs/"]["get"]["parameters"]}
    assert params == {"state", "schedule_type", "target_type", "job_id", "due_before", "limit", "offset"}
    params = {p["name"] for p in served["paths"]["/api/routines/runs/"]["get"]["parameters"]}
    assert params == {"job_id", "status", "manual", "limit", "offset"}
    due = {p["name"] for p in served["paths"]["/api/routines/jobs/due/"]["get"]["parameters"]}
    assert due == {"at", "limit", "include_claimed"}
    params = {p["name"] for p in served["paths"]["/api/routines/events/"]["get"]["parameters"]}
    assert params == {"job_id", "run_id", "event_type", "created_after", "created_before", "limit", "offset"}
    page = served["components"]["schemas"]["PaginatedJobList"]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}


@pytest.mark.db_independent
def test_limits_are_documented_with_their_bounds(served: dict[str, Any]) -> None:
    for endpoint in ("jobs/", "runs/", "events/", "jobs/due/", "jobs/{job_id}/runs/"):
        operation = served["paths"]["/api/routines/" + endpoint]["get"]
        limit = next(p for p in operation["parameters"] if p["name"] == "limit")
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000), endpoint
    due = next(p for p in served["paths"]["/api/routines/jobs/due/"]["get"]["parameters"] if p["name"] == "limit")
    assert due["schema"]["default"] == 100


@pytest.mark.db_independent
def test_run_due_body_is_one_closed_component_taking_nulls(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    assert "RunDueRequestRequest" not in schemas
    body = schemas["RunDueRequest"]
    assert body["additionalProperties"] is False
    assert all(body["properties"][key].get("nullable") for key in ("limit", "now", "runner_id", "claim_ttl_ms"))


@pytest.mark.db_independent
def test_target_type_is_open_to_registered_types(served: dict[str, Any]) -> None:
    """Any string is a type as far as the schema goes: an unknown one is refused by validation (400)."""
    for name in ("JobCreateRequest", "Job"):
        registered = served["components"]["schemas"][name]["properties"]["target"]["oneOf"][-1]
        assert registered["properties"]["type"]["type"] == "string"
        assert "enum" not in registered["properties"]["type"]


@pytest.mark.db_independent
def test_descriptions_speak_to_users(served: dict[str, Any]) -> None:
    text = json.dumps(served)
    for internal in ("SPEC", "§", "``", "routines.api", "docstring", "Thin DRF", "queryset"):
        assert internal not in text, internal


@pytest.mark.django_db
def test_unknown_target_type_is_a_400(admin_client: Client) -> None:
    body = {"schedule": {"type": "once", "at": "2030-01-01T00:00:00Z"}, "target": {"type": "nope"}}
    r = admin_client.post("/api/routines/jobs/", json.dumps(body), content_type="application/json")
    assert r.status_code == 400 and r.json()["field"] == "target"


@pytest.mark.db_independent
def test_errors_are_documented_in_one_shape(served: dict[str, Any]) -> None:
    delete = served["paths"]["/api/routines/jobs/{job_id}/"]["delete"]["responses"]
    assert {"204", "403", "404", "409"} <= set(delete)
    assert delete["409"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"
    assert set(served["components"]["schemas"]["Error"]["properties"]) == {"error", "detail", "field"}


@pytest.mark.db_independent
def test_schema_follows_the_mount_point(admin_client: Client) -> None:
    from django.test import override_settings

    with override_settings(ROOT_URLCONF="tests.system.test_rest_schema"):
        paths = admin_client.get("/elsewhere/schema/?format=json").json()["paths"]
    assert "/elsewhere/jobs/" in paths


@pytest.mark.django_db
def test_schema_is_behind_the_api_permissions(client: Client, django_user_model: Any, settings: Any) -> None:
    anonymous = client.get(SCHEMA_URL)
    assert (anonymous.status_code, anonymous.json()["error"]) == (403, "not_authenticated")
    client.force_login(django_user_model.objects.create_user("plain", password="pw"))
    not_staff = client.get(SCHEMA_URL)
    assert (not_staff.status_code, not_staff.json()["error"]) == (403, "permission_denied")
    settings.ROUTINES = {"API_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"]}
    client.logout()
    assert client.get(SCHEMA_URL).status_code == 200


@pytest.mark.db_independent
def test_schema_errors_are_the_api_json_errors(admin_client: Client) -> None:
    r = admin_client.get("/api/routines/schema/?format=xml")
    assert r.status_code == 404
    assert r["Content-Type"] == "application/json"
    assert r.json()["error"] == "not_found" and set(r.json()) == {"error", "detail", "field"}


# A URLconf mounting the app at another prefix, for the test above.
from django.urls import include, path  # noqa: E402

urlpatterns = [path("elsewhere/", include("routines.urls"))]


# schemathesis ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _report_cases() -> Iterator[None]:
    yield
    if CASES:
        print(f"\nschemathesis: {CASES['positive']} positive + {CASES['negative']} negative cases")
        print("per operation:", {k: v for k, v in sorted(CASES.items()) if " " in k})
        print("statuses:", dict(sorted(STATUSES.items())))
        print("slowest:", {k: round(v, 1) for k, v in SECONDS.most_common(4)})


@pytest.fixture
def api_schema(db: None, django_user_model: Any) -> Iterator[Any]:
    """The served schema, calling the real WSGI app inside the test's transaction."""
    from django.core import signals
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    django_user_model.objects.create_user("st", password="pw", is_staff=True)
    # As Django's test Client does: the WSGI handler would otherwise close the test connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(SCHEMA_URL, get_wsgi_application(), headers=AUTH)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_api_conforms_to_its_schema(api_schema: Any) -> None:
    """Positive and negative cases for every operation: no 5xx, responses as documented.

    Random path ids mostly meet 404, so each operation on one job or run also gets a positive
    pass on a job (and its run) that exists. schemathesis' own pytest plugin does not run under
    pytest 9 yet, so hypothesis drives its strategies directly.
    """
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 20
    for operation in operations:
        passes: list[tuple[str, dict[str, str] | None]] = [("positive", None), ("negative", None)]
        if "{job_id}" in operation.path:
            passes.append(("positive", {"job_id": "known"}))
        if "{run_id}" in operation.path:
            passes.append(("positive", {"run_id": "run_known"}))
        for mode, path_parameters in passes:

            @given(case=operation.as_strategy(generation_mode=GenerationMode(mode), path_parameters=path_parameters))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                known_job_and_run()
                CASES[mode] += 1
                CASES[f"{case.method} {case.path}"] += 1
                response = case.call(headers=AUTH)
                STATUSES[response.status_code] += 1
                case.validate_response(response, checks=CHECKS)

            started = time.perf_counter()
            try:
                check()
            except Unsatisfiable:
                if mode != "negative":
                    raise  # an operation that takes no input (health/, metrics/) has no negative case
            SECONDS[f"{operation.method.upper()} {operation.path} {mode}"] += time.perf_counter() - started


def known_job_and_run() -> None:
    from routines import api
    from routines.models import Job, Run

    if not Job.objects.filter(job_id="known").exists():
        api.create({"job_id": "known", "schedule": {"type": "interval", "every_ms": 60_000}, "target": {"type": "run"}})
    if not Run.objects.filter(run_id="run_known").exists():
        Run.objects.filter(run_id=api.run_now("known").run_id).update(run_id="run_known")


@pytest.mark.db_independent
def test_the_job_id_path_parameter_leaves_out_the_list_routes(served: dict[str, Any]) -> None:
    """GET jobs/due/ is the due list: a schema allowing job_id "due" there would promise a Job."""
    import re

    [param] = served["paths"]["/api/routines/jobs/{job_id}/"]["get"]["parameters"]
    pattern = re.compile(param["schema"]["pattern"])
    assert not pattern.search("due") and not pattern.search("next-due")
    assert all(pattern.search(job_id) for job_id in ("duel", "overdue", "due.1", "routine_x"))
