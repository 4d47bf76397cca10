"""The admin (SPEC §8) through Django's test client: pages, filters, actions, the JSON form."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from routines import api
from routines.models import Event, Job, Run
from tests.support.jobs import EARLY, FAIL, RUN, events, every, in_state, make, once, snapshot
from tests.support.pages import page

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/routines/job/"


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def act(client: Client, action: str, *job_ids: str) -> list[str]:
    response = client.post(CHANGELIST, {"action": action, "_selected_action": list(job_ids)}, follow=True)
    assert response.status_code == 200
    return messages_of(response)


def form_data(job: Job | None = None, **overrides: Any) -> dict[str, str]:
    def dump(value: Any) -> str:
        return json.dumps(value, default=lambda d: d.isoformat())

    data = {
        "job_id": "",
        "idempotency_key": "",
        "schedule": dump(job.schedule if job else {"type": "interval", "every_ms": 300_000}),
        "target": dump(job.target if job else RUN),
        "payload": dump(job.payload if job else None),
        "metadata": dump(job.metadata if job else {}),
        "routing_policy": dump(job.routing_policy if job else {}),
        "retry_policy": dump(job.retry_policy if job else {"max_attempts": 1, "backoff_ms": 0}),
    }
    if job:
        data["idempotency_key"] = job.idempotency_key
        del data["job_id"]
        if job.late_after_ms is not None:  # a browser sends the field's shown value back
            data["late_after_ms"] = str(job.late_after_ms)
    data.update(overrides)
    return data


# Pages -----------------------------------------------------------------------------------------


def test_changelist_shows_the_columns_a_human_reads(admin_client_: Client) -> None:
    now = timezone.now()
    make("every5", every(300_000, start_at=now + timedelta(minutes=4, seconds=30)))
    make("late", once(now - timedelta(minutes=3, seconds=10)))
    make("catchy", every(90_000, start_at=now + timedelta(hours=1), catch_up=True))
    in_state("failed-once", "exhausted")
    html = page(admin_client_, CHANGELIST)
    for header in ("Job id", "State", "Schedule", "Target type", "Next run", "Last run", "Attempts"):
        assert f">{header}<" in html or f">{header.lower()}<" in html.lower(), header
    assert "every 5 minutes" in html
    assert "every 90 seconds, catching up" in html
    assert "in 4\xa0minutes" in html  # Django's timesince, non-breaking space and all
    assert "3\xa0minutes overdue" in html
    assert 'routines-badge-ok" data-value="active"' in html
    assert 'routines-badge-bad" data-value="exhausted"' in html
    assert 'data-value="failed"' in html  # the last run's outcome
    assert "0 / 1" in html
    assert "Run due jobs now" in html
    assert "routines/admin.css" in html


@pytest.mark.parametrize(
    ("params", "shown", "hidden"),
    [
        ({"state__exact": "paused"}, ["p1"], ["a1", "c1"]),
        ({"due": "now"}, ["a1"], ["p1", "c1", "future"]),
        ({"schedule_type": "interval"}, ["future"], ["a1", "p1"]),
        ({"target_type": "boom"}, ["c1"], ["a1", "p1"]),
        ({"q": "a1"}, ["a1"], ["p1", "c1"]),
        ({"q": "key-of-p1"}, ["p1"], ["a1", "c1"]),
    ],
)
def test_changelist_filters_and_search(
    admin_client_: Client, params: dict[str, str], shown: list[str], hidden: list[str]
) -> None:
    make("a1", once(EARLY))
    make("p1", once(EARLY), state="paused", idempotency_key="key-of-p1")
    make("c1", once(EARLY), {"type": "boom"})
    api.cancel("c1")
    make("future", every(start_at=timezone.now() + timedelta(days=1)))
    html = page(admin_client_, CHANGELIST, **params)
    for job_id in shown:
        assert f">{job_id}</a>" in html
    for job_id in hidden:
        assert f">{job_id}</a>" not in html


def test_add_page_offers_the_json_fields_named_after_the_model(admin_client_: Client) -> None:
    html = page(admin_client_, CHANGELIST + "add/")
    names = ("job_id", "idempotency_key", "schedule", "target", "payload", "metadata", "routing_policy", "retry_policy")
    for name in names:
        assert f'name="{name}"' in html, name
    assert '"every_ms": 300000' in html


def test_change_page_shows_state_upcoming_runs_newest_first_and_journal(admin_client_: Client) -> None:
    start = timezone.now() - timedelta(minutes=10)
    make("job", every(60_000, start_at=start), FAIL, retry_policy={"max_attempts": 1, "backoff_ms": 0})
    api.run_due({"now": start})
    api.run_due({"now": start + timedelta(minutes=1)})
    manual = api.run_now("job")
    html = page(admin_client_, f"{CHANGELIST}job/change/")
    runs = list(Run.objects.filter(job_id="job").order_by("-started_at", "-run_id"))
    assert len(runs) == 3
    positions = [html.index(run.run_id) for run in runs]
    assert positions == sorted(positions)  # newest first
    assert reverse("admin:routines_run_change", args=[quote(manual.run_id)]) in html
    assert "routine_run_failed" in html and "routine_created" in html
    assert "next run times" in html.lower()
    assert html.count("<li>") >= 5
    assert "every minute" in html
    assert 'name="schedule"' in html
    assert 'name="job_id"' not in html  # the id is read-only once created


def test_links_reach_objects_whose_ids_the_admin_would_unquote(
    admin_client_: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin reads "_24" in a URL as "$" and "_40" as "@"; our links must quote ids as its own do."""
    run_ids = iter(["run_24feed", "run_40cafe"])
    monkeypatch.setattr("routines.runner.new_run_id", lambda: next(run_ids))
    monkeypatch.setattr("routines.manual.new_run_id", lambda: next(run_ids))
    make("digest_40", once(EARLY))
    api.run_due({"now": EARLY})
    api.run_now("digest_40")
    pages = [CHANGELIST, f"{CHANGELIST}{quote('digest_40')}/change/", "/admin/routines/run/", "/admin/routines/event/"]
    followed = set()
    for url in pages:
        for href in re.findall(r'href="(/admin/routines/(?:job|run)/[^"/]+/change/)"', page(admin_client_, url)):
            response = admin_client_.get(href)
            assert response.status_code == 200, f"{href} on {url}: {response.status_code}"
            followed.add(href)
    assert followed == {
        f"{CHANGELIST}digest_5F40/change/",
        "/admin/routines/run/run_5F24feed/change/",
        "/admin/routines/run/run_5F40cafe/change/",
    }


