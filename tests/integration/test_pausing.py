"""Timed pauses and the switch that holds every runner: API, run_due, REST and the admin."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from routines import api
from routines.exceptions import InvalidInput
from routines.models import Event, Job, Run

pytestmark = pytest.mark.django_db

HOUR = 3_600_000
RUN = {"type": "run"}
BASE = "/api/routines/"


@pytest.fixture
def start() -> datetime:
    return timezone.now().replace(microsecond=0) - timedelta(minutes=30)


def hourly(start: datetime, **keys: Any) -> dict[str, Any]:
    return {"type": "interval", "every_ms": HOUR, "start_at": start, **keys}


# Timed pause ------------------------------------------------------------------------------------


def test_a_timed_pause_ends_by_itself_at_the_first_run_due_after_it(start: datetime) -> None:
    api.create({"job_id": "t", "schedule": hourly(start), "target": RUN})
    until = timezone.now() + timedelta(hours=2)
    job = api.pause("t", until=until, actor="ops")
    assert (job.state, job.paused_until) == ("paused", until)
    assert api.run_due({"now": until - timedelta(seconds=1)}) == []
    assert api.get("t").state == "paused"
    done = api.run_due({"now": until + timedelta(seconds=1)})
    assert [r.slot_at for r in done] == [start]  # the default policy: one run for what was missed
    job = api.get("t")
    assert job.state == "active" and job.paused_until is None
    woke = Event.objects.get(job_id="t", event_type="routine_updated", payload__reason="pause_ended")
    assert woke.payload["state"] == "active"


def test_slots_missed_during_a_timed_pause_follow_the_misfire_policy(start: datetime) -> None:
    api.create({"job_id": "s", "schedule": hourly(start, misfire="skip"), "target": RUN})
    until = timezone.now() + timedelta(hours=5)
    api.pause("s", until=until)
    assert api.run_due({"now": until + timedelta(minutes=10)}) == []
    skipped = Event.objects.get(job_id="s", event_type="routine_slots_skipped").payload
    assert skipped["count"] == 6
    assert api.get("s").next_run_at > until


def test_until_must_be_a_future_time_and_resume_ends_a_timed_pause(start: datetime) -> None:
    api.create({"job_id": "u", "schedule": hourly(start), "target": RUN})
    for bad in (timezone.now() - timedelta(seconds=1), "tomorrow", 1.5):
        with pytest.raises(InvalidInput) as exc:
            api.pause("u", until=bad)
        assert exc.value.field == "until"
    assert api.get("u").state == "active"
    api.pause("u", until=timezone.now() + timedelta(days=1))
    job = api.resume("u")
    assert (job.state, job.paused_until) == ("active", None)
    api.pause("u", until=timezone.now() + timedelta(days=1))
    assert api.pause("u").paused_until is None  # a plain pause replaces the timed one: until resumed


# Every runner -----------------------------------------------------------------------------------


def test_pause_all_holds_every_runner_and_resume_all_lets_them_claim(start: datetime) -> None:
    api.create({"job_id": "a", "schedule": hourly(start), "target": RUN})
    assert api.paused_all() is None
    api.pause_all("deploy 4.2", actor="ops")
    assert api.paused_all() == "deploy 4.2"
    api.pause_all("another reason")  # already paused: the first reason stays
    assert api.paused_all() == "deploy 4.2"
    assert api.run_due() == []
    assert Run.objects.count() == 0 and api.get("a").state == "active"
    api.resume_all()
    assert api.paused_all() is None
    assert len(api.run_due()) == 1


def test_a_paused_fleet_does_not_rescue_expired_leases_either(start: datetime) -> None:
    api.create({"job_id": "r", "schedule": hourly(start), "target": RUN})
    Job.objects.filter(job_id="r").update(
        state="running", current_run_id="run_x", lease_expires_at=timezone.now() - timedelta(hours=1)
    )
    api.pause_all("incident")
    api.run_due()
    assert api.get("r").state == "running"
    api.resume_all()
    api.run_due()
    assert api.get("r").state != "running"


def test_run_due_says_why_it_claimed_nothing(start: datetime) -> None:
    api.create({"job_id": "c", "schedule": hourly(start), "target": RUN})
    api.pause_all("deploy")
    out = StringIO()
    call_command("run_due", stdout=out)
    assert out.getvalue().strip() == "run_due: every runner is paused (deploy); nothing was claimed"
    out = StringIO()
    call_command("run_due", "--json", stdout=out)
    assert json.loads(out.getvalue()) == []


# REST and the admin -----------------------------------------------------------------------------


def post(client: Client, path: str, body: Any = None) -> Any:
    data = "" if body is None else json.dumps(body)
    return client.post(BASE + path, data, content_type="application/json")


def test_rest_pause_all_resume_all_and_a_timed_pause(staff_client: Client, start: datetime) -> None:
    api.create({"job_id": "j", "schedule": hourly(start), "target": RUN})
    r = post(staff_client, "pause-all/", {"reason": "deploy"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["paused"], body["reason"], body["actor"]) == (True, "deploy", "staff")
    assert body["since"].endswith("Z")
    assert post(staff_client, "run-due/").json() == {"results": []}
    r = post(staff_client, "resume-all/")
    assert r.json() == {"paused": False, "reason": None, "since": None, "actor": None}
    assert post(staff_client, "pause-all/", {"reason": 5}).json()["field"] == "reason"
    until = (timezone.now() + timedelta(hours=1)).isoformat()
    r = post(staff_client, "jobs/j/pause/", {"until": until})
    assert r.status_code == 200 and r.json()["paused_until"] is not None
    r = post(staff_client, "jobs/j/resume/")
    assert r.json()["paused_until"] is None
    r = post(staff_client, "jobs/j/pause/", {"until": "2000-01-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()["field"] == "until"
    assert staff_client.post(BASE + "jobs/j/pause/").status_code == 200  # no body at all: a plain pause


def test_the_admin_toggle_and_a_timed_pause_from_the_job_page(admin_client: Client, start: datetime) -> None:
    api.create({"job_id": "adm", "schedule": hourly(start), "target": RUN})
    page = admin_client.get("/admin/routines/job/").content.decode()
    assert "Pause every runner" in page and "routines-paused-all" not in page
    r = admin_client.post("/admin/routines/job/pause-all/", {"reason": "migration"})
    assert r.status_code == 302
    assert api.paused_all() == "migration"
    page = admin_client.get("/admin/routines/job/").content.decode()
    assert "routines-paused-all" in page and "migration" in page and "Resume every runner" in page
    admin_client.post("/admin/routines/job/resume-all/")
    assert api.paused_all() is None
    assert admin_client.get("/admin/routines/job/pause-all/").status_code == 405
    until = timezone.localtime(timezone.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
    r = admin_client.post("/admin/routines/job/adm/pause/", {"until": until})
    assert r.status_code == 302
    job = api.get("adm")
    assert job.state == "paused" and job.paused_until is not None
    assert LogEntry.objects.filter(object_id="adm", change_message__startswith="Paused (until").exists()


def test_the_command_line_pauses_until_a_time_and_holds_every_runner(start: datetime) -> None:
    api.create({"job_id": "cl", "schedule": hourly(start), "target": RUN})
    until = (timezone.now() + timedelta(hours=2)).isoformat()
    out = StringIO()
    call_command("routines", "pause", "cl", "--until", until, "--json", stdout=out)
    (record,) = json.loads(out.getvalue())
    assert record["state"] == "paused" and record["paused_until"] is not None
    out = StringIO()
    call_command("routines", "pause-all", "deploy", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"paused": True, "reason": "deploy"}
    assert api.paused_all() == "deploy"
    out = StringIO()
    call_command("routines", "resume-all", stdout=out)
    assert api.paused_all() is None and "runners claim due jobs" in out.getvalue()
