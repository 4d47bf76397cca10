"""health/, metrics/ and the django-health-check check, through the test client."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routines import api
from routines.models import Event, Job

pytestmark = pytest.mark.django_db

BASE = "/api/routines/"
RUN = {"type": "run"}


def make_jobs(n: int, *, late: int = 0, prefix: str = "j") -> None:
    now = timezone.now()
    api.create_many(
        {
            "job_id": f"{prefix}{i}",
            "schedule": {"type": "once", "at": now - timedelta(hours=1) if i < late else now + timedelta(hours=1)},
            "target": RUN,
        }
        for i in range(n)
    )


def test_health_is_ok_for_anyone_when_nothing_is_late(client: Client) -> None:
    make_jobs(3)
    r = client.get(BASE + "health/")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "due": 0, "late": 0}


def test_health_is_503_while_jobs_are_late_and_names_them_to_staff_only(client: Client, staff_client: Any) -> None:
    make_jobs(5, late=2)
    r = Client().get(BASE + "health/")
    assert r.status_code == 503
    assert r.json() == {"status": "late", "due": 2, "late": 2}
    assert b"j0" not in r.content
    r = staff_client.get(BASE + "health/")
    assert r.status_code == 503
    body = r.json()
    assert [j["job_id"] for j in body["late_jobs"]] == ["j0", "j1"]
    assert all(j["late_by_ms"] >= 3_600_000 and j["next_run_at"].endswith("Z") for j in body["late_jobs"])
    assert Event.objects.filter(event_type="routine_slot_late").count() == 2  # seen once, whoever looked


def test_health_permissions_can_be_set(client: Client) -> None:
    with override_settings(ROUTINES={"HEALTH_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"]}):
        r = client.get(BASE + "health/")
    assert r.status_code == 403 and r.json()["error"] == "not_authenticated"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_in_the_prometheus_format_for_staff(staff_client: Any) -> None:
    pytest.importorskip("prometheus_client")
    make_jobs(6, late=2)
    api.run_now("j5")
    Job.objects.filter(job_id="j4").update(state="paused")
    assert Client().get(BASE + "metrics/").status_code == 403
    r = staff_client.get(BASE + "metrics/")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    got = _samples(r.content.decode())
    assert got[("routines_jobs", (("state", "active"),))] == 5
    assert got[("routines_jobs", (("state", "paused"),))] == 1
    assert got[("routines_jobs", (("state", "completed"),))] == 0
    assert got[("routines_due_jobs", ())] == 2
    assert got[("routines_late_jobs", ())] == 2
    assert got[("routines_oldest_due_seconds", ())] >= 3600
    assert got[("routines_runs", (("status", "completed"),))] == 1


def test_a_scrape_costs_the_same_queries_at_10_and_1000_jobs(staff_client: Any) -> None:
    pytest.importorskip("prometheus_client")
    counts = []
    for n, prefix in ((10, "a"), (990, "b")):
        make_jobs(n, late=n // 2, prefix=prefix)
        staff_client.get(BASE + "metrics/")  # the session and the user, once
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(BASE + "metrics/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 20


def test_a_scrape_counts_up_to_the_cap_and_reports_the_cap_when_there_are_more(
    staff_client: Any, monkeypatch: Any
) -> None:
    pytest.importorskip("prometheus_client")
    from routines import late

    monkeypatch.setattr(late, "COUNT_CAP", 5)
    make_jobs(12, late=10)  # 10 due and late, 2 active later
    Job.objects.filter(job_id__in=["j10", "j11"]).update(state="completed", next_run_at=None)
    api.create_many(
        {"job_id": f"c{i}", "schedule": {"type": "once", "at": "2030-01-01T00:00:00Z"}, "target": RUN} for i in range(3)
    )
    got = _samples(staff_client.get(BASE + "metrics/").content.decode())
    assert got[("routines_due_jobs", ())] == 5
    assert got[("routines_late_jobs", ())] == 5
    assert got[("routines_jobs", (("state", "active"),))] == 5  # 13 active
    assert got[("routines_jobs", (("state", "completed"),))] == 2  # under the cap: exact
    assert got[("routines_oldest_due_seconds", ())] >= 3600  # not a count: still the oldest
    r = staff_client.get(BASE + "health/")
    assert r.status_code == 503
    assert (r.json()["due"], r.json()["late"]) == (5, 5)
    assert len(r.json()["late_jobs"]) == 10  # the list has its own bound, LATE_SHOWN


def test_the_metric_help_says_the_counts_are_capped(staff_client: Any) -> None:
    pytest.importorskip("prometheus_client")
    text = staff_client.get(BASE + "metrics/").content.decode()
    for name in ("routines_jobs", "routines_due_jobs", "routines_late_jobs"):
        (help_line,) = [line for line in text.splitlines() if line.startswith(f"# HELP {name} ")]
        assert "counted up to 10000" in help_line


def test_metrics_without_prometheus_client_say_what_to_install(staff_client: Any, monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "routines.metrics", raising=False)
    r = staff_client.get(BASE + "metrics/")
    assert r.status_code == 501
    assert r.json()["error"] == "metrics_unavailable" and "prometheus-client" in r.json()["detail"]


@pytest.mark.django_db(transaction=True)  # django-health-check runs the check on its own thread and connection
def test_django_health_check_reports_late_routines(client: Client) -> None:
    pytest.importorskip("health_check")
    from health_check.views import HealthCheckView

    assert "routines.contrib.health_check.checks.LateRoutines" in HealthCheckView.checks  # by INSTALLED_APPS
    make_jobs(2)
    r = client.get("/ht/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200, r.content
    assert any("LateRoutines" in key for key in r.json())
    make_jobs(3, late=1, prefix="x")
    r = client.get("/ht/", HTTP_ACCEPT="application/json")
    assert r.status_code == 500
    assert "1 routine(s) late" in r.content.decode()
    assert b"x0" not in r.content


@pytest.mark.django_db(transaction=True)
def test_django_health_check_counts_late_routines_up_to_the_cap(client: Client, monkeypatch: Any) -> None:
    pytest.importorskip("health_check")
    from routines import late

    monkeypatch.setattr(late, "COUNT_CAP", 2)
    make_jobs(4, late=3)
    r = client.get("/ht/", HTTP_ACCEPT="application/json")
    assert r.status_code == 500
    assert "2 routine(s) late" in r.content.decode()
