"""Unit tests: pure modules, no database. pytest-django refuses database access to a test that
is not marked for it; here the mark is refused as well, so a test needing the database fails
loudly and belongs in tests/integration/."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/" in item.nodeid.replace("\\", "/") and item.get_closest_marker("django_db"):
            raise pytest.UsageError(f"{item.nodeid}: unit tests get no database (move it to tests/integration/)")
