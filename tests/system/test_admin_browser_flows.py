"""The operator's flows in Chromium at 1400 px: create with the structured editor, run now, cancel.

Same set-up as test_admin_browser (Debian's Chromium, screenshots in test-artifacts/admin/); the
database is read only before the browser starts and after it stops.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from routines import api
from routines.models import Event, Run
from tests.support.jobs import EARLY, FAIL, every, make, once
from tests.system.test_admin_browser import CHROMIUM, arrive, browser_page, chromium, log_in, shot  # noqa: F401 (fixture)

# The chromium fixture (skips without Debian's Chromium) is shared with test_admin_browser.
pytestmark = [pytest.mark.browser, pytest.mark.db_independent, pytest.mark.usefixtures("chromium")]


def assert_no_horizontal_scroll(page: Any) -> None:
    """Neither the page nor the changelist's own scrolling box (div.results) is wider than its view."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    box = page.evaluate(
        "(() => { const r = document.querySelector('.results'); return [r.scrollWidth, r.clientWidth]; })()"
    )
    assert box[0] <= box[1], box


def admin() -> None:
    User.objects.create_superuser("admin", "admin@example.com", "s3cret-pw")


def test_operator_creates_every_weekday_at_nine_in_paris(live_server: Any, transactional_db: None) -> None:
    admin()
    with browser_page(CHROMIUM) as page:
        log_in(page, live_server.url, "/admin/routines/job/add/")
        assert page.is_visible("#id_every") and not page.is_visible("#id_cron_expr")  # interval is the default
        page.fill("#id_job_id", "reports.weekday")
        page.select_option("#id_schedule_type", "cron")
        assert page.is_visible("#id_cron_expr") and not page.is_visible("#id_every")
        assert not page.is_visible("#id_once_at")
        page.fill("#id_cron_expr", "0 9 * * 1-5")
        page.select_option("#id_cron_timezone", "Europe/Paris")
        # Paris time, next to the current zone's, for each of the next five instants.
        page.wait_for_function("document.querySelector('.routines-preview').innerText.includes('(09:00 CE')")
        assert page.inner_text(".routines-preview").count("(09:00 CE") == 5
        page.fill("#id_max_attempts", "3")
        page.fill("#id_backoff_seconds", "60")
        page.fill("#id_target", '{"type": "query"}')
        page.dispatch_event("#id_target", "input")
        assert page.is_visible(".routines-target-example[data-target-type=query]")
        assert not page.is_visible(".routines-target-example[data-target-type=run]")
        page.fill("#id_target", '{"type": "run"}')
        page.dispatch_event("#id_target", "input")
        shot(page, "10-editor-cron")
        page.click("input[name=_save]")
        arrive(page, "**/admin/routines/job/")
        assert "reports.weekday" in page.inner_text("#result_list")
        shot(page, "11-created")

    job = api.get("reports.weekday")
    assert job.schedule == {"type": "cron", "expr": "0 9 * * 1-5", "timezone": "Europe/Paris", "catch_up": False}
    assert job.retry_policy == {"max_attempts": 3, "backoff_ms": 60_000}
    assert Event.objects.get(job_id="reports.weekday", event_type="routine_created").payload["actor"] == "admin"


def test_operator_sees_every_error_at_once(live_server: Any, transactional_db: None) -> None:
    admin()
    with browser_page(CHROMIUM) as page:
        log_in(page, live_server.url, "/admin/routines/job/add/")
        page.fill("#id_job_id", "bad id!")
        page.fill("#id_every", "0")
        page.fill("#id_target", '{"type": "nope"}')
        page.click("input[name=_save]")
        page.wait_for_selector(".errornote")
        for field in ("job_id", "every", "target"):
            assert page.locator(f".field-{field} .errorlist").count() == 1, field
        shot(page, "12-every-error")


def test_operator_runs_now_then_cancels_with_confirmation(live_server: Any, transactional_db: None) -> None:
    admin()
    make("billing.digest", every(300_000, start_at=timezone.now() + timedelta(minutes=4)))
    make("reports.flaky", once(EARLY), FAIL)
    api.run_due({"now": EARLY})
    with browser_page(CHROMIUM) as page:
        log_in(page, live_server.url, "/admin/routines/job/billing.digest/change/")
        assert page.locator("button.routines-step-resume").count() == 0
        page.click("button.routines-step-run-now")
        page.wait_for_selector("ul.messagelist")
        assert "Ran now 1 job: “billing.digest”" in page.inner_text("ul.messagelist")
        assert page.locator("table.routines-runs tbody tr").count() == 1
        shot(page, "13-ran-now")

        page.click("button.routines-step-cancel")
        arrive(page, "**/billing.digest/cancel/")
        assert "final" in page.inner_text("#content")
        shot(page, "14-cancel-confirmation")
        page.click("input.routines-confirm-cancel")
        arrive(page, "**/billing.digest/change/")
        assert page.locator("input[name=_save]").count() == 0  # a cancelled job is read-only
        assert page.locator("button.routines-step-run-now").count() == 0
        shot(page, "15-cancelled")

        page.goto(f"{live_server.url}/admin/routines/run/")
        shot(page, "16-run-list")
        assert_no_horizontal_scroll(page)
        page.goto(f"{live_server.url}/admin/routines/event/")
        shot(page, "17-event-list")
        assert_no_horizontal_scroll(page)
        page.goto(f"{live_server.url}/admin/routines/job/reports.flaky/change/")
        page.locator("table.routines-runs a").first.click()
        arrive(page, "**/admin/routines/run/*/change/")
        assert "failed" in page.inner_text("#content")
        shot(page, "18-run-page")

    assert api.get("billing.digest").state == "cancelled"
    assert Run.objects.filter(job_id="billing.digest", manual=True).count() == 1
    actors = {e.event_type: e.payload.get("actor") for e in Event.objects.filter(job_id="billing.digest")}
    assert actors["routine_cancelled"] == "admin" and actors["routine_run_completed"] == "admin"