def test_change_page_of_a_busy_job_is_read_only(admin_client_: Client) -> None:
    in_state("busy", "running")
    html = page(admin_client_, f"{CHANGELIST}busy/change/")
    assert 'name="schedule"' not in html
    assert 'data-value="running"' in html


@pytest.mark.parametrize("model", ["run", "event"])
def test_history_pages_are_read_only(admin_client_: Client, model: str) -> None:
    in_state("done", "completed")
    html = page(admin_client_, f"/admin/routines/{model}/")
    assert ">done</a>" in html
    assert "delete_selected" not in html
    assert admin_client_.get(f"/admin/routines/{model}/add/").status_code == 403
    obj = Run.objects.get(job_id="done") if model == "run" else Event.objects.filter(job_id="done").first()
    detail = page(admin_client_, f"/admin/routines/{model}/{quote(obj.pk)}/change/")
    assert "Save" not in detail and "Delete" not in detail.split("<form")[1]
    before = snapshot()
    admin_client_.post(f"/admin/routines/{model}/{quote(obj.pk)}/change/", {"job_id": "other"})
    admin_client_.post(f"/admin/routines/{model}/{quote(obj.pk)}/delete/", {"post": "yes"})
    assert snapshot() == before


def test_run_list_filters_by_status_and_job(admin_client_: Client) -> None:
    in_state("good", "completed")
    in_state("bad", "exhausted")
    html = page(admin_client_, "/admin/routines/run/", status__exact="failed")
    assert ">bad</a>" in html and ">good</a>" not in html
    html = page(admin_client_, "/admin/routines/run/", job_id="good")
    assert ">good</a>" in html and ">bad</a>" not in html
    html = page(admin_client_, "/admin/routines/event/", event_type="routine_run_failed")
    assert ">bad</a>" in html and ">good</a>" not in html


# Actions ---------------------------------------------------------------------------------------


def test_pause_reports_each_job(admin_client_: Client) -> None:
    in_state("a", "active")
    in_state("p", "paused")
    in_state("gone", "cancelled")
    notes = act(admin_client_, "pause", "a", "p", "gone")
    assert "Paused 2 jobs: “a”, “p” (already paused)" in notes, notes
    assert "Not paused (job_terminal): “gone”" in notes, notes
    assert api.get("a").state == "paused"
    assert api.get("gone").state == "cancelled"


