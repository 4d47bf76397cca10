"""Who may call and how a refusal reads: the same for every routines view, the schema's too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from .exceptions import exception_handler
from .permissions import configured_permissions


class RoutinesAccess:
    """Mixed into every view, so a project needs no ``REST_FRAMEWORK`` setting for any of this."""

    def get_permissions(self) -> list[BasePermission]:
        return configured_permissions()

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return exception_handler

    def get_authenticate_header(self, request: Request) -> str:
        return ""  # no challenge: a missing login is 403 not_authenticated, not a 401
