"""A browser gets DRF's browsable pages and the offline Swagger page; JSON clients are unaffected."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from routines import api

BASE = "/api/routines/"
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ONCE = {"type": "once", "at": "2026-01-01T12:00:00Z"}

pytestmark = pytest.mark.django_db

GETS = ["", "jobs/", "jobs/j/", "jobs/due/", "jobs/next-due/", "jobs/j/runs/", "runs/", "runs/{run}/", "events/"]
POSTS = ["jobs/", "jobs/j/pause/", "jobs/j/resume/", "jobs/j/run-now/", "jobs/j/cancel/", "run-due/"]


@pytest.fixture
def run_id() -> str:
    api.create({"job_id": "j", "schedule": ONCE, "target": {"type": "run"}})
    return api.run_now("j").run_id


def html(response: Any, status: int) -> str:
    assert response.status_code == status, response.content[:2000]
    assert response["Content-Type"].startswith("text/html")
    return str(response.content.decode())


@pytest.mark.parametrize("path", GETS)
def test_a_browser_gets_the_browsable_page(staff_client: Client, run_id: str, path: str) -> None:
    page = html(staff_client.get(BASE + path.format(run=run_id), **HTML), 200)
    assert "Django REST framework" in page
    json_again = staff_client.get(BASE + path.format(run=run_id))
    assert json_again["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", POSTS)
def test_a_form_less_post_from_a_browser_renders(staff_client: Client, run_id: str, path: str) -> None:
    response = staff_client.post(BASE + path, **HTML)
    assert response.status_code < 500
    assert response["Content-Type"].startswith("text/html")


def test_errors_stay_json_for_json_clients(staff_client: Client, run_id: str) -> None:
    r = staff_client.post(BASE + "jobs/", "{", content_type="application/json")
    assert (r.status_code, r["Content-Type"], r.json()["error"]) == (400, "application/json", "parse_error")
    r = staff_client.get(BASE + "jobs/nope/")
    assert set(r.json()) == {"error", "detail", "field"}


def test_a_browser_sees_errors_as_a_page(staff_client: Client) -> None:
    page = html(staff_client.get(BASE + "jobs/nope/", **HTML), 404)
    assert "not_found" in page


def test_anonymous_browser_gets_403_not_a_500(client: Client) -> None:
    assert client.get(BASE + "jobs/", **HTML).status_code == 403


# Swagger UI ------------------------------------------------------------------------------------


def asset_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


def test_swagger_page_serves_its_assets_from_static_files(staff_client: Client) -> None:
    page = html(staff_client.get(BASE + "schema/swagger-ui/"), 200)
    urls = asset_urls(page)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls)
    assert any(u.endswith("swagger-ui.css") for u in urls)
    for url in urls:
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), url
    assert 'data-schema-url="/api/routines/schema/?format=json"' in page


def test_swagger_page_names_no_outside_host(staff_client: Client) -> None:
    page = html(staff_client.get(BASE + "schema/swagger-ui/"), 200)
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page), page
    for name in ("cdn", "jsdelivr", "unpkg", "cdnjs"):
        assert name not in page


def test_swagger_script_reads_the_schema_url_from_the_page() -> None:
    path = finders.find("routines/swagger-ui.js")
    assert path
    with open(str(path), encoding="utf-8") as f:
        script = f.read()
    assert "data-schema-url" in script and "http" not in script


def test_swagger_page_is_behind_the_api_permissions(client: Client) -> None:
    r = client.get(BASE + "schema/swagger-ui/")
    assert (r.status_code, r["Content-Type"], r.json()["error"]) == (403, "application/json", "not_authenticated")