def test_resume_reports_busy_jobs(admin_client_: Client) -> None:
    in_state("p", "paused")
    in_state("busy", "running")
    notes = act(admin_client_, "resume", "p", "busy")
    assert "Resumed 1 job: “p”" in notes
    assert "Not resumed (job_busy): “busy”" in notes, notes
    assert api.get("p").state == "active"
    assert api.get("busy").state == "running"


def test_cancel_goes_through_the_api(admin_client_: Client) -> None:
    in_state("busy", "running")
    make("a", every(start_at=timezone.now() + timedelta(days=1)))
    response = admin_client_.post(
        CHANGELIST, {"action": "cancel", "_selected_action": ["a", "busy"], "post": "yes"}, follow=True
    )
    assert "Cancelled 2 jobs: “a”, “busy”" in messages_of(response)
    assert events("a")[-1] == "routine_cancelled"
    assert Run.objects.get(job_id="busy").status == "cancelled"


def test_run_now_reports_the_run_or_the_error(admin_client_: Client) -> None:
    in_state("later", "retry_waiting")
    in_state("gone", "cancelled")
    make("ok", every(start_at=timezone.now() + timedelta(days=1)))
    notes = act(admin_client_, "run_now", "ok", "later", "gone")
    run = Run.objects.get(job_id="ok", manual=True)
    assert f"Ran now 1 job: “ok” ({run.run_id} completed)" in notes
    assert "Not run (job_busy): “later”" in notes, notes
    assert "Not run (job_terminal): “gone”" in notes, notes
    assert api.get("ok").state == "active"  # a manual run leaves the schedule alone


def test_bulk_delete_is_not_offered(admin_client_: Client) -> None:
    in_state("a", "active")
    html = page(admin_client_, CHANGELIST)
    assert "delete_selected" not in html
    before = snapshot()
    act(admin_client_, "delete_selected", "a")
    assert snapshot() == before


