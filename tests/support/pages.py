"""Fetching admin pages in tests."""

from __future__ import annotations

from typing import Any

from django.test import Client


def page(client: Client, url: str, **params: Any) -> str:
    """The page's HTML, after checking it rendered (a 500 or a redirect to login fails here)."""
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()
