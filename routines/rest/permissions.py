"""Who may use the API: ``ROUTINES["API_PERMISSION_CLASSES"]`` (staff only by default).

Read per request rather than at import, so ``override_settings`` and settings changed after the
URLconf was loaded take effect.
"""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission

from routines.conf import routines_settings


def configured_permissions() -> list[BasePermission]:
    classes: list[Any] = [
        import_string(item) if isinstance(item, str) else item for item in routines_settings.API_PERMISSION_CLASSES
    ]
    return [cls() for cls in classes]
