"""The job form's structured editor through Django's test client: field names, errors, warnings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.test import Client
from django.utils import timezone

from routines import api
from routines.models import Event, Job
from tests.support.jobs import RUN, in_state, make, snapshot

pytestmark = pytest.mark.django_db

ADD = "/admin/routines/job/add/"
EDITOR_NAMES = (
    "schedule_type",
    "once_at",
    "every",
    "every_unit",
    "start_at",
    "cron_expr",
    "cron_timezone",
    "catch_up",
    "max_attempts",
    "backoff_seconds",
    "timeout_ms",
    "late_after_ms",
    "schedule",
)


def editor_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "job_id": "",
        "idempotency_key": "",
        "schedule_type": "interval",
        "every": "5",
        "every_unit": "minutes",
        "target": '{"type": "run"}',
        "payload": "null",
        "metadata": "{}",
        "routing_policy": "{}",
        "retry_policy": '{"max_attempts": 1, "backoff_ms": 0}',
        "max_attempts": "1",
        "backoff_seconds": "0",
        "cron_timezone": "UTC",
    }
    data.update(overrides)
    return data


def form_errors(response: Any) -> dict[str, list[str]]:
    return {k: [str(m) for m in v] for k, v in response.context["adminform"].form.errors.items()}


def test_add_page_offers_every_editor_field_by_name(admin_client_: Client) -> None:
    html = admin_client_.get(ADD).content.decode()
    for name in EDITOR_NAMES:
        assert f'name="{name}"' in html, name
    for kind in ("once", "interval", "cron", "json"):
        assert f'value="{kind}"' in html
    assert '<option value="Europe/Paris">' in html
    assert '<option value="UTC" selected>' in html  # the default is TIME_ZONE


def test_interval_in_minutes_creates_every_ms(admin_client_: Client) -> None:
    response = admin_client_.post(ADD, editor_data(job_id="five"))
    assert response.status_code == 302, form_errors(response)
    schedule = api.get("five").schedule
    assert schedule["type"] == "interval" and schedule["every_ms"] == 300_000 and schedule["catch_up"] is False


def test_weekdays_at_nine_in_paris(admin_client_: Client) -> None:
    data = editor_data(job_id="weekday", schedule_type="cron", cron_expr="0 9 * * 1-5", cron_timezone="Europe/Paris")
    response = admin_client_.post(ADD, data)
    assert response.status_code == 302, form_errors(response)
    job = api.get("weekday")
    assert job.schedule == {"type": "cron", "expr": "0 9 * * 1-5", "timezone": "Europe/Paris", "catch_up": False}
    local = job.next_run_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute) == (9, 0) and local.isoweekday() <= 5


def test_once_at_is_read_in_the_current_time_zone(admin_client_: Client, settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    at = timezone.now() + timedelta(days=30)
    local = timezone.localtime(at, __import__("zoneinfo").ZoneInfo("Europe/Paris")).replace(microsecond=0)
    data = editor_data(job_id="o", schedule_type="once", once_at=local.strftime("%Y-%m-%dT%H:%M:%S"))
    response = admin_client_.post(ADD, data)
    assert response.status_code == 302, form_errors(response)
    assert api.get("o").next_run_at == local


def test_retry_fields_become_the_retry_policy(admin_client_: Client) -> None:
    response = admin_client_.post(ADD, editor_data(job_id="r", max_attempts="3", backoff_seconds="30"))
    assert response.status_code == 302, form_errors(response)
    assert api.get("r").retry_policy == {"max_attempts": 3, "backoff_ms": 30_000}


def test_json_schedule_is_used_only_for_the_json_type(admin_client_: Client) -> None:
    data = editor_data(job_id="j", schedule_type="json", schedule='{"type": "interval", "every_ms": 1500}')
    assert admin_client_.post(ADD, data).status_code == 302
    assert api.get("j").schedule["every_ms"] == 1500
    ignored = editor_data(job_id="k", schedule="{broken")
    assert admin_client_.post(ADD, ignored).status_code == 302
    assert api.get("k").schedule["every_ms"] == 300_000


def test_one_submit_shows_every_error_on_its_field(admin_client_: Client) -> None:
    before = snapshot()
    data = editor_data(
        job_id="bad id!", every="0", target='{"type": "run", "outcome": "maybe"}', metadata="[1]", max_attempts="0"
    )
    response = admin_client_.post(ADD, data)
    assert response.status_code == 200
    assert set(form_errors(response)) == {"job_id", "every", "target", "metadata", "max_attempts"}
    assert snapshot() == before


def test_schedule_errors_land_on_the_editor_fields(admin_client_: Client) -> None:
    response = admin_client_.post(ADD, editor_data(schedule_type="cron", cron_expr="not cron"))
    assert set(form_errors(response)) == {"cron_expr"}
    response = admin_client_.post(ADD, editor_data(schedule_type="once"))
    assert set(form_errors(response)) == {"once_at"}
    response = admin_client_.post(ADD, editor_data(every=""))
    assert set(form_errors(response)) == {"every"}


def test_the_job_id_is_quoted_as_written(admin_client_: Client) -> None:
    make("ux.report-sync")
    response = admin_client_.post(ADD, editor_data(job_id="ux.report-sync"))
    message = form_errors(response)["job_id"][0]
    assert "'ux.report-sync'" in message and "Ux." not in message


def test_a_past_once_at_is_accepted_with_a_warning(admin_client_: Client) -> None:
    data = editor_data(job_id="late", schedule_type="once", once_at="2020-01-01T09:00:00")
    response = admin_client_.post(ADD, data, follow=True)
    notes = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert any(level == "warning" and "is in the past; it runs at the next run_due" in n for level, n in notes), notes
    assert api.get("late").state == "active"


def test_a_future_once_at_gives_no_warning(admin_client_: Client) -> None:
    at = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    response = admin_client_.post(ADD, editor_data(job_id="soon", schedule_type="once", once_at=at), follow=True)
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]


def test_the_target_field_shows_an_example_per_registered_type(admin_client_: Client) -> None:
    make("q", target={"type": "callable", "path": "tests.support.callables.ok"} if False else RUN)
    html = admin_client_.get(ADD).content.decode()
    assert 'data-target-type="run">' in html  # the current type is shown
    for kind in ("query", "callable", "task"):
        assert f'data-target-type="{kind}" hidden>' in html
    assert "&quot;prompt&quot;" in html  # the query example comes from its registry entry


def test_saving_an_unchanged_change_form_writes_nothing(admin_client_: Client) -> None:
    job = make("same", {"type": "interval", "every_ms": 60_000})  # start_at has microseconds
    page = admin_client_.get(f"/admin/routines/job/{job.job_id}/change/")
    form = page.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = field.widget.format_value(value) if hasattr(field.widget, "format_value") else value
    data["once_at"] = ""
    response = admin_client_.post(f"/admin/routines/job/{job.job_id}/change/", data)
    assert response.status_code == 302, form_errors(response)
    assert not Event.objects.filter(job_id="same", event_type="routine_updated").exists()
    assert api.get("same").next_run_at == job.next_run_at


def test_changing_every_keeps_start_at_and_logs_the_change(admin_client_: Client) -> None:
    start = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    make("e", {"type": "interval", "every_ms": 60_000, "start_at": start})
    local = timezone.localtime(start).strftime("%Y-%m-%dT%H:%M:%S")
    data = editor_data(every="10", start_at=local, idempotency_key="routine:e")
    response = admin_client_.post("/admin/routines/job/e/change/", data)
    assert response.status_code == 302, form_errors(response)
    job = api.get("e")
    assert job.schedule["every_ms"] == 600_000 and job.next_run_at == start
    updated = Event.objects.get(job_id="e", event_type="routine_updated")
    assert updated.payload["actor"] == "root"
    assert LogEntry.objects.filter(object_id="e", action_flag=CHANGE).count() == 1


def test_adding_logs_an_entry_and_the_actor(admin_client_: Client) -> None:
    assert admin_client_.post(ADD, editor_data(job_id="logged")).status_code == 302
    entry = LogEntry.objects.get(object_id="logged")
    assert entry.action_flag == ADDITION and entry.user.username == "root"
    assert Event.objects.get(job_id="logged", event_type="routine_created").payload["actor"] == "root"


def test_a_finished_job_is_read_only_without_save_buttons(admin_client_: Client) -> None:
    in_state("done", "completed")
    html = admin_client_.get("/admin/routines/job/done/change/").content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert 'name="schedule_type"' not in html
    before = snapshot()
    admin_client_.post("/admin/routines/job/done/change/", editor_data(every="9"))
    assert snapshot() == before
    assert Job.objects.get(job_id="done").state == "completed"


PREVIEW = "/admin/routines/job/schedule-preview/"


def test_the_preview_lists_the_next_five_instants_and_writes_nothing(admin_client_: Client) -> None:
    before = snapshot()
    data = {"schedule_type": "cron", "cron_expr": "0 9 * * 1-5", "cron_timezone": "Europe/Paris"}
    times = admin_client_.post(PREVIEW, data).json()["times"]
    assert len(times) == 5 and all("(09:00 CE" in t for t in times), times
    assert snapshot() == before


def test_the_preview_of_an_interval_starts_at_its_first_slot(admin_client_: Client) -> None:
    start = timezone.localtime(timezone.now() + timedelta(days=1)).replace(microsecond=0)
    data = {
        "schedule_type": "interval",
        "every": "2",
        "every_unit": "hours",
        "start_at": start.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    times = admin_client_.post(PREVIEW, data).json()["times"]
    assert [t.split(" (")[0] for t in times][:2] == [
        start.strftime("%d %b %Y %H:%M:%S UTC"),
        (start + timedelta(hours=2)).strftime("%d %b %Y %H:%M:%S UTC"),
    ]


def test_the_preview_explains_a_bad_schedule(admin_client_: Client) -> None:
    answer = admin_client_.post(PREVIEW, {"schedule_type": "cron", "cron_expr": "nope"}).json()
    assert "times" not in answer and answer["error"]
    assert admin_client_.get(PREVIEW).status_code == 405


@pytest.mark.parametrize("once_at", ["2031-05-04 09:30", "2031-05-04T09:30", "2031-05-04T09:30:00"])
def test_once_at_accepts_the_usual_spellings(admin_client_: Client, once_at: str) -> None:
    data = {"schedule_type": "once", "once_at": once_at, "target": '{"type": "run"}', "job_id": "o"}
    response = admin_client_.post(ADD, data)
    assert response.status_code == 302, form_errors(response)
    assert timezone.localtime(api.get("o").next_run_at).strftime("%Y-%m-%d %H:%M") == "2031-05-04 09:30"


def test_the_fewest_fields_make_an_interval_job(admin_client_: Client) -> None:
    data = {"schedule_type": "interval", "every": "5", "every_unit": "minutes", "target": '{"type": "run"}'}
    response = admin_client_.post(ADD, data)
    assert response.status_code == 302, form_errors(response)
    job = Job.objects.get()
    assert job.schedule["every_ms"] == 300_000 and job.retry_policy == {"max_attempts": 1, "backoff_ms": 0}
    assert LogEntry.objects.get(object_id=job.job_id).action_flag == ADDITION


def test_the_editor_sets_and_clears_a_concurrency_group(admin_client_: Client) -> None:
    html = admin_client_.get(ADD).content.decode()
    assert 'name="concurrency_key"' in html and 'name="concurrency_limit"' in html
    response = admin_client_.post(ADD, editor_data(job_id="grouped", concurrency_key="mail", concurrency_limit="3"))
    assert response.status_code == 302, form_errors(response)
    job = api.get("grouped")
    assert (job.concurrency_key, job.concurrency_limit) == ("mail", 3)
    data = editor_data(idempotency_key="routine:grouped", concurrency_key="", concurrency_limit="3")
    response = admin_client_.post("/admin/routines/job/grouped/change/", data)
    assert response.status_code == 302, form_errors(response)
    assert api.get("grouped").concurrency_key is None


def test_the_editor_refuses_a_limit_below_one_on_its_field(admin_client_: Client) -> None:
    response = admin_client_.post(ADD, editor_data(job_id="bad", concurrency_key="mail", concurrency_limit="0"))
    assert response.status_code == 200
    assert "concurrency_limit" in form_errors(response)
    assert not Job.objects.filter(job_id="bad").exists()
