"""The job page's buttons and the bulk actions: URLs, allowed states, confirmation, LogEntry, actor."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.test import Client

from routines import api
from routines.models import Event, Run
from tests.support.jobs import EARLY, in_state, make, once, snapshot

pytestmark = pytest.mark.django_db

JOBS = "/admin/routines/job/"


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize(
    ("state", "offered"),
    [
        ("active", {"run-now", "pause", "cancel"}),
        ("paused", {"run-now", "resume", "cancel"}),
        ("running", {"cancel"}),
        ("retry_waiting", {"cancel"}),
        ("completed", {"run-now", "cancel"}),
        ("exhausted", {"run-now", "cancel"}),
        ("cancelled", set()),
    ],
)
def test_the_job_page_offers_the_states_allowed_actions(admin_client_: Client, state: str, offered: set[str]) -> None:
    in_state("j", state)
    html = admin_client_.get(f"{JOBS}j/change/").content.decode()
    for step in ("run-now", "pause", "resume", "cancel"):
        form = f'method="post" action="{JOBS}j/{step}/"'
        assert (form in html) == (step in offered), (step, state)


def test_run_now_button_runs_logs_and_names_the_actor(admin_client_: Client) -> None:
    make("j", once(EARLY), state="paused")
    response = admin_client_.post(f"{JOBS}j/run-now/")
    assert response.status_code == 302 and response["Location"] == f"{JOBS}j/change/"
    run = Run.objects.get(job_id="j", manual=True)
    assert run.status == "completed"
    assert Event.objects.get(job_id="j", event_type="routine_run_completed").payload["actor"] == "root"
    entry = LogEntry.objects.get(object_id="j")
    assert entry.action_flag == CHANGE and entry.user.username == "root" and run.run_id in entry.change_message


@pytest.mark.parametrize(("step", "start", "end"), [("pause", "active", "paused"), ("resume", "paused", "active")])
def test_pause_and_resume_buttons(admin_client_: Client, step: str, start: str, end: str) -> None:
    in_state("j", start)
    response = admin_client_.post(f"{JOBS}j/{step}/", follow=True)
    assert api.get("j").state == end
    assert messages_of(response) == [f"{'Paused' if step == 'pause' else 'Resumed'} 1 job: “j”"]
    assert Event.objects.filter(job_id="j", event_type="routine_updated").last().payload["actor"] == "root"
    assert LogEntry.objects.filter(object_id="j", action_flag=CHANGE).count() == 1


def test_buttons_need_a_post(admin_client_: Client) -> None:
    in_state("j", "active")
    before = snapshot()
    assert admin_client_.get(f"{JOBS}j/pause/").status_code == 405
    assert admin_client_.get(f"{JOBS}j/run-now/").status_code == 405
    assert snapshot() == before


def test_cancel_button_asks_first_then_cancels(admin_client_: Client) -> None:
    in_state("j", "active")
    before = snapshot()
    page = admin_client_.post(f"{JOBS}j/cancel/")
    assert page.status_code == 200 and "final" in page.content.decode()
    assert 'name="post" value="yes"' in page.content.decode()
    assert snapshot() == before and not LogEntry.objects.exists()
    response = admin_client_.post(f"{JOBS}j/cancel/", {"post": "yes"})
    assert response.status_code == 302
    assert api.get("j").state == "cancelled"
    assert Event.objects.get(job_id="j", event_type="routine_cancelled").payload["actor"] == "root"
    assert LogEntry.objects.filter(object_id="j").count() == 1


def test_bulk_cancel_asks_first_then_cancels_each(admin_client_: Client) -> None:
    in_state("a", "active")
    in_state("b", "paused")
    selected = {"action": "cancel", "_selected_action": ["a", "b"]}
    before = snapshot()
    page = admin_client_.post(JOBS, selected)
    html = page.content.decode()
    assert page.status_code == 200 and "<li>a</li>" in html and "<li>b</li>" in html
    assert snapshot() == before
    response = admin_client_.post(JOBS, {**selected, "post": "yes"}, follow=True)
    assert messages_of(response) == ["Cancelled 2 jobs: “a”, “b”"]
    assert {api.get(j).state for j in "ab"} == {"cancelled"}
    assert sorted(LogEntry.objects.values_list("object_id", flat=True)) == ["a", "b"]


def test_bulk_actions_log_each_changed_job_and_not_the_refused_ones(admin_client_: Client) -> None:
    in_state("busy", "running")
    in_state("a", "active")
    response = admin_client_.post(JOBS, {"action": "pause", "_selected_action": ["a", "busy"]}, follow=True)
    assert "Not paused (job_busy): “busy”" in messages_of(response)
    assert list(LogEntry.objects.values_list("object_id", flat=True)) == ["a"]
    assert Event.objects.get(job_id="a", event_type="routine_updated").payload["actor"] == "root"


def test_bulk_messages_name_at_most_ten_jobs(admin_client_: Client) -> None:
    ids = [f"job{n:02d}" for n in range(25)]
    for job_id in ids:
        make(job_id, once(EARLY), state="paused")
    response = admin_client_.post(JOBS, {"action": "resume", "_selected_action": ids}, follow=True)
    (message,) = messages_of(response)
    assert message.startswith("Resumed 25 jobs: “job00”, “job01”")
    assert "“job09” … and 15 more" in message and "job10" not in message


def test_a_cancelled_job_has_no_buttons_and_refuses_them(admin_client_: Client) -> None:
    in_state("j", "cancelled")
    response = admin_client_.post(f"{JOBS}j/run-now/", follow=True)
    assert "Not run (job_terminal): “j”" in messages_of(response)
    assert not LogEntry.objects.exists()


def test_view_only_staff_cannot_press_buttons(client: Client) -> None:
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(user)
    in_state("j", "active")
    before = snapshot()
    assert client.post(f"{JOBS}j/pause/").status_code == 403
    assert 'action="/admin/routines/job/j/pause/"' not in client.get(f"{JOBS}j/change/").content.decode()
    assert snapshot() == before
