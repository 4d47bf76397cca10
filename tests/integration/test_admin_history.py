"""Run and Event pages: a readable Run page and fixed filters (their query counts at 10,000 rows:
tests/system/test_large_tables.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.utils import quote
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from routines import api
from routines.models import Event, Run
from tests.support.jobs import EARLY, FAIL, T0, make, once
from tests.support.pages import page

pytestmark = pytest.mark.django_db

RUNS = "/admin/routines/run/"
EVENTS = "/admin/routines/event/"
JOBS = "/admin/routines/job/"


def test_the_run_page_shows_badge_job_link_duration_and_indented_json(admin_client_: Client) -> None:
    make("j", once(EARLY), FAIL)
    api.run_due({"now": EARLY})
    run = Run.objects.get(job_id="j")
    Run.objects.filter(run_id=run.run_id).update(finished_at=run.started_at + timedelta(milliseconds=1500))
    html = page(admin_client_, f"{RUNS}{quote(run.run_id)}/change/")
    assert 'routines-badge-bad" data-value="failed"' in html
    assert f'href="{JOBS}j/change/"' in html
    assert "1.5 s" in html
    assert "{\n  &quot;reason&quot;: &quot;nope&quot;\n}" in html


def test_the_run_page_shows_the_traceback_of_an_exception(admin_client_: Client) -> None:
    make("j", once(EARLY))
    run = api.run_now("j")
    trace = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\nValueError: boom\n'
    Run.objects.filter(run_id=run.run_id).update(
        status="failed", error={"type": "ValueError", "message": "boom", "traceback": trace}
    )
    html = page(admin_client_, f"{RUNS}{quote(run.run_id)}/change/")
    assert '<pre class="routines-json-block routines-traceback">Traceback (most recent call last):' in html
    assert "ValueError: boom" in html


def test_run_and_event_pages_use_the_one_time_format(admin_client_: Client, settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    make("j", once(EARLY))
    api.run_due({"now": EARLY})
    run = Run.objects.get(job_id="j")
    Run.objects.filter(run_id=run.run_id).update(started_at=T0, finished_at=T0)
    Event.objects.filter(job_id="j").update(created_at=T0)
    assert "01 Jan 2026 13:00:00 CET" in page(admin_client_, RUNS)
    assert "01 Jan 2026 13:00:00 CET" in page(admin_client_, f"{RUNS}{quote(run.run_id)}/change/")
    assert "01 Jan 2026 13:00:00 CET" in page(admin_client_, EVENTS)


def test_the_kind_filter_is_a_fixed_list_without_distinct(admin_client_: Client) -> None:
    make("j", once(EARLY))
    api.run_due({"now": EARLY})
    with CaptureQueriesContext(connection) as queries:
        html = page(admin_client_, RUNS)
    assert not [q["sql"] for q in queries if "DISTINCT" in q["sql"].upper()]
    assert "?kind=routine" in html and "?kind=other" in html
    assert "j" in page(admin_client_, RUNS + "?kind=routine")
    assert f'href="{JOBS}j/change/"' in page(admin_client_, RUNS + "?kind=routine")
    assert f'href="{JOBS}j/change/"' not in page(admin_client_, RUNS + "?kind=other")


def test_cron_jobs_show_their_own_zone_next_to_the_current_one(admin_client_: Client) -> None:
    make("paris", {"type": "cron", "expr": "0 9 * * *", "timezone": "Europe/Paris"})
    make("plain", {"type": "cron", "expr": "0 9 * * *", "timezone": "UTC"})
    html = page(admin_client_, JOBS)
    assert "UTC (09:00 CE" in html  # the list, in the current zone (UTC) and in Paris
    paris = page(admin_client_, f"{JOBS}paris/change/")
    assert paris.count("(09:00 CE") >= 5  # each of the next run times
    assert "(09:00 UTC)" not in page(admin_client_, f"{JOBS}plain/change/")
