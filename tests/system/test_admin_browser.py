"""The admin in a real Chromium (Playwright) against pytest-django's live server.

Screenshots land in test-artifacts/admin/ for a human to look at. Playwright's sync API runs an
event loop in this thread, and while it runs Django's connections are keyed to that loop's
context (and the ORM refuses to run); so the test stores its data before the browser starts and
checks the database after it stops, and in between looks only at what the browser shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import User
from django.utils import timezone

from routines import api
from routines.models import Run
from tests.support.jobs import EARLY, FAIL, every, make, once

# The admin's pages and scripts in a browser; its queries are tested on every database in tests/integration.
pytestmark = [pytest.mark.browser, pytest.mark.db_independent]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@contextmanager
def browser_page(executable: str) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def arrive(page: Any, url_glob: str) -> None:
    """Wait until the page is at url_glob, or fail naming the page the browser is on instead.

    Playwright's own timeout says only what it waited for; the page it got instead (the admin
    index, where the admin sends a link to an object it cannot find) is what explains a failure.
    """
    try:
        page.wait_for_url(url_glob)
    except sync_api.TimeoutError as exc:
        raise AssertionError(f"expected {url_glob}, the browser is at {page.url}") from exc


def log_in(page: Any, base_url: str, next_path: str) -> None:
    """Log in as the superuser the tests create and land on next_path."""
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "s3cret-pw")
    page.click("input[type=submit]")
    arrive(page, f"**{next_path}")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_finds_pauses_and_inspects_a_job(live_server: Any, transactional_db: None, chromium: str) -> None:
    User.objects.create_superuser("admin", "admin@example.com", "s3cret-pw")
    now = timezone.now()
    make("billing.digest", every(300_000, start_at=now + timedelta(minutes=4)), idempotency_key="billing:digest")
    make("reports.flaky", every(60_000, start_at=EARLY, catch_up=True), FAIL, retry_policy={"max_attempts": 1})
    make("welcome.email", once(now - timedelta(minutes=3)))
    make("archive.old", once(now + timedelta(days=30)), state="paused")
    api.run_due({"now": EARLY})
    api.run_due({"now": EARLY + timedelta(minutes=1)})
    manual = api.run_now("reports.flaky")

    with browser_page(chromium) as page:
        log_in(page, live_server.url, "/admin/routines/job/")
        assert page.locator("#result_list tbody tr").count() == 4
        assert page.locator("th.column-state_badge").count() == 1
        assert "every 5 minutes" in page.inner_text("#result_list")
        shot(page, "01-job-list")

        page.click("#changelist-filter a[href*='state__exact=paused']")
        arrive(page, "**state__exact=paused**")
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 1 and "archive.old" in rows.inner_text()
        shot(page, "02-filtered-paused")

        page.goto(f"{live_server.url}/admin/routines/job/")
        row = page.locator("#result_list tbody tr", has_text="billing.digest")
        assert row.locator(".routines-badge").first.get_attribute("data-value") == "active"
        row.locator("input.action-select").check()
        page.select_option("select[name=action]", "pause")
        page.click("button[name=index]")
        page.wait_for_selector("ul.messagelist")
        assert "Paused 1 job: “billing.digest”" in page.inner_text("ul.messagelist")
        row = page.locator("#result_list tbody tr", has_text="billing.digest")
        assert row.locator(".routines-badge").first.get_attribute("data-value") == "paused"
        shot(page, "03-after-pause")

        page.click("#result_list a:text-is('reports.flaky')")
        arrive(page, "**/reports.flaky/change/")
        runs = page.locator("table.routines-runs tbody tr")
        assert runs.count() == 3
        assert manual.run_id in runs.first.inner_text()  # newest first
        assert "manual" in runs.first.inner_text()
        assert "routine_run_failed" in page.inner_text("table.routines-events")
        shot(page, "04-job-detail")

        link = runs.first.locator("a")
        assert link.get_attribute("href") == f"/admin/routines/run/{quote(manual.run_id)}/change/"
        link.click()
        arrive(page, f"**/admin/routines/run/{quote(manual.run_id)}/change/")
        assert "reports.flaky" in page.inner_text("#content")
        shot(page, "05-run-detail")

    assert api.get("billing.digest").state == "paused"
    assert Run.objects.filter(job_id="reports.flaky").count() == 3  # looking ran nothing


def test_operator_reads_and_forgets_a_thread(live_server: Any, transactional_db: None, chromium: str) -> None:
    from routines.models import Thread, ThreadMessage

    User.objects.create_superuser("admin", "admin@example.com", "s3cret-pw")
    now = timezone.now()
    thread = Thread.objects.create(
        thread_id="thread_support",
        backend="openai",
        model="gpt-test",
        system="Be brief.",
        created_at=now,
        updated_at=now,
    )
    for seq, (role, content) in enumerate([("user", "Summarise the queue"), ("assistant", "3 tickets are open.")]):
        ThreadMessage.objects.create(thread=thread, seq=seq, role=role, content=content, created_at=now)

    with browser_page(chromium) as page:
        log_in(page, live_server.url, "/admin/routines/thread/")
        row = page.locator("#result_list tbody tr", has_text="thread_support")
        assert row.locator("td.field-message_count").inner_text() == "2"
        shot(page, "06-thread-list")
        page.click("#result_list a:text-is('thread_support')")
        arrive(page, "**/admin/routines/thread/*/change/")  # the admin quotes "_" in ids
        text = page.inner_text("#content")
        assert "Be brief." in text
        assert text.index("Summarise the queue") < text.index("3 tickets are open.")
        assert page.locator("textarea").count() == 0  # nothing to edit
        shot(page, "07-thread-detail")
        page.click("a.deletelink")
        arrive(page, "**/admin/routines/thread/*/delete/")
        page.click("input[type=submit]")
        page.wait_for_selector("ul.messagelist")
        assert page.locator("#result_list").count() == 0
        shot(page, "08-thread-deleted")

    assert not Thread.objects.exists() and not ThreadMessage.objects.exists()