def test_delete_page_deletes_through_the_api(admin_client_: Client) -> None:
    in_state("a", "active")
    response = admin_client_.post(f"{CHANGELIST}a/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Job.objects.filter(job_id="a").exists()
    assert events("a")[-1] == "routine_deleted"


def test_a_running_job_cannot_be_deleted(admin_client_: Client) -> None:
    in_state("busy", "running")
    assert "deletelink" not in page(admin_client_, f"{CHANGELIST}busy/change/")
    before = snapshot()
    assert admin_client_.post(f"{CHANGELIST}busy/delete/", {"post": "yes"}).status_code == 403
    assert snapshot() == before


def test_run_due_view_runs_what_is_due_through_the_runner(admin_client_: Client) -> None:
    in_state("due", "active")
    in_state("bad", "active")
    api.update("bad", {"target": FAIL})
    response = admin_client_.post(reverse("admin:routines_job_run_due"), follow=True)
    assert "Ran 2 due job attempts: 1 completed, 1 failed." in messages_of(response)
    assert api.get("due").state == "completed"
    assert admin_client_.get(reverse("admin:routines_job_run_due")).status_code == 405
    response = admin_client_.post(reverse("admin:routines_job_run_due"), follow=True)
    assert "Nothing was due." in messages_of(response)


# The JSON form ---------------------------------------------------------------------------------


def test_add_form_creates_through_the_api(admin_client_: Client) -> None:
    at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    data = form_data(job_id="made", schedule=json.dumps({"type": "once", "at": at.isoformat()}), payload='{"n": 1}')
    response = admin_client_.post(CHANGELIST + "add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    job = api.get("made")
    assert job.next_run_at == at and job.payload == {"n": 1} and job.idempotency_key == "routine:made"
    assert events("made") == ["routine_created"]


def test_add_form_generates_an_id(admin_client_: Client) -> None:
    response = admin_client_.post(CHANGELIST + "add/", form_data())
    assert response.status_code == 302
    assert Job.objects.get().job_id.startswith("routine_")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("schedule", "{not json", "Enter a valid JSON."),
        ("schedule", '{"type": "interval", "every_ms": 0}', "(invalid_job)"),
        ("schedule", '{"type": "interval", "every_ms": 1000, "when": 1}', "(unsupported_schedule_key)"),
        ("target", '{"type": "nope"}', "(invalid_job)"),
        ("target", '{"type": "run", "extra": 1}', "(unsupported_target_key)"),
        ("retry_policy", '{"max_attempts": 0}', "(invalid_job)"),
        ("metadata", "[1]", "(invalid_job)"),
        ("job_id", "bad id!", "(invalid_job)"),
    ],
)
def test_add_form_shows_the_field_error_and_saves_nothing(
    admin_client_: Client, field: str, value: str, error: str
) -> None:
    before = snapshot()
    response = admin_client_.post(CHANGELIST + "add/", form_data(**{field: value}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field], errors
    assert error in errors[field][0]
    assert snapshot() == before


def test_add_form_reports_a_taken_job_id(admin_client_: Client) -> None:
    in_state("taken", "active")
    before = snapshot()
    response = admin_client_.post(CHANGELIST + "add/", form_data(job_id="taken"))
    assert "already_exists" in response.context["adminform"].form.errors["job_id"][0]
    assert snapshot() == before


def test_add_form_reports_a_taken_idempotency_key_and_saves_nothing(admin_client_: Client) -> None:
    make("first", once(EARLY), idempotency_key="digest:daily")
    before = snapshot()
    response = admin_client_.post(CHANGELIST + "add/", form_data(job_id="second", idempotency_key="digest:daily"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["idempotency_key"] and "'first'" in errors["idempotency_key"][0]
    assert snapshot() == before


def test_change_form_updates_only_what_changed(admin_client_: Client) -> None:
    job = in_state("p", "paused")
    data = form_data(job, payload='{"v": 2}')
    response = admin_client_.post(f"{CHANGELIST}p/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    job = api.get("p")
    assert job.payload == {"v": 2} and job.state == "paused"
    updated = Event.objects.filter(job_id="p", event_type="routine_updated").get()
    assert updated.payload == {"payload": "redacted", "actor": "root"}


def test_change_form_new_schedule_recomputes_next_run(admin_client_: Client) -> None:
    job = in_state("a", "active")
    start = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    schedule = json.dumps({"type": "interval", "every_ms": 60_000, "start_at": start.isoformat()})
    response = admin_client_.post(f"{CHANGELIST}a/change/", form_data(job, schedule=schedule))
    assert response.status_code == 302
    assert api.get("a").next_run_at == start


@pytest.mark.parametrize(
    ("field", "value"),
    [("schedule", "{broken"), ("schedule", '{"type": "once"}'), ("target", '{"type": "run", "outcome": "maybe"}')],
)
def test_change_form_invalid_input_saves_nothing(admin_client_: Client, field: str, value: str) -> None:
    job = in_state("a", "active")
    before = snapshot()
    response = admin_client_.post(f"{CHANGELIST}a/change/", form_data(job, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert snapshot() == before


# Access ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [CHANGELIST, CHANGELIST + "add/", "/admin/routines/run/", "/admin/routines/event/", CHANGELIST + "a/change/"]
)
def test_non_staff_users_get_no_access(client: Client, url: str) -> None:
    in_state("a", "active")
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(User.objects.create_user("joe", password="pw"))
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_non_staff_users_cannot_act(client: Client) -> None:
    in_state("a", "active")
    client.force_login(User.objects.create_user("joe", password="pw"))
    client.post(CHANGELIST, {"action": "pause", "_selected_action": ["a"]})
    client.post(reverse("admin:routines_job_run_due"))
    assert api.get("a").state == "active"
    assert not Run.objects.exists()


def test_staff_with_view_permission_only_cannot_change(client: Client) -> None:
    in_state("a", "active")
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(user)
    html = page(client, CHANGELIST)
    assert ">a</a>" in html and "Run due jobs now" not in html
    client.post(CHANGELIST, {"action": "pause", "_selected_action": ["a"]})
    assert client.post(reverse("admin:routines_job_run_due")).status_code == 302
    assert api.get("a").state == "active"
    assert not Run.objects.exists()


# Efficiency ------------------------------------------------------------------------------------


def _jobs_with_history(first: int, count: int) -> None:
    for i in range(first, first + count):
        make(f"job-{i:04d}", every(60_000, start_at=EARLY), RUN if i % 2 else FAIL)
    api.run_due({"now": EARLY})


def test_changelist_query_count_does_not_grow_with_jobs(admin_client_: Client, django_assert_num_queries: Any) -> None:
    _jobs_with_history(0, 10)
    admin_client_.get(CHANGELIST)  # warm the session and content types
    with CaptureQueriesContext(connection) as ten:
        html = page(admin_client_, CHANGELIST)
    assert html.count('data-value="failed"') == 5
    _jobs_with_history(10, 190)
    with django_assert_num_queries(len(ten)):
        html = page(admin_client_, CHANGELIST)
    assert html.count('routines-badge-ok" data-value="active"') == 100  # one page of 100
