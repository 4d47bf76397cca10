"""API_PERMISSION_CLASSES: read per request, dotted paths or classes."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated

from routines.rest.permissions import configured_permissions


def test_default_is_staff_only(settings: Any) -> None:
    settings.ROUTINES = {}
    assert [type(p) for p in configured_permissions()] == [IsAdminUser]


def test_setting_replaces_them_at_call_time(settings: Any) -> None:
    settings.ROUTINES = {"API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", AllowAny]}
    assert [type(p) for p in configured_permissions()] == [IsAuthenticated, AllowAny]
    settings.ROUTINES = {"API_PERMISSION_CLASSES": []}
    assert configured_permissions() == []
