"""Shared fixtures."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from django.test import Client

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def t0() -> datetime:
    """A fixed instant tests schedule around (explicit clocks keep them deterministic)."""
    return T0


@pytest.fixture
def staff_client(db: None, django_user_model: Any, client: Client) -> Client:
    """A logged-in staff user: what the REST API allows by default."""
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    return client


@pytest.fixture
def admin_client_(db: None, django_user_model: Any, client: Client) -> Client:
    """A logged-in superuser "root": the admin pages, and the actor their changes record."""
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def user_client(db: None, django_user_model: Any) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_user("user", password="pw"))
    return client


@pytest.fixture
def anon_client(db: None) -> Client:
    return Client()
